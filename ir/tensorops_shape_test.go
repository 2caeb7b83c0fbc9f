package ir

import (
	"strings"
	"testing"
)

func TestTensorShapeOpsOutputShape(t *testing.T) {
	B := Batch
	for _, c := range []struct {
		l    Layer
		in   [][]int
		want []int
		err  string
	}{
		{&TensorReshape{Shape: []int{B, 3, -1}}, [][]int{{B, 12}}, []int{B, 3, 4}, ""},
		{&TensorReshape{Shape: []int{2, 3, -1}}, [][]int{{6, B}}, []int{2, 3, B}, ""},       // the -1 is the batch
		{&TensorReshape{Shape: []int{-1, 3}}, [][]int{{B, 2, 3}}, []int{-1, 3}, ""},         // merged: unknown
		{&TensorReshape{Shape: []int{B, 2, 3}}, [][]int{{-1, 3}}, []int{B, 2, 3}, ""},       // and back out
		{&TensorReshape{Shape: []int{2, B, 3}}, [][]int{{B, 2, 3}}, nil, "moves the batch"}, // examples would mix
		{&TensorReshape{Shape: []int{6}}, [][]int{{B, 6}}, nil, "fixes the batch size"},
		{&TensorReshape{Shape: []int{B, 4}}, [][]int{{2, 3}}, nil, "has none"},
		{&TensorReshape{Shape: []int{-1, -1}}, [][]int{{B, 4}}, nil, "sizes are positive"},
		{&TensorSlice{Axes: []int{0}, Starts: []int{0}, Ends: []int{1 << 40}}, [][]int{{B, 3}}, []int{B, 3}, ""},
		{&TensorSlice{Axes: []int{0}, Starts: []int{1}, Ends: []int{3}}, [][]int{{B, 3}}, []int{2, 3}, ""},
		{&TensorSlice{Axes: []int{0}, Starts: []int{-2}, Ends: []int{1 << 40}}, [][]int{{B, 3}}, []int{2, 3}, ""},
		{&TensorSlice{Axes: []int{0}, Starts: []int{1}, Ends: []int{1 << 40}}, [][]int{{B, 3}}, []int{-1, 3}, ""}, // B-1
		{&TensorSlice{Axes: []int{-1}, Starts: []int{4}, Ends: []int{0}, Steps: []int{-2}}, [][]int{{B, 6}}, []int{B, 2}, ""},
		{&TensorSlice{Axes: []int{1}, Starts: []int{3}, Ends: []int{3}}, [][]int{{B, 6}}, nil, "empty"},
		{&TensorSlice{Axes: []int{1}, Starts: []int{0}, Ends: []int{1}, Steps: []int{0}}, [][]int{{B, 6}}, nil, "step 0"},
		{&TensorConcat{Axis: 1}, [][]int{{B, 2}, {B, 3}}, []int{B, 5}, ""},
		{&TensorConcat{Axis: 0}, [][]int{{2, 4}, {3, 4}}, []int{5, 4}, ""},
		{&TensorConcat{Axis: 0}, [][]int{{B, 4}, {B, 4}}, nil, "along the batch axis"},
		{&TensorConcat{Axis: 1}, [][]int{{B, 2}, {3, 2}}, nil, "other axes differ"},
		{&TensorGather{Axis: 0, Indices: []int{-1}}, [][]int{{B, 4}}, []int{4}, ""},
		{&TensorGather{Axis: 1, Indices: []int{0, 1, 2, 3}, IndexShape: []int{2, 2}}, [][]int{{B, 4, 5}}, []int{B, 2, 2, 5}, ""},
		{&TensorGather{Axis: 1, Indices: []int{4}}, [][]int{{B, 4}}, nil, "out of range"},
		{&TensorGather{Axis: 1, Indices: []int{0, 1}, IndexShape: []int{3}}, [][]int{{B, 4}}, nil, "2 indices"},
		{&TensorExpand{Shape: []int{B, 2, 1}}, [][]int{{1, 3}}, []int{B, 2, 3}, ""},
		{&TensorExpand{Shape: []int{3, 1, 1}}, [][]int{{B, 4}}, []int{3, B, 4}, ""},
		{&TensorExpand{Shape: []int{B, 1}}, [][]int{{B, 1}}, []int{B, 1}, ""},
		{&TensorExpand{Shape: []int{2, 3}}, [][]int{{B, 4}}, nil, "do not broadcast"},
		{&TensorExpand{Shape: []int{B, B}}, [][]int{{1, 1}}, nil, "batch twice"},
		{&TensorTile{Repeats: []int{1, 2}}, [][]int{{B, 3}}, []int{B, 6}, ""},
		{&TensorTile{Repeats: []int{2, 1}}, [][]int{{B, 3}}, nil, "batch size would change"},
		{&TensorTile{Repeats: []int{1}}, [][]int{{B, 3}}, nil, "1 repeats"},
	} {
		got, err := c.l.OutputShape(c.in)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s %+v of %v: %v, want an error saying %q", c.l.Kind(), c.l, c.in, err, c.err)
		case c.err == "" && (err != nil || !SameShape(got, c.want)):
			t.Errorf("%s %+v of %v: %v %v, want %v", c.l.Kind(), c.l, c.in, FormatShape(got), err, FormatShape(c.want))
		}
	}
}

func TestMixesExamples(t *testing.T) {
	g := &Graph{Inputs: []Input{{Name: "x", Shape: []int{3}}}, Vertices: []*Vertex{
		{Name: "t", Layer: &TensorTranspose{Perm: []int{1, 0}}, Inputs: []string{"x"}},
		{Name: "r", Layer: &TensorReshape{Shape: []int{Batch, 3, 1}}, Inputs: []string{"x"}}}}
	full, err := g.FullShapes()
	if err != nil {
		t.Fatal(err)
	}
	if g.MixesExamples(full) {
		t.Error("a transpose and a reshape keeping the batch mix no examples")
	}
	g.Vertices = append(g.Vertices, &Vertex{Name: "s", Layer: &TensorSlice{Axes: []int{1}, Starts: []int{0}, Ends: []int{2}}, Inputs: []string{"t"}})
	if full, _ = g.FullShapes(); !g.MixesExamples(full) {
		t.Error("a slice of the batch axis mixes examples")
	}
}
