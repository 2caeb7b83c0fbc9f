package nn

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// tensorProgram is a graph of general tensor ops for gradient checks:
// inputs (batched or not, by their ir.Input) feed the vertices, the last
// vertex is the output.
func tensorProgram(name string, inputs []ir.Input, vs ...*ir.Vertex) *ir.Graph {
	return &ir.Graph{Name: name, Inputs: inputs, Vertices: vs,
		Outputs: []ir.GraphOutput{{Name: "y", Vertex: vs[len(vs)-1].Name}}}
}

// checkTensorProgram gradient-checks g on random inputs of the given
// runtime shapes (batch included where the input has one).
func checkTensorProgram(t *testing.T, g *ir.Graph, shapes ...[]int) {
	t.Helper()
	rng := rand.New(rand.NewSource(int64(len(g.Name))))
	xs := make([]*ir.Tensor, len(shapes))
	for i, s := range shapes {
		xs[i] = RandTensor(rng, -1, 1, s...)
	}
	GradCheck(t, g, xs, nil)
}

func TestGradTensorMatMul(t *testing.T) {
	batched := func(name string, shape ...int) ir.Input { return ir.Input{Name: name, Shape: shape} }
	free := func(name string, shape ...int) ir.Input { return ir.Input{Name: name, Shape: shape, NoBatch: true} }
	mm := func(a, b string) *ir.Vertex {
		return &ir.Vertex{Name: "mm", Layer: &ir.TensorMatMul{}, Inputs: []string{a, b}}
	}
	t.Run("batched_times_matrix", func(t *testing.T) {
		g := tensorProgram("mm1", []ir.Input{batched("a", 3, 4), free("b", 4, 5)}, mm("a", "b"))
		checkTensorProgram(t, g, []int{2, 3, 4}, []int{4, 5})
	})
	t.Run("batch_is_the_row_axis", func(t *testing.T) { // torch mm: [B,4]·[4,5]
		g := tensorProgram("mm2", []ir.Input{batched("a", 4), free("b", 4, 5)}, mm("a", "b"))
		checkTensorProgram(t, g, []int{3, 4}, []int{4, 5})
	})
	t.Run("both_computed_broadcast", func(t *testing.T) { // q·kᵀ per head
		g := tensorProgram("mm3", []ir.Input{batched("q", 2, 3, 4), batched("k", 2, 5, 4)},
			&ir.Vertex{Name: "kt", Layer: &ir.TensorTranspose{Perm: []int{0, 1, 3, 2}}, Inputs: []string{"k"}},
			mm("q", "kt"))
		checkTensorProgram(t, g, []int{2, 2, 3, 4}, []int{2, 2, 5, 4})
	})
	t.Run("contract_over_the_batch", func(t *testing.T) { // xᵀx: batch-free result
		g := tensorProgram("mm4", []ir.Input{batched("x", 3)},
			&ir.Vertex{Name: "xt", Layer: &ir.TensorTranspose{Perm: []int{1, 0}}, Inputs: []string{"x"}},
			mm("xt", "x"))
		full, err := g.FullShapes()
		if err != nil {
			t.Fatal(err)
		}
		if !ir.SameShape(full["mm"], []int{3, 3}) || !ir.SameShape(full["xt"], []int{3, ir.Batch}) {
			t.Fatalf("full shapes %v", full)
		}
		checkTensorProgram(t, g, []int{4, 3})
	})
	t.Run("vectors", func(t *testing.T) {
		g := tensorProgram("mm5", []ir.Input{batched("a", 3, 4), free("v", 4)}, mm("a", "v"))
		checkTensorProgram(t, g, []int{2, 3, 4}, []int{4})
	})
}

