package onnx

import (
	"fmt"
	"math"

	"github.com/retarget-dev/retarget/internal/onnxpb"
	"github.com/retarget-dev/retarget/ir"
)

func (b *builder) param(name string) *ir.Tensor { return b.v.Params[name] }

func (b *builder) paramInit(name string) string {
	t := b.param(name)
	return b.init(name, t.Shape, t.Data)
}

// learnedInit is paramInit for a parameter that no layer pattern holds on
// import: the metadata (retarget.learned) keeps it trainable.
func (b *builder) learnedInit(name string) string {
	v := b.paramInit(name)
	b.learned = append(b.learned, v)
	return v
}

// emit writes the nodes of one vertex, producing value out, with the
// emitter its kind registered (kinds.go).
func (b *builder) emit(v *ir.Vertex, ins []string, inShapes [][]int, outShape []int, out string) error {
	e, ok := emitters[v.Layer.Kind()]
	if !ok {
		if why, ok := Unsupported()[v.Layer.Kind()]; ok {
			return fmt.Errorf("layer kind %s has no ONNX form: %s", v.Layer.Kind(), why)
		}
		return fmt.Errorf("layer kind %s has no ONNX form (no emitter is registered for it)", v.Layer.Kind())
	}
	return e(b, v, ins, inShapes, len(outShape), out)
}

func emitDense(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.Dense)
	return b.dense(ins[0], inShapes[0], l.Activation, !l.NoBias, out)
}

func emitOutput(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.Output)
	return b.dense(ins[0], inShapes[0], unitsAxis(l.Activation), !l.NoBias, out)
}

func emitRnnOutput(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.RnnOutput)
	return b.dense(ins[0], inShapes[0], unitsAxis(l.Activation), !l.NoBias, out)
}

func emitConv(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.Conv)
	return b.withActivation(l.Activation, rank, out, func(dst string) error {
		attrs := convAttrs(l.Kernel, l.Strides, l.Dilations, l.Padding, l.Pads, l.Rank)
		attrs = append(attrs, aInt("group", int64(l.GroupCount())))
		in := []string{ins[0], b.paramInit("W")}
		if !l.NoBias {
			in = append(in, b.paramInit("b"))
		}
		if l.Padding == ir.PadCausal {
			p := (at(l.Kernel, 0, 1) - 1) * at(l.Dilations, 0, 1)
			attrs = append(convAttrs(l.Kernel, l.Strides, l.Dilations, ir.PadExplicit, []int{p, 0}, 1), aInt("group", int64(l.GroupCount())))
		}
		b.op("Conv", "", in, dst, attrs...)
		return nil
	})
}

func emitConvTranspose2D(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.ConvTranspose2D)
	return b.withActivation(l.Activation, rank, out, func(dst string) error {
		bg, en := l.TransposePads(inShapes[0][1:])
		attrs := convAttrs(l.Kernel, l.Strides, l.Dilations, ir.PadExplicit, append(bg, en...), l.SpatialRank())
		attrs = append(attrs, aInt("group", int64(l.GroupCount())))
		if len(l.OutputPadding) > 0 {
			attrs = append(attrs, aInts("output_padding", l.OutputPadding))
		}
		in := []string{ins[0], b.paramInit("W")}
		if !l.NoBias {
			in = append(in, b.paramInit("b"))
		}
		b.op("ConvTranspose", "", in, dst, attrs...)
		return nil
	})
}

func emitSeparableConv2D(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.SeparableConv2D)
	return b.withActivation(l.Activation, rank, out, func(dst string) error {
		attrs := convAttrs(l.Kernel, l.Strides, l.Dilations, l.Padding, l.Pads, 2)
		dw := b.op("Conv", "depthwise", []string{ins[0], b.paramInit("DW")}, b.tmp("depthwise"),
			append(attrs, aInt("group", int64(inShapes[0][0])))...)
		in := []string{dw, b.paramInit("PW")}
		if !l.NoBias {
			in = append(in, b.paramInit("b"))
		}
		b.op("Conv", "", in, dst, aInts("kernel_shape", []int{1, 1}))
		return nil
	})
}

