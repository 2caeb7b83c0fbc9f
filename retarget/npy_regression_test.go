package retarget

import (
	"path/filepath"
	"testing"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
	"github.com/retarget-dev/retarget/npy"
)

// Regression targets of shape [N, 1] are values, not class numbers.
func TestNPYRegressionTargetColumn(t *testing.T) {
	g := &ir.Graph{Inputs: []ir.Input{{Name: "x", Shape: []int{2}}},
		Vertices: []*ir.Vertex{{Name: "o", Layer: &ir.Output{Units: 1, Activation: ir.Act(ir.ActIdentity), Loss: ir.LossMSE}, Inputs: []string{"x"}}},
		Outputs:  []ir.GraphOutput{{Name: "o", Vertex: "o"}}}
	nn.InitGraph(g, ir.InitXavierUniform, 1)
	d := t.TempDir()
	npy.WriteFile(filepath.Join(d, "x.npy"), []int{4, 2}, []float32{1, 2, 3, 4, 5, 6, 7, 8})
	npy.WriteFile(filepath.Join(d, "y.npy"), []int{4, 1}, []float32{0.5, 1.5, 2.25, 3.1})
	_, err := OpenData(DataSpec{Type: "npy", Features: filepath.Join(d, "x.npy"), Labels: filepath.Join(d, "y.npy")}, g, DataOptions{})
	if err != nil {
		t.Fatal(err)
	}
}
