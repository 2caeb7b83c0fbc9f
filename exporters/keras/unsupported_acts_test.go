package keras_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	kexp "github.com/retarget-dev/retarget/exporters/keras"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// Keras 2's 'gelu' is the exact erf form and it has no Mish, so tanh GELU
// and Mish, standalone or fused into a Dense, are refused by name.
func TestGELUTanhMishRefused(t *testing.T) {
	for _, k := range []ir.ActKind{ir.ActGELUTanh, ir.ActMish} {
		for _, l := range []ir.Layer{&ir.ActivationLayer{Activation: ir.Act(k)}, &ir.Dense{Units: 3, Activation: ir.Act(k)}} {
			g := &ir.Graph{Inputs: []ir.Input{{Name: "x", Shape: []int{4}}},
				Vertices: []*ir.Vertex{{Name: "v", Layer: l, Inputs: []string{"x"}}},
				Outputs:  []ir.GraphOutput{{Name: "y", Vertex: "v"}}}
			if err := nn.InitGraph(g, ir.InitXavierUniform, 1); err != nil {
				t.Fatal(err)
			}
			err := kexp.Export(filepath.Join(t.TempDir(), "m.h5"), g)
			var ue *kexp.UnsupportedError
			if !errors.As(err, &ue) || len(ue.Vertices) != 1 || !strings.Contains(ue.Vertices[0], string(k)) {
				t.Errorf("%s in %s: %v, want an UnsupportedError naming the vertex and %s", k, l.Kind(), err, k)
			}
		}
	}
}