func emitPool(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.Pool)
	op := "MaxPool"
	var dil []int
	if l.Dilated() {
		dil = l.Dilations
	}
	attrs := convAttrs(l.Kernel, l.Stride(), dil, l.Padding, l.Pads, l.Rank)
	if l.Op == ir.PoolAvg {
		op = "AveragePool"
		if l.CountIncludePad {
			attrs = append(attrs, aInt("count_include_pad", 1))
		}
	}
	if l.CeilMode {
		attrs = append(attrs, aInt("ceil_mode", 1))
	}
	b.op(op, "", []string{ins[0]}, out, attrs...)
	return nil
}

func emitGlobalPool(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.GlobalPool)
	if len(b.inMasks) > 0 && b.inMasks[0] != "" && l.Op == ir.PoolAvg && l.Rank == 1 {
		m := b.inMasks[0]
		b.maskedAveragePool(ins[0], m, l.KeepDims, out)
		return nil
	}
	op := "GlobalMaxPool"
	if l.Op == ir.PoolAvg {
		op = "GlobalAveragePool"
	}
	if l.KeepDims {
		b.op(op, "", []string{ins[0]}, out)
	} else {
		t := b.op(op, "", []string{ins[0]}, b.tmp("pooled"))
		b.op("Flatten", "flatten", []string{t}, out, aInt("axis", 1))
	}
	return nil
}

func emitBatchNorm(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.BatchNorm)
	return b.batchNorm(l, ins[0], inShapes[0], out)
}

func emitInstanceNorm(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.InstanceNorm)
	b.op("InstanceNormalization", "", []string{ins[0], b.paramInit("gamma"), b.paramInit("beta")}, out, aFloat("epsilon", l.Epsilon))
	return nil
}

func emitTile(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	reps := []int64{1}
	for _, r := range v.Layer.(*ir.Tile).Repeats {
		reps = append(reps, int64(r))
	}
	b.op("Tile", "", []string{ins[0], b.ints("repeats", reps...)}, out)
	return nil
}

func emitLayerNorm(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.LayerNorm)
	return b.layerNorm(l, ins[0], inShapes[0], out)
}

func emitActivationLayer(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.ActivationLayer)
	return b.activation(l.Activation, "", ins[0], out, rank)
}

func emitDropout(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.Dropout)
	if b.opset >= 12 {
		b.op("Dropout", "", []string{ins[0], b.scalar("ratio", l.Rate)}, out)
	} else {
		b.op("Dropout", "", []string{ins[0]}, out, aFloat("ratio", l.Rate))
	}
	return nil
}

func emitPReLU(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	b.op("PRelu", "", []string{ins[0], b.paramInit("alpha")}, out)
	return nil
}

func emitRescaling(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.Rescaling)
	m := b.op("Mul", "scale", []string{ins[0], b.scalar("scale", l.Scale)}, b.tmp("scaled"))
	b.op("Add", "", []string{m, b.scalar("offset", l.Offset)}, out)
	return nil
}

func emitUnary(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.Unary)
	return b.unary(l, ins[0], out)
}

func emitConstant(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.Constant)
	t := b.param("value")
	shape := append([]int{1}, t.Shape...)
	if l.Batch > 0 { // one value per sample: value is [Batch, ...] already
		b.op("Identity", "", []string{b.init("value", t.Shape, t.Data)}, out)
		return nil
	}
	if !l.Trainable || b.batchRef == "" {
		b.op("Identity", "", []string{b.init("value", shape, t.Data)}, out)
		return nil
	}
	// a learned value (class token) repeated over the batch, as PyTorch
	// writes it: Expand(value, [N, dims...])
	n := b.op("Shape", "batch_shape", []string{b.value[b.batchRef]}, b.tmp("batch_shape"))
	n = b.op("Slice", "batch", []string{n, b.ints("zero", 0), b.ints("one", 1)}, b.tmp("batch"))
	dims := make([]int64, len(t.Shape))
	for k, d := range t.Shape {
		dims[k] = int64(d)
	}
	n = b.op("Concat", "target", []string{n, b.ints("dims", dims...)}, b.tmp("target"), aInt("axis", 0))
	b.op("Expand", "", []string{b.init("value", shape, t.Data), n}, out)
	return nil
}

func emitMerge(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.Merge)
	return b.merge(l, ins, out)
}

func emitConcat(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.Concat)
	ax := l.ResolvedAxis(len(inShapes[0]))
	b.op("Concat", "", ins, out, aInt("axis", int64(ax+1)))
	return nil
}

func emitFlatten(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	b.op("Flatten", "", ins, out, aInt("axis", 1))
	return nil
}

func emitReshape(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.Reshape)
	b.reshape("", ins[0], l.Shape, out)
	return nil
}