func TestLayerNeedsTheBatchFirst(t *testing.T) {
	g := tensorProgram("bad", []ir.Input{{Name: "x", Shape: []int{3, 4}}},
		&ir.Vertex{Name: "t", Layer: &ir.TensorTranspose{Perm: []int{1, 0, 2}}, Inputs: []string{"x"}},
		&ir.Vertex{Name: "d", Layer: &ir.Flatten{}, Inputs: []string{"t"}})
	err := g.Validate()
	if err == nil {
		t.Fatal("a Flatten of a value with the batch on axis 1 validated")
	}
	if want := `vertex "d": input "t" has shape [3 B 4]: Flatten needs the batch on axis 0`; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
}

func TestPredictBatchFreeProgram(t *testing.T) {
	g := tensorProgram("pred", []ir.Input{{Name: "a", Shape: []int{2}}, {Name: "b", Shape: []int{2, 3}, NoBatch: true}},
		&ir.Vertex{Name: "mm", Layer: &ir.TensorMatMul{}, Inputs: []string{"a", "b"}})
	n, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	a := ir.FromData([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 5, 2)
	b := ir.FromData([]float32{1, 0, 2, 0, 1, 3}, 2, 3)
	out, err := n.Predict(a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{1, 2, 8, 3, 4, 18, 5, 6, 28, 7, 8, 38, 9, 10, 48}
	if !ir.SameShape(out[0].Shape, []int{5, 3}) {
		t.Fatalf("shape %v", out[0].Shape)
	}
	for i, w := range want {
		if out[0].Data[i] != w {
			t.Fatalf("got %v, want %v", out[0].Data, want)
		}
	}
}

func TestGradTensorShapeOps(t *testing.T) {
	batched := func(name string, shape ...int) ir.Input { return ir.Input{Name: name, Shape: shape} }
	free := func(name string, shape ...int) ir.Input { return ir.Input{Name: name, Shape: shape, NoBatch: true} }
	vx := func(name string, l ir.Layer, in ...string) *ir.Vertex {
		return &ir.Vertex{Name: name, Layer: l, Inputs: in}
	}
	cases := []struct {
		name   string
		inputs []ir.Input
		vs     []*ir.Vertex
		shapes [][]int
		want   []int // full shape of the output
	}{
		{"reshape_keeps_batch", []ir.Input{batched("x", 2, 6)},
			[]*ir.Vertex{vx("r", &ir.TensorReshape{Shape: []int{ir.Batch, 3, -1}}, "x")}, [][]int{{2, 2, 6}}, []int{ir.Batch, 3, 4}},
		{"reshape_batch_last", []ir.Input{batched("x", 6)},
			[]*ir.Vertex{vx("t", &ir.TensorTranspose{Perm: []int{1, 0}}, "x"), vx("r", &ir.TensorReshape{Shape: []int{2, 3, -1}}, "t")},
			[][]int{{3, 6}}, []int{2, 3, ir.Batch}},
		{"reshape_merges_batch", []ir.Input{batched("x", 2, 3)},
			[]*ir.Vertex{vx("r", &ir.TensorReshape{Shape: []int{-1, 3}}, "x")}, [][]int{{2, 2, 3}}, []int{-1, 3}},
		{"reshape_unmerges_batch", []ir.Input{batched("x", 4, 3)}, // attention heads: [B·4, 3] and back
			[]*ir.Vertex{vx("m", &ir.TensorReshape{Shape: []int{-1, 3}}, "x"), vx("r", &ir.TensorReshape{Shape: []int{ir.Batch, 2, 6}}, "m")},
			[][]int{{2, 4, 3}}, []int{ir.Batch, 2, 6}},
		{"slice_batch_head", []ir.Input{batched("x", 4)},
			[]*ir.Vertex{vx("s", &ir.TensorSlice{Axes: []int{0, 1}, Starts: []int{0, 3}, Ends: []int{2, 0}, Steps: []int{1, -2}}, "x")},
			[][]int{{3, 4}}, []int{2, 2}},
		{"slice_batch_whole", []ir.Input{batched("x", 5)},
			[]*ir.Vertex{vx("s", &ir.TensorSlice{Axes: []int{0, -1}, Starts: []int{0, -4}, Ends: []int{1 << 40, -1}}, "x")},
			[][]int{{2, 5}}, []int{ir.Batch, 3}},
		{"concat", []ir.Input{batched("a", 2, 3), free("b", 4, 3)},
			[]*ir.Vertex{vx("t", &ir.TensorTranspose{Perm: []int{1, 0, 2}}, "a"), vx("s", &ir.TensorSlice{Axes: []int{1}, Starts: []int{0}, Ends: []int{1}}, "t"),
				vx("q", &ir.TensorReshape{Shape: []int{2, 3}}, "s"), vx("c", &ir.TensorConcat{Axis: 0}, "q", "b")},
			[][]int{{3, 2, 3}, {4, 3}}, []int{6, 3}},
		{"concat_batched", []ir.Input{batched("a", 2, 3), batched("b", 4, 3)},
			[]*ir.Vertex{vx("c", &ir.TensorConcat{Axis: -2}, "a", "b")}, [][]int{{2, 2, 3}, {2, 4, 3}}, []int{ir.Batch, 6, 3}},
		{"gather_batch_scalar", []ir.Input{batched("x", 3)},
			[]*ir.Vertex{vx("g", &ir.TensorGather{Axis: 0, Indices: []int{-1}}, "x")}, [][]int{{4, 3}}, []int{3}},
		{"gather_matrix", []ir.Input{batched("x", 4, 3)},
			[]*ir.Vertex{vx("g", &ir.TensorGather{Axis: 1, Indices: []int{3, 0, 0, 2}, IndexShape: []int{2, 2}}, "x")},
			[][]int{{2, 4, 3}}, []int{ir.Batch, 2, 2, 3}},
		{"expand_to_batch", []ir.Input{batched("x", 3), free("w", 1, 3)},
			[]*ir.Vertex{vx("e", &ir.TensorExpand{Shape: []int{ir.Batch, 2, 1}}, "w"), vx("r", &ir.TensorReshape{Shape: []int{ir.Batch, 1, 3}}, "x"),
				vx("c", &ir.TensorConcat{Axis: 1}, "e", "r")},
			[][]int{{2, 3}, {1, 3}}, []int{ir.Batch, 3, 3}},
		{"expand_rank", []ir.Input{batched("x", 1, 3)},
			[]*ir.Vertex{vx("e", &ir.TensorExpand{Shape: []int{2, 1, 4, 1}}, "x")}, [][]int{{3, 1, 3}}, []int{2, ir.Batch, 4, 3}},
		{"tile", []ir.Input{batched("x", 2, 3)},
			[]*ir.Vertex{vx("t", &ir.TensorTranspose{Perm: []int{1, 0, 2}}, "x"), vx("r", &ir.TensorTile{Repeats: []int{2, 1, 3}}, "t")},
			[][]int{{3, 2, 3}}, []int{4, ir.Batch, 9}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := tensorProgram(c.name, c.inputs, c.vs...)
			full, err := g.FullShapes()
			if err != nil {
				t.Fatal(err)
			}
			if got := full[c.vs[len(c.vs)-1].Name]; c.want != nil && !ir.SameShape(got, c.want) {
				t.Fatalf("output shape %s, want %s", ir.FormatShape(got), ir.FormatShape(c.want))
			}
			checkTensorProgram(t, g, c.shapes...)
		})
	}
}

func TestTensorShapeOpsForward(t *testing.T) {
	x := ir.FromData([]float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 3, 4)
	run := func(l ir.Layer) *ir.Tensor {
		t.Helper()
		g := tensorProgram("fw", []ir.Input{{Name: "x", Shape: []int{4}}}, &ir.Vertex{Name: "k", Layer: l, Inputs: []string{"x"}})
		n, err := Compile(g)
		if err != nil {
			t.Fatal(err)
		}
		out, err := n.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		return out[0]
	}
	for _, c := range []struct {
		l     ir.Layer
		shape []int
		data  []float32
	}{
		{&ir.TensorSlice{Axes: []int{0}, Starts: []int{-1}, Ends: []int{-4}, Steps: []int{-2}}, []int{2, 4}, []float32{8, 9, 10, 11, 0, 1, 2, 3}},
		{&ir.TensorGather{Axis: 0, Indices: []int{1}}, []int{4}, []float32{4, 5, 6, 7}},
		{&ir.TensorGather{Axis: 1, Indices: []int{3, 0}, IndexShape: []int{2}}, []int{3, 2}, []float32{3, 0, 7, 4, 11, 8}},
		{&ir.TensorReshape{Shape: []int{2, -1}}, []int{2, 6}, []float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
		{&ir.TensorTile{Repeats: []int{1, 2}}, []int{3, 8}, nil},
	} {
		got := run(c.l)
		if !ir.SameShape(got.Shape, c.shape) {
			t.Errorf("%s: shape %v, want %v", c.l.Kind(), got.Shape, c.shape)
			continue
		}
		for i, w := range c.data {
			if got.Data[i] != w {
				t.Errorf("%s: %v, want %v", c.l.Kind(), got.Data, c.data)
				break
			}
		}
	}
	// a gather index outside the runtime batch is an error, not a panic
	g := tensorProgram("oob", []ir.Input{{Name: "x", Shape: []int{4}}}, &ir.Vertex{Name: "k", Layer: &ir.TensorGather{Axis: 0, Indices: []int{5}}, Inputs: []string{"x"}})
	n, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Predict(x); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("index 5 of a batch of 3: %v", err)
	}
}

// TestPredictMixedExamplesInOnePass: x·(xᵀx) has a batch-first output, but
// every row depends on the whole batch, so Predict must not split it.
func TestPredictMixedExamplesInOnePass(t *testing.T) {
	g := tensorProgram("gram", []ir.Input{{Name: "x", Shape: []int{2}}},
		&ir.Vertex{Name: "xt", Layer: &ir.TensorTranspose{Perm: []int{1, 0}}, Inputs: []string{"x"}},
		&ir.Vertex{Name: "gram", Layer: &ir.TensorMatMul{}, Inputs: []string{"xt", "x"}},
		&ir.Vertex{Name: "y", Layer: &ir.TensorMatMul{}, Inputs: []string{"x", "gram"}})
	n, err := CompileWith[float32](g, Options{BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	x := ir.FromData([]float32{1, 2, 3, 4}, 2, 2)
	out, err := n.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	// xᵀx = [[10 14] [14 20]]; x·that = [[38 54] [86 122]]
	want := []float32{38, 54, 86, 122}
	for i, w := range want {
		if out[0].Data[i] != w {
			t.Fatalf("got %v, want %v", out[0].Data, want)
		}
	}
}

// BenchmarkTensorSlice cuts the query third out of a packed attention
// projection, [T B 3E] → [T B E] (ViT-B/16 at batch 8), forward and backward.
func BenchmarkTensorSlice(b *testing.B) {
	g := tensorProgram("slice", []ir.Input{{Name: "x", Shape: []int{197, 2304}}},
		&ir.Vertex{Name: "t", Layer: &ir.TensorTranspose{Perm: []int{1, 0, 2}}, Inputs: []string{"x"}},
		&ir.Vertex{Name: "q", Layer: &ir.TensorSlice{Axes: []int{2}, Starts: []int{768}, Ends: []int{1536}}, Inputs: []string{"t"}})
	net, err := CompileWith[float32](g, Options{})
	if err != nil {
		b.Fatal(err)
	}
	op := net.byName["q"].op
	p := &Pass[float32]{Batch: 8}
	x := NewMat[float32](197, 8, 2304)
	dy := NewMat[float32](197, 8, 768)
	b.SetBytes(int64(4 * len(dy.Data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		op.Forward(p, []*Mat[float32]{x})
		op.Backward(p, dy)
	}
}
