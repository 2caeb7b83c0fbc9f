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
	register(&ir.Attention{}, emitAttention)
	decomposed["Attention"] = "written as MatMul/Unsqueeze/Add/Tanh/ReduceSum/Softmax: comes back as general tensor ops (TensorMatMul, TensorTranspose, ...) with the scales as learned constants"
}

// emitAttention writes ir.Attention on the last two axes of its inputs:
// dot scores as MatMul(q, kᵀ) (times the scale), concat and additive
// scores as ReduceSum(Tanh(Unsqueeze(q) + Unsqueeze(k))) with their
// scales, a constant causal mask (static steps only), Softmax on the last
// axis and MatMul with the value. Dropout is inactive in inference.
func emitAttention(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.Attention)
	q, val, k := ins[0], ins[1], ins[1]
	if len(ins) > 2 {
		k = ins[2]
	}
	r := len(inShapes[0])
	var s string
	if l.Score == ir.ScoreDot {
		perm := make([]int, r)
		for i := range perm {
			perm[i] = i
		}
		perm[r-2], perm[r-1] = r-1, r-2
		kt := b.transpose("key_t", k, perm, b.tmp("key_t"))
		s = b.op("MatMul", "scores", []string{q, kt}, b.tmp("scores"))
		if l.UseScale {
			s = b.op("Mul", "scale", []string{s, b.learnedInit("scale")}, b.tmp("scaled"))
		}
	} else {
		qe := b.withAxes("Unsqueeze", "query_rows", q, []int{r - 1}, b.tmp("query_rows"), 13)
		ke := b.withAxes("Unsqueeze", "key_columns", k, []int{r - 2}, b.tmp("key_columns"), 13)
		u := b.op("Add", "pairs", []string{qe, ke}, b.tmp("pairs"))
		if l.Score == ir.ScoreConcat && l.UseScale {
			u = b.op("Mul", "scale", []string{u, b.learnedInit("scale")}, b.tmp("scaled"))
		}
		t := b.op("Tanh", "tanh", []string{u}, b.tmp("tanh"))
		if l.Score == ir.ScoreAdditive && l.UseScale {
			t = b.op("Mul", "scale", []string{t, b.learnedInit("scale")}, b.tmp("scaled"))
		}
		s = b.reduce("ReduceSum", "scores", t, []int{r}, b.tmp("scores"), false)
		if l.Score == ir.ScoreConcat {
			s = b.op("Mul", "weight", []string{s, b.learnedInit("weight")}, b.tmp("weighted"))
		}
	}
	if l.Causal {
		tq, tv := inShapes[0][r-2], inShapes[1][r-2]
		if tq <= 0 || tq != tv {
			return fmt.Errorf("causal attention over %s query and %s value steps: ONNX export needs a known, equal number of steps",
				ir.FormatShape(inShapes[0][r-2:r-1]), ir.FormatShape(inShapes[1][r-2:r-1]))
		}
		mask := make([]float32, tq*tq)
		for i := 0; i < tq; i++ {
			for j := i + 1; j < tq; j++ {
				mask[i*tq+j] = -1e9
			}
		}
		m := b.init("causal_mask", []int{tq, tq}, mask)
		b.fixed = append(b.fixed, m) // a constant added in, not a parameter
		s = b.op("Add", "causal", []string{s, m}, b.tmp("masked"))
	}
	// the value's mask hides padded keys; the query's zeroes padded steps
	if keep := b.attentionKeep(len(ins), []int{1}, false, nil); keep != "" {
		s = b.op("Add", "padding", []string{s, b.maskAdder(keep)}, b.tmp("padded"))
	}
	axis := int64(-1)
	if b.opset < 13 {
		axis = int64(r - 1) // the coerced 2-D softmax over the last axis
	}
	p := b.op("Softmax", "softmax", []string{s}, b.tmp("weights"), aInt("axis", axis))
	if len(b.inMasks) == 0 || b.inMasks[0] == "" {
		b.op("MatMul", "", []string{p, val}, out)
		return nil
	}
	y := b.op("MatMul", "mix", []string{p, val}, b.tmp("mix"))
	qm := b.withAxes("Unsqueeze", "query_mask", b.inMasks[0], []int{2}, b.tmp("query_mask"), 13)
	b.op("Mul", "", []string{y, qm}, out)
	return nil
}
