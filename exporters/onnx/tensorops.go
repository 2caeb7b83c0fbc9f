package onnx

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

// The general tensor ops are ONNX operators already: each writes one node
// on the full shapes it holds.

func emitTensorMatMul(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	b.op("MatMul", "", ins, out)
	return nil
}

func emitTensorTranspose(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	b.transpose("", ins[0], v.Layer.(*ir.TensorTranspose).Perm, out)
	return nil
}

func toInt64s(v []int) []int64 {
	out := make([]int64, len(v))
	for k, x := range v {
		out[k] = int64(x)
	}
	return out
}

// shapeInput is a 1-D int64 shape tensor for shape, where ir.Batch is the
// runtime batch size (read from the batch-first graph input) unless
// batchAs stands for it.
func (b *builder) shapeInput(suffix string, shape []int, batchAs int64, dynamic bool) (string, error) {
	s := toInt64s(shape)
	for k, d := range shape {
		if d == ir.Batch {
			s[k] = batchAs
		}
	}
	if !dynamic {
		return b.ints(suffix, s...), nil
	}
	if b.batchRef == "" {
		return "", fmt.Errorf("the batch size is needed at run time, and no graph input has the batch on axis 0")
	}
	n := b.op("Shape", suffix+"_of_input", []string{b.batchRef}, b.tmp(suffix+"_input_shape"))
	n = b.op("Slice", suffix+"_batch", []string{n, b.ints("zero", 0), b.ints("one", 1)}, b.tmp(suffix+"_batch"))
	var parts []string
	for k, d := range shape {
		if d == ir.Batch {
			parts = append(parts, n)
		} else {
			parts = append(parts, b.ints(fmt.Sprintf("%s_%d", suffix, k), s[k]))
		}
	}
	return b.op("Concat", suffix, parts, b.tmp(suffix), aInt("axis", 0)), nil
}

func emitTensorReshape(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.TensorReshape)
	outShape, err := l.OutputShape(inShapes)
	if err != nil {
		return err
	}
	// the batch is -1 unless the -1 is taken (by a size the input does not
	// fix); then 0 copies it from the same input axis, or it is read at
	// run time
	unknown, ib, ob := false, -1, -1
	for k, d := range outShape {
		unknown = unknown || d == -1
		if d == ir.Batch {
			ob = k
		}
	}
	for k, d := range inShapes[0] {
		if d == ir.Batch {
			ib = k
		}
	}
	target := outShape
	var batchAs int64 = -1
	dynamic := false
	if unknown && ob >= 0 {
		if ib == ob {
			batchAs = 0
		} else {
			dynamic = true
		}
	}
	shape, err := b.shapeInput("shape", target, batchAs, dynamic)
	if err != nil {
		return err
	}
	b.op("Reshape", "", []string{ins[0], shape}, out)
	return nil
}

func emitTensorSlice(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.TensorSlice)
	steps := l.Steps
	if len(steps) == 0 {
		steps = make([]int, len(l.Axes))
		for k := range steps {
			steps[k] = 1
		}
	}
	b.op("Slice", "", []string{ins[0], b.ints("starts", toInt64s(l.Starts)...), b.ints("ends", toInt64s(l.Ends)...),
		b.ints("axes", toInt64s(l.Axes)...), b.ints("steps", toInt64s(steps)...)}, out)
	return nil
}

func emitTensorConcat(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	b.op("Concat", "", ins, out, aInt("axis", int64(v.Layer.(*ir.TensorConcat).Axis)))
	return nil
}

func emitTensorGather(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.TensorGather)
	idx := b.ints("indices", toInt64s(l.Indices)...)
	b.gp.Initializer[len(b.gp.Initializer)-1].Dims = toInt64s(l.IndexShape)
	b.op("Gather", "", []string{ins[0], idx}, out, aInt("axis", int64(l.Axis)))
	return nil
}

func emitTensorExpand(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.TensorExpand)
	// a batch the input has on the same axis broadcasts from 1; a new one
	// is the runtime batch size
	in := inShapes[0]
	dynamic := false
	target := append([]int(nil), l.Shape...)
	for k, d := range target {
		j := k - (len(target) - len(in))
		if d == ir.Batch && j >= 0 && in[j] == ir.Batch {
			target[k] = 1
		} else if d == ir.Batch {
			dynamic = true
		}
	}
	shape, err := b.shapeInput("shape", target, 1, dynamic)
	if err != nil {
		return err
	}
	b.op("Expand", "", []string{ins[0], shape}, out)
	return nil
}

func emitTensorTile(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	b.op("Tile", "", []string{ins[0], b.ints("repeats", toInt64s(v.Layer.(*ir.TensorTile).Repeats)...)}, out)
	return nil
}

func init() {
	register(&ir.TensorMatMul{}, emitTensorMatMul)
	register(&ir.TensorTranspose{}, emitTensorTranspose)
	register(&ir.TensorReshape{}, emitTensorReshape)
	register(&ir.TensorSlice{}, emitTensorSlice)
	register(&ir.TensorConcat{}, emitTensorConcat)
	register(&ir.TensorGather{}, emitTensorGather)
	register(&ir.TensorExpand{}, emitTensorExpand)
	register(&ir.TensorTile{}, emitTensorTile)
}
