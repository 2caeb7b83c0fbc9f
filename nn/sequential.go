package nn

import (
	"fmt"
	"math/rand"

	"github.com/retarget-dev/retarget/ir"
)

// Sequential builds a chain graph: input "input" of shape in (without
// batch), then one vertex per layer named "l0", "l1", ..., the last one
// being the graph output. Parameters are not created (see InitGraph).
func Sequential(name string, in []int, layers ...ir.Layer) *ir.Graph {
	g := &ir.Graph{Name: name, Inputs: []ir.Input{{Name: "input", Shape: append([]int(nil), in...)}}}
	prev := "input"
	for i, l := range layers {
		v := &ir.Vertex{Name: fmt.Sprintf("l%d", i), Layer: l, Inputs: []string{prev}}
		g.Vertices = append(g.Vertices, v)
		prev = v.Name
	}
	g.Outputs = []ir.GraphOutput{{Name: prev, Vertex: prev}}
	return g
}

// RandTensor fills a new tensor with uniform values in [lo, hi).
func RandTensor(rng *rand.Rand, lo, hi float64, shape ...int) *ir.Tensor {
	t := ir.NewTensor(shape...)
	for i := range t.Data {
		t.Data[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return t
}
