package onnx_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/retarget-dev/retarget/internal/onnxpb"
	"google.golang.org/protobuf/proto"

	exponnx "github.com/retarget-dev/retarget/exporters/onnx"
	imponnx "github.com/retarget-dev/retarget/importers/onnx"
	"github.com/retarget-dev/retarget/ir"
)

// Each opset writes GELU, tanh GELU, Mish, swish and hard swish as an op
// or element-wise, and the importer reads every form back as the same
// Activation vertices, with no Tanh, Erf or Softplus pieces left.
func TestActivationFormsRoundTrip(t *testing.T) {
	g := irGraphs()["acts"]
	fillParams(t, g, 7)
	count := func(g *ir.Graph) map[ir.ActKind]int {
		n := map[ir.ActKind]int{}
		for _, v := range g.Vertices {
			switch l := v.Layer.(type) {
			case *ir.ActivationLayer:
				n[l.Activation.Kind]++
			case *ir.Dense:
				n[l.Activation.Kind]++
			case *ir.Unary:
				n[ir.ActKind("unary "+l.Op)]++
			}
		}
		return n
	}
	want := count(g)
	for _, tc := range []struct {
		opset int
		ops   []string // op types the export must (+) or must not (-) hold
	}{
		{11, []string{"-Gelu", "-Mish", "-HardSwish", "+Erf", "+Softplus"}},
		{17, []string{"-Gelu", "-Mish", "+HardSwish"}},
		{18, []string{"-Gelu", "+Mish", "+Tanh"}},
		{20, []string{"+Gelu", "+Mish", "-Tanh", "-Erf", "-Softplus"}},
	} {
		t.Run(fmt.Sprint("opset", tc.opset), func(t *testing.T) {
			var buf bytes.Buffer
			if err := exponnx.ExportTo(&buf, g, exponnx.Options{Opset: tc.opset}); err != nil {
				t.Fatal(err)
			}
			m := &onnxpb.ModelProto{}
			if err := proto.Unmarshal(buf.Bytes(), m); err != nil {
				t.Fatal(err)
			}
			has := map[string]bool{}
			for _, n := range m.Graph.Node {
				has[n.GetOpType()] = true
			}
			for _, o := range tc.ops {
				if has[o[1:]] != (o[0] == '+') {
					t.Errorf("op %s: present %v", o[1:], has[o[1:]])
				}
			}
			back, err := imponnx.ImportFrom(bytes.NewReader(buf.Bytes()), imponnx.Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := count(back)
			for k, n := range want {
				if got[k] != n {
					t.Errorf("%d %s after the round trip, want %d (all: %v)", got[k], k, n, got)
				}
			}
			for k, n := range got {
				if want[k] == 0 && n > 0 && k != ir.ActIdentity && k != "" {
					t.Errorf("%d %s vertices left after the round trip: %v", n, k, got)
				}
			}
		})
	}
}
