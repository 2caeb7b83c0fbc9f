package ir

import (
	"fmt"
	"strings"
)

// Batch marks the batch axis in a full shape: the runtime shape of a value,
// whose batch size is only known when the graph runs.
//
// Layer vertices (the kinds retarget edits) see shapes without the batch and
// take the batch on axis 0. General tensor ops (TensorOp) see full shapes:
// their values may carry the batch on any axis, or none at all (a batch-free
// operand such as a weight matrix computed by the graph).
const Batch = -2

// TensorOp is a general tensor op. Its OutputShape takes and returns full
// shapes, where Batch marks the batch axis and -1 an unknown size. Its
// Params never depend on the input shapes.
type TensorOp interface {
	Layer
	// FullShapes only marks the kind; it does nothing.
	FullShapes()
}

// IsTensorOp reports whether a layer is a general tensor op.
func IsTensorOp(l Layer) bool {
	_, ok := l.(TensorOp)
	return ok
}

// LayerView is a full shape as a layer vertex sees it: without the batch,
// which must be on axis 0 and nowhere else.
func LayerView(full []int) ([]int, bool) {
	if len(full) == 0 || full[0] != Batch {
		return nil, false
	}
	for _, d := range full[1:] {
		if d == Batch {
			return nil, false
		}
	}
	return full[1:], true
}

// WithBatch is the full shape of a layer vertex's value.
func WithBatch(view []int) []int { return append([]int{Batch}, view...) }

// FormatShape writes a full shape with the batch as "B" and unknown sizes
// as "?".
func FormatShape(full []int) string {
	parts := make([]string, len(full))
	for i, d := range full {
		switch {
		case d == Batch:
			parts[i] = "B"
		case d < 0:
			parts[i] = "?"
		default:
			parts[i] = fmt.Sprint(d)
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// FullShape of a graph input.
func (in Input) FullShape() []int {
	if in.NoBatch {
		return append([]int(nil), in.Shape...)
	}
	return WithBatch(in.Shape)
}

// vertexShapes infers a vertex's full output shape from the full shapes of
// its inputs, and returns the shapes its Layer methods take (full shapes for
// a tensor op, layer views otherwise).
func vertexShapes(v *Vertex, full map[string][]int) (out []int, in [][]int, err error) {
	in = make([][]int, len(v.Inputs))
	tensor := IsTensorOp(v.Layer)
	for i, n := range v.Inputs {
		s, ok := full[n]
		if !ok {
			return nil, nil, nil // an upstream problem is reported there
		}
		if tensor {
			in[i] = s
			continue
		}
		view, ok := LayerView(s)
		if !ok {
			return nil, nil, fmt.Errorf("input %q has shape %s: %s needs the batch on axis 0 (only the general tensor ops take other shapes)", n, FormatShape(s), v.Layer.Kind())
		}
		in[i] = view
	}
	s, err := v.Layer.OutputShape(in)
	if err != nil {
		return nil, nil, err
	}
	if tensor {
		return s, in, nil
	}
	return WithBatch(s), in, nil
}

// FullShapes infers the full (runtime) shape of every vertex and graph
// input, the batch marked Batch.
func (g *Graph) FullShapes() (map[string][]int, error) {
	order, err := g.TopoOrder()
	if err != nil {
		return nil, err
	}
	full := map[string][]int{}
	for _, in := range g.Inputs {
		full[in.Name] = in.FullShape()
	}
	for _, v := range order {
		s, _, err := vertexShapes(v, full)
		if err != nil {
			return nil, &VertexError{Vertex: v.Name, Err: err}
		}
		full[v.Name] = s
	}
	return full, nil
}

// FullInputShapes returns the full shapes feeding a vertex, given
// FullShapes' result.
func (v *Vertex) FullInputShapes(full map[string][]int) [][]int {
	in := make([][]int, len(v.Inputs))
	for i, n := range v.Inputs {
		in[i] = full[n]
	}
	return in
}

// LayerShapes returns the shapes a vertex's Layer methods take: full shapes
// for a tensor op, shapes without the batch otherwise.
func (v *Vertex) LayerShapes(shapes, full map[string][]int) [][]int {
	if IsTensorOp(v.Layer) {
		return v.FullInputShapes(full)
	}
	return v.InputShapes(shapes)
}

// TensorOpKinds lists the registered kinds that are general tensor ops.
func TensorOpKinds() []string {
	var out []string
	for _, k := range Kinds() {
		if l, err := NewLayer(k); err == nil && IsTensorOp(l) {
			out = append(out, k)
		}
	}
	return out
}

// MixesExamples reports whether a general tensor op combines values of
// different examples (it contracts, slices or gathers the batch axis, so
// its output keeps no batch axis of its own), given FullShapes' result. A
// graph that does cannot be run in chunks of the batch: its outputs
// depend on the whole batch.
func (g *Graph) MixesExamples(full map[string][]int) bool {
	for _, v := range g.Vertices {
		if !IsTensorOp(v.Layer) {
			continue
		}
		batched := false
		for _, in := range v.FullInputShapes(full) {
			for _, d := range in {
				batched = batched || d == Batch
			}
		}
		if !batched {
			continue
		}
		if b, err := batchAxis(full[v.Name]); err != nil || b < 0 {
			return true
		}
		if _, ok := v.Layer.(*TensorMatMul); ok {
			in := v.FullInputShapes(full)
			if a := in[0]; a[len(a)-1] == Batch {
				return true
			}
			if b := in[1]; len(b) > 1 && b[len(b)-2] == Batch || len(b) == 1 && b[0] == Batch {
				return true
			}
		}
	}
	return false
}