func emitPermute(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.Permute)
	perm := []int{0}
	for _, p := range l.Perm {
		perm = append(perm, p+1)
	}
	b.transpose("", ins[0], perm, out)
	return nil
}

func emitPad(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.Pad)
	return b.pad(l, ins[0], inShapes[0], out)
}

func emitCropping(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.Cropping)
	r := len(inShapes[0])
	var axes []int64
	var starts, ends []int64
	for k := 0; k < l.Rank; k++ {
		axes = append(axes, int64(r-l.Rank+k+1))
		starts = append(starts, int64(l.Crops[k]))
		e := int64(math.MaxInt64)
		if l.Crops[k+l.Rank] > 0 {
			e = -int64(l.Crops[k+l.Rank])
		}
		ends = append(ends, e)
	}
	b.op("Slice", "", []string{ins[0], b.ints("starts", starts...), b.ints("ends", ends...), b.ints("axes", axes...)}, out)
	return nil
}

func emitSlice(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.Slice)
	var axes, starts, ends, steps []int64
	r := len(inShapes[0])
	for k, a := range l.Axes {
		if a < 0 {
			a += r
		}
		axes = append(axes, int64(a+1))
		starts = append(starts, int64(l.Starts[k]))
		ends = append(ends, int64(l.Ends[k]))
		st := 1
		if k < len(l.Steps) && l.Steps[k] != 0 {
			st = l.Steps[k]
		}
		steps = append(steps, int64(st))
	}
	b.op("Slice", "", []string{ins[0], b.ints("starts", starts...), b.ints("ends", ends...), b.ints("axes", axes...), b.ints("steps", steps...)}, out)
	return nil
}

func emitUpSampling(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.UpSampling)
	return b.upsampling(l, ins[0], inShapes[0], out)
}

func emitRepeatVector(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.RepeatVector)
	u := b.withAxes("Unsqueeze", "unsqueeze", ins[0], []int{1}, b.tmp("unsqueezed"), 13)
	b.op("Tile", "", []string{u, b.ints("repeats", 1, int64(l.N), 1)}, out)
	return nil
}

func emitDepthToSpace(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.DepthToSpace)
	mode := l.Mode
	if mode == "" {
		mode = "DCR"
	}
	b.op("DepthToSpace", "", ins, out, aInt("blocksize", int64(l.Block)), aStr("mode", mode))
	return nil
}

func emitSpaceToDepth(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.SpaceToDepth)
	b.op("SpaceToDepth", "", ins, out, aInt("blocksize", int64(l.Block)))
	return nil
}

func emitReduce(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.Reduce)
	op := map[string]string{"mean": "ReduceMean", "sum": "ReduceSum", "max": "ReduceMax"}[l.Op]
	r := len(inShapes[0])
	var axes []int
	for _, a := range l.Axes {
		if a < 0 {
			a += r
		}
		axes = append(axes, a+1)
	}
	b.reduce(op, "", ins[0], axes, out, l.KeepDims)
	return nil
}

func emitLastTimeStep(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	idx := b.tmp("last")
	b.gp.Initializer = append(b.gp.Initializer, int64Scalar(idx, -1))
	b.op("Gather", "", []string{ins[0], idx}, out, aInt("axis", 1))
	return nil
}

func emitEmbedding(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	idx := ins[0]
	if len(inShapes[0]) == 2 && inShapes[0][1] == 1 {
		idx = b.withAxes("Squeeze", "squeeze", idx, []int{2}, b.tmp("squeezed"), 13)
	}
	if v.Layer.(*ir.Embedding).MaskZero {
		b.outMask = b.zeroMask(idx)
	}
	cast := b.op("Cast", "cast", []string{idx}, b.tmp("ids"), aInt("to", 7))
	b.op("Gather", "", []string{b.paramInit("W"), cast}, out, aInt("axis", 0))
	return nil
}

func emitRecurrent(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	return b.recurrent(v.Layer, ins[0], inShapes[0], out)
}

func emitMultiHeadAttention(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.MultiHeadAttention)
	return b.attention(l, ins, inShapes, out)
}

// unitsAxis is an output layer's activation as an activation node: the
// engine applies an Output's or RnnOutput's softmax across its units (the
// last axis) whatever Axis says.
func unitsAxis(a ir.Activation) ir.Activation {
	a.Axis = -1
	return a
}

