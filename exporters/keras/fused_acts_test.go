package keras_test

import (
	"errors"
	"math/rand"
	"path/filepath"
	"testing"

	kexp "github.com/retarget-dev/retarget/exporters/keras"
	kimp "github.com/retarget-dev/retarget/importers/keras"
	"github.com/retarget-dev/retarget/importers/onnx"
	"github.com/retarget-dev/retarget/internal/numtest"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// The GELU and SiLU subgraphs of a PyTorch export fuse on ONNX import
// into Activation vertices, which Keras writes as 'gelu' and 'swish'.
// Hard swish has no Keras 2 name and is listed as unsupported.
func TestFusedActivationsToKeras(t *testing.T) {
	g, err := onnx.Import(filepath.Join("..", "..", "testdata", "onnx", "fused_acts_op17.onnx"), onnx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	keep := map[string]bool{"/fc/Gemm": true, "/gelu/Mul_1": true, "/silu/Mul": true}
	var vs []*ir.Vertex
	for _, v := range g.Vertices {
		if keep[v.Name] {
			if v.Name != "/fc/Gemm" {
				v.Inputs = []string{"/fc/Gemm"} // skip the ·3 Constant merge, which Keras lacks
			}
			vs = append(vs, v)
		}
	}
	g.Vertices = vs
	g.Outputs = []ir.GraphOutput{{Name: "gelu", Vertex: "/gelu/Mul_1"}, {Name: "silu", Vertex: "/silu/Mul"}}
	out := filepath.Join(t.TempDir(), "acts.h5")
	if err := kexp.Export(out, g); err != nil {
		t.Fatal(err)
	}
	back, err := kimp.Import(out, kimp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, kind := range map[string]ir.ActKind{"/gelu/Mul_1": ir.ActGELU, "/silu/Mul": ir.ActSwish} {
		v := back.Vertex(kexp.LayerName(name))
		if v == nil {
			t.Fatalf("no Keras layer for %q", name)
		}
		if a, ok := v.Layer.(*ir.ActivationLayer); !ok || a.Activation.Kind != kind {
			t.Errorf("%q came back as %s %+v, want Activation %s", name, v.Layer.Kind(), v.Layer, kind)
		}
	}
	x := ir.NewTensor(5, 6)
	r := rand.New(rand.NewSource(2))
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	run := func(g *ir.Graph) []*ir.Tensor {
		net, err := nn.Compile(g)
		if err != nil {
			t.Fatal(err)
		}
		ys, err := net.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		return ys
	}
	want, got := run(g), run(back)
	for k := range want {
		if d := numtest.MaxAbsDiff(want[k].Data, got[k].Data); d > 1e-6 {
			t.Errorf("output %d differs by %g after the Keras round trip", k, d)
		}
	}

	hs := &ir.Graph{Inputs: []ir.Input{{Name: "x", Shape: []int{4}}},
		Vertices: []*ir.Vertex{{Name: "hswish", Layer: &ir.ActivationLayer{Activation: ir.Act(ir.ActHardSwish)}, Inputs: []string{"x"}}},
		Outputs:  []ir.GraphOutput{{Name: "y", Vertex: "hswish"}}}
	var ue *kexp.UnsupportedError
	if err := kexp.Export(filepath.Join(t.TempDir(), "hs.h5"), hs); !errors.As(err, &ue) || len(ue.Vertices) != 1 {
		t.Errorf("hard swish export: %v, want an UnsupportedError naming it", err)
	}
}
