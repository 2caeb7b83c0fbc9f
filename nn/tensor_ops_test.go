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
