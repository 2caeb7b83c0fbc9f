package onnx_test

import (
	"fmt"
	"path/filepath"
	"testing"

	exponnx "github.com/retarget-dev/retarget/exporters/onnx"
	imponnx "github.com/retarget-dev/retarget/importers/onnx"
	"github.com/retarget-dev/retarget/ir"
)

func lnGraph() *ir.Graph {
	return &ir.Graph{Inputs: []ir.Input{{Name: "seq", Shape: []int{5, 4}}},
		Vertices: []*ir.Vertex{
			vx("ln_last", &ir.LayerNorm{Epsilon: 1e-5, Axis: -1}, "seq"),
			vx("act", &ir.ActivationLayer{Activation: ir.Act(ir.ActTanh)}, "ln_last"),
			vx("ln_two", &ir.LayerNorm{Epsilon: 1e-3, Axis: 0}, "act"),
			vx("flat", &ir.Flatten{}, "ln_two"),
			vx("out", &ir.Output{Units: 3, Activation: ir.Activation{Kind: ir.ActSoftmax, Axis: -1}, Loss: ir.LossMCXENT}, "flat"),
		},
		Outputs: []ir.GraphOutput{{Name: "probs", Vertex: "out"}}}
}

func trainableCount(t *testing.T, g *ir.Graph) int {
	t.Helper()
	shapes, err := g.Shapes()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range g.Vertices {
		for _, s := range v.Layer.Params(v.InputShapes(shapes)) {
			if p := v.Params[s.Name]; s.Trainable && p != nil {
				n += p.Len()
			}
		}
	}
	return n
}

// A LayerNorm exported at any opset (LayerNormalization from 17, its
// ReduceMean/Sub/Mul/.../Add decomposition below) comes back as one
// trainable LayerNorm of the same name, frozen flag and parameters, and
// predicts what the source graph predicts to 1e-5.
func TestLayerNormExportReimport(t *testing.T) {
	g := lnGraph()
	fillParams(t, g, 3)
	g.Vertex("ln_two").Frozen = true
	ins := randInputs(g, 4)
	want, _ := nnPredict(t, g, ins)
	dir := t.TempDir()
	for _, opset := range []int{11, 13, 17, 21} {
		t.Run(fmt.Sprintf("opset%d", opset), func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("ln_op%d.onnx", opset))
			if err := exponnx.Export(path, g, exponnx.Options{Opset: opset}); err != nil {
				t.Fatal(err)
			}
			g2, err := imponnx.Import(path, imponnx.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var kinds, kinds2 []string
			for _, v := range g.Vertices {
				kinds = append(kinds, v.Name+":"+v.Layer.Kind())
			}
			for _, v := range g2.Vertices {
				kinds2 = append(kinds2, v.Name+":"+v.Layer.Kind())
			}
			if fmt.Sprint(kinds) != fmt.Sprint(kinds2) {
				t.Fatalf("re-imported vertices %v, want %v", kinds2, kinds)
			}
			for _, name := range []string{"ln_last", "ln_two"} {
				a, b := g.Vertex(name), g2.Vertex(name)
				la, lb := a.Layer.(*ir.LayerNorm), b.Layer.(*ir.LayerNorm)
				if la.Epsilon != lb.Epsilon || la.NoScale != lb.NoScale || la.NoCenter != lb.NoCenter {
					t.Errorf("%s: %+v, want %+v", name, lb, la)
				}
				if a.Frozen != b.Frozen {
					t.Errorf("%s: frozen %v, want %v", name, b.Frozen, a.Frozen)
				}
			}
			if n, m := trainableCount(t, g2), trainableCount(t, g); n != m {
				t.Errorf("%d trainable parameters, want %d", n, m)
			}
			got, _ := nnPredict(t, g2, ins)
			t.Logf("max abs diff %.3g", compare(t, "re-import", got, want, 1e-5))
		})
	}
}
