package onnx

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

// The general path (general.go) of the element-wise, normalisation,
// reduction and einsum ops: values of any layout, with or without a batch
// axis, and computed operands of different ranks, as the tensor ops of
// ir/tensorops_elementwise.go. A constant operand becomes a TensorConstant
// in its ONNX shape (broadcasting is ONNX's own).

var tensorBinaryOf = map[string]string{
	"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Pow": "pow", "Max": "max", "Min": "min", "Sum": "add",
	"Equal": "equal", "Less": "less", "Greater": "greater", "LessOrEqual": "less_equal", "GreaterOrEqual": "greater_equal",
	"And": "and", "Or": "or", "Xor": "xor",
}

var tensorUnaryOf = map[string]ir.UnaryOp{"Sqrt": ir.UnarySqrt, "Exp": ir.UnaryExp, "Log": ir.UnaryLog,
	"Neg": ir.UnaryNeg, "Abs": ir.UnaryAbs, "Erf": ir.UnaryErf, "Reciprocal": ir.UnaryReciprocal}

func init() {
	for op, b := range tensorBinaryOf {
		b := b
		registerGeneral(op, func(c *converter, n *node) error { return c.tensorBinary(n, b) })
	}
	for op, u := range tensorUnaryOf {
		u := u
		registerGeneral(op, func(c *converter, n *node) error {
			return c.tensorOne(n, &ir.TensorUnary{Op: u})
		})
	}
	for op, f := range activationOps {
		f := f
		registerGeneral(op, func(c *converter, n *node) error {
			a, err := f(n)
			if err != nil {
				return err
			}
			return c.tensorOne(n, &ir.TensorActivation{Activation: a})
		})
	}
	registerGeneral("Not", (*converter).tensorNot)
	registerGeneral("Where", (*converter).tensorWhere)
	registerGeneral("Softmax", func(c *converter, n *node) error { return c.tensorSoftmax(n, false) })
	registerGeneral("LogSoftmax", func(c *converter, n *node) error { return c.tensorSoftmax(n, true) })
	registerGeneral("LayerNormalization", (*converter).tensorLayerNorm)
	for op, r := range map[string]string{"ReduceSum": "sum", "ReduceMean": "mean", "ReduceMax": "max", "ReduceMin": "min", "ReduceProd": "prod"} {
		r := r
		registerGeneral(op, func(c *converter, n *node) error { return c.tensorReduce(n, r) })
	}
	registerGeneral("Einsum", (*converter).tensorEinsum)
	for _, op := range []string{"Identity", "Cast", "Dropout"} {
		registerGeneral(op, (*converter).tensorAlias)
	}
}

// operand returns input i as a vertex in its ONNX layout: a computed value
// materialized, or a constant as a TensorConstant. A constant is learned
// when it is an initializer (or an exported learned TensorConstant) with
// more than one value added, subtracted, multiplied or divided in: a bias,
// a scale, a position embedding; the rest (masks, scalars) stay fixed.
func (c *converter) operand(n *node, i int, arith bool) (string, error) {
	name := n.in(i)
	if _, ok := c.vals[name]; ok {
		_, v, err := c.tensorIn(n, i)
		return v, err
	}
	cv, ok := c.consts[name]
	if !ok {
		return "", fmt.Errorf("input %d (%q) is unknown", i, name)
	}
	learned := c.learned[name] || (arith && c.inits[name] && cv.size() > 1 && !c.fixed[name])
	key := fmt.Sprintf("%s/%v", name, learned)
	if v, ok := c.tensorConsts[key]; ok {
		return v, nil
	}
	shape := append([]int{}, cv.shape...)
	v, err := c.add(name, &ir.TensorConstant{Shape: shape, Trainable: learned}, nil,
		map[string]*ir.Tensor{"value": tensorOf(shape, cv.float32Copy())})
	if err != nil {
		return "", err
	}
	if c.frozen[name] { // our export of a frozen TensorConstant (the vertex may be renamed)
		c.g.Vertex(v).Frozen = true
	}
	if c.tensorConsts == nil {
		c.tensorConsts = map[string]string{}
	}
	c.tensorConsts[key] = v
	return v, nil
}

// anyComputed reports whether some input of n is a computed value.
func (c *converter) anyComputed(n *node) bool {
	for _, in := range n.GetInput() {
		if _, ok := c.vals[in]; ok {
			return true
		}
	}
	return false
}

func (c *converter) tensorBinary(n *node, op string) error {
	if len(n.GetInput()) != 2 || !c.anyComputed(n) {
		return errNotGeneral
	}
	if op == "mul" && n.in(0) == n.in(1) {
		return c.tensorOne(n, &ir.TensorUnary{Op: ir.UnarySquare}) // x·x
	}
	if e, ok := c.consts[n.in(1)]; ok && op == "pow" && e.size() == 1 && !c.isConst(n.in(0)) {
		return c.tensorOne(n, &ir.TensorUnary{Op: ir.UnaryPow, Exponent: float32(e.floats()[0])})
	}
	arith := op == "add" || op == "sub" || op == "mul" || op == "div"
	a, err := c.operand(n, 0, arith)
	if err != nil {
		return err
	}
	b, err := c.operand(n, 1, arith)
	if err != nil {
		return err
	}
	err = c.addTensor(n, 0, n.label, &ir.TensorBinary{Op: op}, []string{a, b})
	if h, _ := handlerFor(n.GetOpType(), c.opset); err != nil && h != nil {
		return errNotGeneral // shapes that do not broadcast: the layer handler says why
	}
	return err
}

