package modelio_test

import "github.com/retarget-dev/retarget/ir"

// tensorElemCases are the round-trip cases of the element-wise,
// normalisation, reduction, constant and einsum tensor ops. Their input is
// batch-free ([5 4], ir.Input.NoBatch), so every importer has to take the
// general path (a layer vertex cannot read a value without a batch).
func tensorElemCases() []kindCase {
	var cs []kindCase
	add := func(kind, name string, g *ir.Graph) { cs = append(cs, kindCase{kind: kind, name: name, g: g}) }
	free := func(l ir.Layer, pre ...ir.Layer) *ir.Graph {
		g := one(seq, l, pre...)
		g.Inputs[0].NoBatch = true
		return g
	}
	// withConst: x → (pre) → k(prev, c), c a TensorConstant of shape
	withConst := func(l ir.Layer, trainable bool, shape []int, pre ...ir.Layer) *ir.Graph {
		g := free(l, pre...)
		k := g.Vertices[len(g.Vertices)-1]
		k.Inputs = append(k.Inputs, "c")
		c := &ir.Vertex{Name: "c", Layer: &ir.TensorConstant{Shape: shape, Trainable: trainable}}
		g.Vertices = append([]*ir.Vertex{c}, g.Vertices...)
		return g
	}
	sigmoid := &ir.TensorActivation{Activation: ir.Act(ir.ActSigmoid)}
	for _, op := range []string{"add", "sub", "mul", "div", "pow", "max", "min", "equal", "less", "greater",
		"less_equal", "greater_equal", "and", "or", "xor"} {
		var pre []ir.Layer
		if op == "pow" || op == "div" {
			pre = []ir.Layer{sigmoid} // a positive base; c is learned, random
		}
		add("TensorBinary", op, withConst(&ir.TensorBinary{Op: op}, false, []int{4}, pre...))
	}
	add("TensorConstant", "learned", withConst(&ir.TensorBinary{Op: "add"}, true, []int{5, 4}))
	add("TensorConstant", "fixed-rank3", withConst(&ir.TensorBinary{Op: "mul"}, false, []int{2, 1, 4}))

	wg := withConst(&ir.TensorWhere{}, false, []int{4})
	k := wg.Vertices[len(wg.Vertices)-1]
	k.Inputs = []string{"cond", "x", "c"}
	wg.Vertices = append([]*ir.Vertex{wg.Vertices[0], {Name: "cond", Layer: &ir.TensorBinary{Op: "greater"}, Inputs: []string{"x", "c"}}}, wg.Vertices[1:]...)
	add("TensorWhere", "", wg)

	for _, u := range []ir.UnaryOp{ir.UnarySqrt, ir.UnaryExp, ir.UnaryLog, ir.UnaryNeg, ir.UnaryAbs, ir.UnaryErf,
		ir.UnaryReciprocal, ir.UnarySquare, ir.UnaryPow} {
		add("TensorUnary", string(u), free(&ir.TensorUnary{Op: u, Exponent: 3}, sigmoid))
	}
	for _, a := range []ir.Activation{ir.Act(ir.ActReLU), ir.Act(ir.ActTanh), ir.Act(ir.ActSoftplus),
		{Kind: ir.ActLeakyReLU, Alpha: 0.1}, {Kind: ir.ActELU, Alpha: 0.5}, {Kind: ir.ActHardSigmoid, Alpha: 0.3, Beta: 0.4}} {
		add("TensorActivation", string(a.Kind), free(&ir.TensorActivation{Activation: a}))
	}
	add("TensorSoftmax", "last", free(&ir.TensorSoftmax{Axis: -1}))
	add("TensorSoftmax", "log", free(&ir.TensorSoftmax{Axis: 1, Log: true}))
	add("TensorSoftmax", "axis0", free(&ir.TensorSoftmax{Axis: 0}))
	add("TensorLayerNorm", "last", free(&ir.TensorLayerNorm{Axis: -1, Epsilon: 1e-5}))
	add("TensorLayerNorm", "all", free(&ir.TensorLayerNorm{Axis: 0, Epsilon: 1e-3}))
	for _, op := range []string{"sum", "mean", "max", "min", "prod"} {
		add("TensorReduce", op, free(&ir.TensorReduce{Op: op, Axes: []int{-1}}))
	}
	add("TensorReduce", "all-keepdims", free(&ir.TensorReduce{Op: "sum", KeepDims: true}))
	add("TensorEinsum", "matmul", withConst(&ir.TensorEinsum{Equation: "ij,jk->ik"}, true, []int{4, 3}))
	add("TensorEinsum", "outer-implicit", withConst(&ir.TensorEinsum{Equation: "ij,k"}, false, []int{2}))
	add("TensorEinsum", "transpose-sum", free(&ir.TensorEinsum{Equation: "ij->j"}))
	add("TensorEinsum", "ellipsis", withConst(&ir.TensorEinsum{Equation: "...j,jk->...k"}, false, []int{4, 2}))
	return cs
}
