package onnx_test

import (
	"path/filepath"
	"testing"

	exponnx "github.com/retarget-dev/retarget/exporters/onnx"
	"github.com/retarget-dev/retarget/internal/numtest"
	"github.com/retarget-dev/retarget/ir"
)

// A graph holding a value per sample of a fixed batch (imported from a
// fixed-batch ONNX model) exports with that batch fixed, and ONNX Runtime
// computes what the engine does.
func TestExportPerSampleConstant(t *testing.T) {
	g := &ir.Graph{Inputs: []ir.Input{{Name: "x", Shape: []int{3}}},
		Vertices: []*ir.Vertex{
			{Name: "k", Layer: &ir.Constant{Shape: []int{3}, Batch: 2},
				Params: map[string]*ir.Tensor{"value": ir.FromData([]float32{1, 2, 3, 4, 5, 6}, 2, 3)}},
			vx("sum", &ir.Merge{Op: ir.MergeAdd}, "x", "k"),
			vx("act", &ir.ActivationLayer{Activation: ir.Act(ir.ActTanh)}, "sum"),
		},
		Outputs: []ir.GraphOutput{{Name: "y", Vertex: "act"}}}
	x := ir.FromData([]float32{0.1, -0.2, 0.3, 0.4, -0.5, 0.6}, 2, 3)
	want := predictSource(t, g, []*ir.Tensor{x})
	path := filepath.Join(t.TempDir(), "fixed.onnx")
	if err := exponnx.Export(path, g, exponnx.Options{}); err != nil {
		t.Fatal(err)
	}
	if testing.Short() {
		t.Skip("runs ONNX Runtime and python; not in -short")
	}
	checkModels(t, []string{path})
	got := ortBatch(t, filepath.Dir(path), []*ortJob{{Model: path, arrays: []array{toArray("x", x)}}})
	if d := numtest.MaxAbsDiff(got[0][0].Data, want[0].Data); d > 1e-6 {
		t.Errorf("ONNX Runtime differs from nn by %g", d)
	}
}