// tensorNot is x == 0; Not(Greater(a, b)) (how a <= b is written before
// opset 12) is less_equal(a, b), and Not(Less(a, b)) greater_equal.
func (c *converter) tensorNot(n *node) error {
	if p := c.producer[n.in(0)]; p != nil && c.uses[n.in(0)] == 1 && len(p.GetInput()) == 2 {
		if op := map[string]string{"Greater": "less_equal", "Less": "greater_equal"}[p.GetOpType()]; op != "" {
			pn := &node{NodeProto: p, label: n.label}
			if a, err := c.operand(pn, 0, false); err == nil {
				if b, err := c.operand(pn, 1, false); err == nil {
					return c.addTensor(n, 0, n.label, &ir.TensorBinary{Op: op}, []string{a, b})
				}
			}
		}
	}
	_, x, err := c.tensorIn(n, 0)
	if err != nil {
		return err
	}
	zero, err := c.fixedConst(n.label+"/zero", []int{}, []float32{0})
	if err != nil {
		return err
	}
	return c.addTensor(n, 0, n.label, &ir.TensorBinary{Op: "equal"}, []string{x, zero})
}

func (c *converter) tensorWhere(n *node) error {
	if !c.anyComputed(n) {
		return errNotGeneral
	}
	var ins []string
	for i := 0; i < 3; i++ {
		v, err := c.operand(n, i, false)
		if err != nil {
			return err
		}
		ins = append(ins, v)
	}
	return c.addTensor(n, 0, n.label, &ir.TensorWhere{}, ins)
}

// tensorOne adds a one-input tensor op on input 0.
func (c *converter) tensorOne(n *node, l ir.TensorOp) error {
	_, x, err := c.tensorIn(n, 0)
	if err != nil {
		return err
	}
	return c.addTensor(n, 0, n.label, l, []string{x})
}

// tensorAlias passes a computed value through as it is held (Identity,
// Cast as the layer handler reads it, Dropout as at inference: a dropout
// off the layer path does not drop in fine-tuning).
func (c *converter) tensorAlias(n *node) error {
	if n.GetOpType() == "Cast" {
		d, err := c.rawIn(n, 0)
		if err != nil {
			return err
		}
		if !d.full || d.batch == 0 {
			return errNotGeneral // batch first: the layer handler's case
		}
		return c.castFull(n, d)
	}
	if n.GetOpType() == "Dropout" {
		for k := 1; k < len(n.GetOutput()); k++ {
			if n.out(k) != "" && c.uses[n.out(k)] > 0 {
				return errNotGeneral
			}
		}
	}
	d, err := c.rawIn(n, 0)
	if err != nil {
		return err
	}
	c.vals[n.out(0)] = d
	return nil
}

// zeroOne reports whether a value holds only 0 and 1: a comparison or
// logic op's result, moved by ops that only rearrange values.
func (c *converter) zeroOne(name string) bool {
	for depth := 0; depth < 64; depth++ {
		p := c.producer[name]
		if p == nil || len(p.GetInput()) == 0 {
			return false
		}
		switch op := p.GetOpType(); op {
		case "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Not":
			return true
		case "Reshape", "Expand", "Unsqueeze", "Squeeze", "Transpose", "Identity", "Cast", "Slice", "Gather", "Tile", "Flatten":
			name = p.GetInput()[0]
		default:
			return false
		}
	}
	return false
}

// castFull is Cast of a materialized value: an identity, exact for float
// targets and for a bool target of 0/1 values (comparisons, logic ops).
func (c *converter) castFull(n *node, d *dyn) error {
	switch to := n.int("to", 1); to {
	case 1, 10, 11, 16:
	case 9:
		if !c.zeroOne(n.in(0)) {
			c.warnings = append(c.warnings, fmt.Sprintf("Cast %s to bool is read as an identity (nonzero values are not turned into 1)", n.label))
		}
	default:
		msg := fmt.Sprintf("Cast %s to ONNX type %d is read as an identity (values stay float32, no rounding)", n.label, to)
		if c.opts.Strict {
			return fmt.Errorf("%s; without Strict (--strict) this is imported with a warning", msg)
		}
		c.warnings = append(c.warnings, msg)
	}
	c.vals[n.out(0)] = d
	return nil
}

func (c *converter) tensorSoftmax(n *node, log bool) error {
	d, x, err := c.tensorIn(n, 0)
	if err != nil {
		return err
	}
	r := len(d.shape)
	def := int64(-1)
	if c.opset < 13 {
		def = 1
	}
	ax, err := normAxis(n.int("axis", def), r)
	if err != nil {
		return err
	}
	if c.opset < 13 && ax != r-1 {
		return errNotGeneral // the old form softmaxes the flattened trailing axes: the layer handler's case
	}
	return c.addTensor(n, 0, n.label, &ir.TensorSoftmax{Axis: ax, Log: log}, []string{x})
}