func at(xs []int, i, def int) int {
	if i < len(xs) && xs[i] > 0 {
		return xs[i]
	}
	return def
}

func convAttrs(kernel, strides, dilations []int, p ir.Padding, pads []int, rank int) []*onnxpb.AttributeProto {
	attrs := []*onnxpb.AttributeProto{aInts("kernel_shape", kernel)}
	ones := func(xs []int) []int {
		out := make([]int, rank)
		for k := range out {
			out[k] = at(xs, k, 1)
		}
		return out
	}
	attrs = append(attrs, aInts("strides", ones(strides)))
	if dilations != nil {
		attrs = append(attrs, aInts("dilations", ones(dilations)))
	}
	switch p {
	case ir.PadSame:
		attrs = append(attrs, aStr("auto_pad", "SAME_UPPER"))
	case ir.PadSameLow:
		attrs = append(attrs, aStr("auto_pad", "SAME_LOWER"))
	case ir.PadExplicit:
		attrs = append(attrs, aInts("pads", pads))
	case ir.PadCausal:
		ps := make([]int, 2*rank)
		ps[0] = (at(kernel, 0, 1) - 1) * at(dilations, 0, 1)
		attrs = append(attrs, aInts("pads", ps))
	}
	return attrs
}

func int64Scalar(name string, v int64) *onnxpb.TensorProto {
	raw := make([]byte, 8)
	for k := 0; k < 8; k++ {
		raw[k] = byte(uint64(v) >> (8 * k))
	}
	n := name
	return &onnxpb.TensorProto{Name: &n, DataType: ptr32(7), RawData: raw}
}

func ptr32(v int32) *int32 { return &v }

// dense writes x·W + b: Gemm for [N, F] inputs, MatMul + Add otherwise.
func (b *builder) dense(in string, inShape []int, act ir.Activation, bias bool, out string) error {
	return b.withActivation(act, len(inShape), out, func(dst string) error {
		w := b.paramInit("W")
		if len(inShape) == 1 {
			ins := []string{in, w}
			if bias {
				ins = append(ins, b.paramInit("b"))
			}
			b.op("Gemm", "", ins, dst)
			return nil
		}
		if !bias {
			b.op("MatMul", "", []string{in, w}, dst)
			return nil
		}
		m := b.op("MatMul", "", []string{in, w}, b.tmp("matmul"))
		b.op("Add", "bias", []string{m, b.paramInit("b")}, dst)
		return nil
	})
}

func (b *builder) batchNorm(l *ir.BatchNorm, in string, inShape []int, out string) error {
	r := len(inShape)
	ax := l.Axis
	ins := func(x string) []string {
		return []string{x, b.paramInit("gamma"), b.paramInit("beta"), b.paramInit("mean"), b.paramInit("var")}
	}
	attrs := []*onnxpb.AttributeProto{aFloat("epsilon", l.Epsilon), aFloat("momentum", l.Momentum)}
	if ax == 0 {
		b.op("BatchNormalization", "", ins(in), out, attrs...)
		return nil
	}
	// Move the normalised axis to ONNX axis 1 and back.
	perm := make([]int, r+1)
	for k := range perm {
		perm[k] = k
	}
	perm[1], perm[ax+1] = ax+1, 1
	t := b.transpose("to_channels", in, perm, b.tmp("to_channels"))
	n := b.op("BatchNormalization", "", ins(t), b.tmp("normalised"), attrs...)
	b.transpose("from_channels", n, perm, out)
	return nil
}

func (b *builder) layerNorm(l *ir.LayerNorm, in string, inShape []int, out string) error {
	r := len(inShape)
	ax := l.Axis
	if ax < 0 {
		ax += r
	}
	if b.opset >= 17 {
		b.op("LayerNormalization", "", []string{in, b.paramInit("gamma"), b.paramInit("beta")}, out,
			aInt("axis", int64(ax+1)), aFloat("epsilon", l.Epsilon))
		return nil
	}
	var axes []int
	for k := ax; k < r; k++ {
		axes = append(axes, k+1)
	}
	nrm := b.normalise(in, axes, l.Epsilon, "normalise", b.tmp("normalised"))
	sc := b.op("Mul", "", []string{nrm, b.paramInit("gamma")}, b.tmp("scaled"))
	b.op("Add", "beta", []string{sc, b.paramInit("beta")}, out)
	return nil
}

