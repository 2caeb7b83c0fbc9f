package onnx_test

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"testing"

	exponnx "github.com/retarget-dev/retarget/exporters/onnx"
	"github.com/retarget-dev/retarget/internal/numtest"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// TestTensorShapeOpsORT exports graphs of the general shape ops whose
// emitters take the less direct forms (the batch read at run time for a
// Reshape whose -1 is taken and for an Expand that creates the batch axis,
// an index matrix for Gather, negative Slice steps) and checks ONNX Runtime
// against the engine at the lowest and the default opset, on a batch of 3.
func TestTensorShapeOpsORT(t *testing.T) {
	v := func(name string, l ir.Layer, in ...string) *ir.Vertex {
		return &ir.Vertex{Name: name, Layer: l, Inputs: in}
	}
	cases := []struct {
		name  string
		in    []int // x's shape without the batch (-1: any size)
		run   []int // the runtime shape fed
		verts []*ir.Vertex
	}{
		{"reshape_batch_read_at_run_time", []int{-1, 2}, []int{3, 4, 2}, []*ir.Vertex{
			v("t", &ir.TensorTranspose{Perm: []int{1, 2, 0}}, "x"), v("k", &ir.TensorReshape{Shape: []int{-1, ir.Batch}}, "t")}},
		{"reshape_batch_copied", []int{-1, 2}, []int{3, 4, 2}, []*ir.Vertex{
			v("k", &ir.TensorReshape{Shape: []int{ir.Batch, -1}}, "x")}},
		{"expand_creates_the_batch", []int{4}, []int{3, 4}, []*ir.Vertex{
			v("g", &ir.TensorGather{Axis: 0, Indices: []int{0}, IndexShape: []int{1}}, "x"),
			v("k", &ir.TensorExpand{Shape: []int{2, ir.Batch, 4}}, "g")}},
		{"gather_index_matrix", []int{5}, []int{3, 5}, []*ir.Vertex{
			v("k", &ir.TensorGather{Axis: -1, Indices: []int{4, -1, 0, 2, 2, 1}, IndexShape: []int{2, 3}}, "x")}},
		{"slice_steps_and_tile", []int{6, 2}, []int{3, 6, 2}, []*ir.Vertex{
			v("s", &ir.TensorSlice{Axes: []int{1, 0}, Starts: []int{-1, 2}, Ends: []int{-100, 0}, Steps: []int{-2, -1}}, "x"),
			v("k", &ir.TensorTile{Repeats: []int{2, 1, 3}}, "s")}},
		{"concat_off_the_batch", []int{2, 3}, []int{3, 2, 3}, []*ir.Vertex{
			v("t", &ir.TensorTranspose{Perm: []int{1, 0, 2}}, "x"),
			v("k", &ir.TensorConcat{Axis: -1}, "t", "t")}},
	}
	dir := t.TempDir()
	var jobs []*ortJob
	var wants []*nn.Mat[float32]
	rng := rand.New(rand.NewSource(4))
	for _, c := range cases {
		g := &ir.Graph{Name: c.name, Inputs: []ir.Input{{Name: "x", Shape: c.in}}, Vertices: c.verts,
			Outputs: []ir.GraphOutput{{Name: "y", Vertex: "k"}}}
		x := nn.RandTensor(rng, -1, 1, c.run...)
		net, err := nn.Compile(g)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		outs, err := net.Forward([]*nn.Mat[float32]{nn.MatFromTensor[float32](x)}, false)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		want := &nn.Mat[float32]{Shape: append([]int(nil), outs[0].Shape...), Data: append([]float32(nil), outs[0].Data...)}
		xa := array{Name: "x", Shape: x.Shape}
		for _, d := range x.Data {
			xa.Data = append(xa.Data, float64(d))
		}
		for _, opset := range []int{exponnx.MinOpset, exponnx.DefaultOpset} {
			p := filepath.Join(dir, fmt.Sprintf("%s_op%d.onnx", c.name, opset))
			if err := exponnx.Export(p, g, exponnx.Options{Opset: opset}); err != nil {
				t.Fatalf("%s opset %d: %v", c.name, opset, err)
			}
			jobs = append(jobs, &ortJob{Model: p, arrays: []array{xa}})
			wants = append(wants, want)
		}
	}
	res := ortBatch(t, dir, jobs)
	for k, r := range res {
		if len(r) == 0 {
			continue
		}
		got := make([]float32, len(r[0].Data))
		for i, d := range r[0].Data {
			got[i] = float32(d)
		}
		if w := wants[k]; !ir.SameShape(r[0].Shape, w.Shape) || numtest.MaxAbsDiff(got, w.Data) > 1e-6 {
			t.Errorf("%s: ONNX Runtime gives %v %v, the engine %v %v", filepath.Base(jobs[k].Model), r[0].Shape, got, w.Shape, w.Data)
		}
	}
	var paths []string
	for _, j := range jobs {
		paths = append(paths, j.Model)
	}
	checkModels(t, paths)
}