// tensorLayerNorm is LayerNormalization as TensorLayerNorm times the scale
// plus the bias (learned TensorConstants).
func (c *converter) tensorLayerNorm(n *node) error {
	for k := 1; k < len(n.GetOutput()); k++ {
		if n.out(k) != "" && c.uses[n.out(k)] > 0 {
			return fmt.Errorf("the Mean/InvStdDev outputs are used; only the normalised output is supported")
		}
	}
	d, x, err := c.tensorIn(n, 0)
	if err != nil {
		return err
	}
	ax, err := normAxis(n.int("axis", -1), len(d.shape))
	if err != nil {
		return err
	}
	sc, ok := c.consts[n.in(1)]
	scaled := !ok || !c.fixed[n.in(1)] || !allOnes(sc)
	base := n.label
	if scaled || n.in(2) != "" {
		base += "/normalise"
	}
	v, err := c.add(base, &ir.TensorLayerNorm{Axis: ax, Epsilon: n.float("epsilon", 1e-5)}, []string{x}, nil)
	if err != nil {
		return err
	}
	if scaled {
		// a scale that is a parameter (ours without one is all ones and
		// marked fixed)
		s, err := c.operand(n, 1, true)
		if err != nil {
			return err
		}
		last := n.label
		if n.in(2) != "" {
			last = n.label + "/scale"
		}
		if v, err = c.add(last, &ir.TensorBinary{Op: "mul"}, []string{v, s}, nil); err != nil {
			return err
		}
	}
	if n.in(2) != "" {
		b, err := c.operand(n, 2, true)
		if err != nil {
			return err
		}
		if v, err = c.add(n.label, &ir.TensorBinary{Op: "add"}, []string{v, b}, nil); err != nil {
			return err
		}
	}
	c.vals[n.out(0)] = c.fullDyn(v)
	return nil
}

func (c *converter) tensorReduce(n *node, op string) error {
	d, x, err := c.tensorIn(n, 0)
	if err != nil {
		return err
	}
	var axes []int64
	if n.in(1) != "" { // ReduceSum from opset 13, the others from 18
		if axes, err = c.axesOf(n, 1); err != nil {
			return err
		}
	} else {
		axes = n.ints("axes")
	}
	l := &ir.TensorReduce{Op: op, KeepDims: n.int("keepdims", 1) != 0}
	if len(axes) == 0 && n.int("noop_with_empty_axes", 0) != 0 {
		c.vals[n.out(0)] = d
		return nil
	}
	for _, a := range axes {
		k, err := normAxis(a, len(d.shape))
		if err != nil {
			return err
		}
		l.Axes = append(l.Axes, k)
	}
	return c.addTensor(n, 0, n.label, l, []string{x})
}

func (c *converter) tensorEinsum(n *node) error {
	if !c.anyComputed(n) {
		return errNotGeneral
	}
	var ins []string
	for i := range n.GetInput() {
		v, err := c.operand(n, i, false)
		if err != nil {
			return err
		}
		ins = append(ins, v)
	}
	return c.addTensor(n, 0, n.label, &ir.TensorEinsum{Equation: n.str("equation", "")}, ins)
}

func allOnes(v *cval) bool {
	for _, x := range v.floats() {
		if x != 1 {
			return false
		}
	}
	return true
}

// constantLike reads ConstantOfShape(Shape(x)) of a computed x whose shape
// is known only at run time (batch × heads) as Where(x, v, v): a tensor of
// x's shape filled with v. ok is false for any other ConstantOfShape.
func (c *converter) constantLike(n *node) (bool, error) {
	sv, ok := c.consts[n.in(0)]
	if !ok {
		return false, nil
	}
	symbolic := false
	for _, v := range sv.ints() {
		symbolic = symbolic || v == batchSym || v == unknownSym
	}
	p := c.producer[n.in(0)]
	if !symbolic || p == nil || p.GetOpType() != "Shape" || len(p.GetAttribute()) > 0 {
		return false, nil
	}
	if _, ok := c.vals[p.GetInput()[0]]; !ok {
		return false, nil
	}
	_, x, err := c.tensorIn(&node{NodeProto: p, label: n.label}, 0)
	if err != nil {
		return true, err
	}
	val := float32(0)
	if a := n.attr("value"); a != nil && a.GetT() != nil {
		t, err := c.rd.decode(a.GetT())
		if err != nil {
			return true, err
		}
		if t.size() != 1 {
			return true, fmt.Errorf("ConstantOfShape value of %d elements", t.size())
		}
		val = float32(t.floats()[0])
	}
	v, err := c.fixedConst(n.label+"/value", []int{}, []float32{val})
	if err != nil {
		return true, err
	}
	return true, c.addTensor(n, 0, n.label, &ir.TensorWhere{}, []string{x, v, v})
}
