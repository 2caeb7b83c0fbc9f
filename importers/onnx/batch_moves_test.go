package onnx

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/retarget-dev/retarget/exporters/native"
	exponnx "github.com/retarget-dev/retarget/exporters/onnx"
	"github.com/retarget-dev/retarget/internal/numtest"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

const batchMovesFile = "../../testdata/onnx/batch_moves_op13.onnx"

// TestBatchMovesMatchTorchAndORT imports a PyTorch export whose graph
// contracts, slices, splits, gathers, concatenates, tiles and merges the batch axis
// (testdata/gen/onnx_batch_moves_fixture.py): it needs the general tensor ops. The
// engine matches PyTorch, and ONNX Runtime on the same file and on our
// export of it; the export and .rtm read back the same graph.
func TestBatchMovesMatchTorchAndORT(t *testing.T) {
	fx := loadFixture(t, batchMovesFile)
	g, err := Import(batchMovesFile, Options{KeepDense: true})
	if err != nil {
		t.Fatal(err)
	}
	if in := g.Input("y"); in == nil || !in.NoBatch || !ir.SameShape(in.Shape, []int{4, 3}) {
		t.Fatalf("input y: %+v, want a batch-free [4 3]", in)
	}
	full, err := g.FullShapes()
	if err != nil {
		t.Fatal(err)
	}
	wantFull := map[string][]int{"gram": {4, 4}, "mm": {ir.Batch, 3}, "proj": {ir.Batch, 4}, "head": {2, 4},
		"last": {4}, "ends": {2, 4}, "rep": {2, ir.Batch, 4}, "pairs": {-1, 2}, "flat": {-1}, "first2": {2, 4}, "rest3": {3, 4}}
	for _, o := range g.Outputs {
		if w := wantFull[o.Name]; !ir.SameShape(full[o.Vertex], w) {
			t.Errorf("output %s has shape %s, want %s", o.Name, ir.FormatShape(full[o.Vertex]), ir.FormatShape(w))
		}
	}
	check := func(what string, h *ir.Graph, tol float64) {
		t.Helper()
		outs, _, err := predict(h, fx.Inputs)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for k, w := range fx.Outputs {
			d, err := maxAbsDiff(outs[k], w)
			if err != nil || d > tol {
				t.Errorf("%s: output %s differs from PyTorch by %g (%v)", what, w.Name, d, err)
			}
		}
	}
	check("import", g, 1e-4)

	// Predict (batches of 2 asked for) runs the whole batch in one pass:
	// gram and proj depend on every example
	net, err := nn.CompileWith[float32](g, nn.Options{BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	var ins []*ir.Tensor
	for _, in := range fx.Inputs {
		ins = append(ins, tensorFromFixture(in))
	}
	pouts, err := net.Predict(ins...)
	if err != nil {
		t.Fatal(err)
	}
	if d := numtest.MaxAbsDiff(pouts[2].Data, fx.Outputs[2].Data); d > 1e-4 {
		t.Errorf("Predict: proj differs from PyTorch by %g", d)
	}

	var buf bytes.Buffer
	if err := native.ExportTo(&buf, g); err != nil {
		t.Fatal(err)
	}
	back, err := native.ImportFrom(&buf)
	if err != nil {
		t.Fatal(err)
	}
	check(".rtm", back, 1e-4)

	dir := t.TempDir()
	ours := filepath.Join(dir, "ours.onnx")
	if err := exponnx.Export(ours, g, exponnx.Options{}); err != nil {
		t.Fatal(err)
	}
	again, err := Import(ours, Options{KeepDense: true})
	if err != nil {
		t.Fatal(err)
	}
	check("our ONNX export", again, 1e-4)
	if a, b := kindCounts(g), kindCounts(again); !sameCounts(a, b) {
		t.Errorf("kinds %v came back as %v", a, b)
	}

	for _, model := range []string{batchMovesFile, ours} {
		res := ortRun(t, model, fx.Inputs)
		if len(res) != len(fx.Outputs) {
			t.Fatalf("onnxruntime on %s: %d outputs, want %d", model, len(res), len(fx.Outputs))
		}
		outs, _, err := predict(g, fx.Inputs)
		if err != nil {
			t.Fatal(err)
		}
		for k, o := range res {
			d, err := maxAbsDiff(outs[k], o)
			if err != nil || d > 1e-4 {
				t.Errorf("onnxruntime on %s: output %s differs from the engine by %g (%v)", filepath.Base(model), o.Name, d, err)
			}
		}
	}
}

func tensorFromFixture(a fixtureArray) *ir.Tensor {
	t := ir.NewTensor(a.Shape...)
	for i, v := range a.Data {
		t.Data[i] = float32(v)
	}
	return t
}

// kindCounts counts the general tensor ops of g by kind (the layer
// vertices may come back as equivalent kinds: a Tile of [N, 1, F] as a
// RepeatVector).
func kindCounts(g *ir.Graph) map[string]int {
	m := map[string]int{}
	for _, v := range g.Vertices {
		if ir.IsTensorOp(v.Layer) {
			m[v.Layer.Kind()]++
		}
	}
	return m
}

func sameCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, n := range a {
		if b[k] != n {
			return false
		}
	}
	return true
}