// normalise writes (x − mean) / √(var + ε) over axes, the decomposed
// layer normalisation (the divide is node suffix div).
func (b *builder) normalise(in string, axes []int, eps float32, div, out string) string {
	mean := b.reduce("ReduceMean", "mean", in, axes, b.tmp("mean"), true)
	cen := b.op("Sub", "center", []string{in, mean}, b.tmp("centered"))
	sq := b.op("Mul", "square", []string{cen, cen}, b.tmp("squared"))
	vr := b.reduce("ReduceMean", "var", sq, axes, b.tmp("var"), true)
	ve := b.op("Add", "eps", []string{vr, b.scalar("epsilon", eps)}, b.tmp("var_eps"))
	sd := b.op("Sqrt", "std", []string{ve}, b.tmp("std"))
	return b.op("Div", div, []string{cen, sd}, out)
}

func (b *builder) unary(l *ir.Unary, in, out string) error {
	switch l.Op {
	case ir.UnarySqrt:
		b.op("Sqrt", "", []string{in}, out)
	case ir.UnaryExp:
		b.op("Exp", "", []string{in}, out)
	case ir.UnaryLog:
		b.op("Log", "", []string{in}, out)
	case ir.UnaryNeg:
		b.op("Neg", "", []string{in}, out)
	case ir.UnaryAbs:
		b.op("Abs", "", []string{in}, out)
	case ir.UnaryErf:
		b.op("Erf", "", []string{in}, out)
	case ir.UnaryReciprocal:
		b.op("Reciprocal", "", []string{in}, out)
	case ir.UnarySquare:
		b.op("Mul", "", []string{in, in}, out)
	case ir.UnaryPow:
		b.op("Pow", "", []string{in, b.scalar("exponent", l.Exponent)}, out)
	default:
		return fmt.Errorf("unary %q", l.Op)
	}
	return nil
}

func (b *builder) merge(l *ir.Merge, ins []string, out string) error {
	bin := map[ir.MergeOp]string{ir.MergeAdd: "Add", ir.MergeSubtract: "Sub", ir.MergeMultiply: "Mul",
		ir.MergeDivide: "Div", ir.MergePow: "Pow", ir.MergeMaximum: "Max", ir.MergeMinimum: "Min", ir.MergeAverage: "Mean"}
	op, ok := bin[l.Op]
	if !ok {
		return fmt.Errorf("merge %q", l.Op)
	}
	if len(ins) > 2 && op == "Add" {
		op = "Sum"
	}
	if len(ins) > 2 && op == "Mul" {
		acc := ins[0]
		for k, x := range ins[1:] {
			dst := out
			if k < len(ins)-2 {
				dst = b.tmp("product")
			}
			acc = b.op("Mul", fmt.Sprintf("mul%d", k), []string{acc, x}, dst)
		}
		return nil
	}
	b.op(op, "", ins, out)
	return nil
}

func (b *builder) pad(l *ir.Pad, in string, inShape []int, out string) error {
	r := len(inShape) + 1
	pads := make([]int64, 2*r)
	off := r - l.Rank
	for k := 0; k < l.Rank; k++ {
		pads[off+k] = int64(l.Pads[k])
		pads[r+off+k] = int64(l.Pads[k+l.Rank])
	}
	mode := string(l.Mode)
	if mode == "" {
		mode = "constant"
	}
	ins := []string{in, b.ints("pads", pads...)}
	if mode == "constant" {
		ins = append(ins, b.scalar("value", l.Value))
	}
	b.op("Pad", "", ins, out, aStr("mode", mode))
	return nil
}

func (b *builder) upsampling(l *ir.UpSampling, in string, inShape []int, out string) error {
	r := len(inShape) + 1
	scales := make([]float32, r)
	for k := range scales {
		scales[k] = 1
	}
	for k, s := range l.Size {
		scales[r-l.Rank+k] = float32(s)
	}
	sc := b.init("scales", []int{r}, scales)
	roi := "" // optional from opset 13
	if b.opset < 13 {
		roi = b.init("roi", []int{0}, nil)
	}
	if l.Mode == "linear" {
		b.op("Resize", "", []string{in, roi, sc}, out, aStr("mode", "linear"),
			aStr("coordinate_transformation_mode", "half_pixel"))
		return nil
	}
	b.op("Resize", "", []string{in, roi, sc}, out, aStr("mode", "nearest"),
		aStr("coordinate_transformation_mode", "asymmetric"), aStr("nearest_mode", "floor"))
	return nil
}
