package onnx

import (
	"fmt"
	"math"

	"github.com/retarget-dev/retarget/ir"
)

// activationOps maps the element-wise activation ops to an ir.Activation.
var activationOps = map[string]func(n *node) (ir.Activation, error){
	"Relu":      fixed(ir.ActReLU),
	"Sigmoid":   fixed(ir.ActSigmoid),
	"Tanh":      fixed(ir.ActTanh),
	"Softplus":  fixed(ir.ActSoftplus),
	"Softsign":  fixed(ir.ActSoftsign),
	"HardSwish": fixed(ir.ActHardSwish),
	"Mish":      fixed(ir.ActMish),
	"LeakyRelu": func(n *node) (ir.Activation, error) {
		return ir.Activation{Kind: ir.ActLeakyReLU, Alpha: n.float("alpha", 0.01)}, nil
	},
	"Elu": func(n *node) (ir.Activation, error) {
		return ir.Activation{Kind: ir.ActELU, Alpha: n.float("alpha", 1)}, nil
	},
	"Selu": func(n *node) (ir.Activation, error) {
		a, g := n.float("alpha", 1.67326319217681884765625), n.float("gamma", 1.05070102214813232421875)
		if math.Abs(float64(a)-1.6732632) > 1e-5 || math.Abs(float64(g)-1.0507010) > 1e-5 {
			return ir.Activation{}, fmt.Errorf("Selu with non-default alpha/gamma")
		}
		return ir.Act(ir.ActSELU), nil
	},
	"HardSigmoid": func(n *node) (ir.Activation, error) {
		return ir.Activation{Kind: ir.ActHardSigmoid, Alpha: n.float("alpha", 0.2), Beta: n.float("beta", 0.5)}, nil
	},
	"ThresholdedRelu": func(n *node) (ir.Activation, error) {
		return ir.Activation{Kind: ir.ActThresholdReLU, Alpha: n.float("alpha", 1)}, nil
	},
}

// activationSince is the opset each activation op appeared in (1 if not
// listed).
var activationSince = map[string]int{"HardSwish": 14, "Mish": 18, "ThresholdedRelu": 10, "Selu": 6}

func init() {
	for op, f := range activationOps {
		f := f
		register(op, max(activationSince[op], 1), func(c *converter, n *node) error {
			a, err := f(n)
			if err != nil {
				return err
			}
			return c.elementwise(n, &ir.ActivationLayer{Activation: a})
		})
	}
	register("Gelu", 20, (*converter).gelu)
	// Softmax and LogSoftmax changed meaning at opset 13: before, they
	// flatten the input from axis (default 1) into a 2-D matrix.
	register("Softmax", 1, func(c *converter, n *node) error { return c.softmax(n, ir.ActSoftmax, false) })
	register("Softmax", 13, func(c *converter, n *node) error { return c.softmax(n, ir.ActSoftmax, true) })
	register("LogSoftmax", 1, func(c *converter, n *node) error { return c.softmax(n, ir.ActLogSoftmax, false) })
	register("LogSoftmax", 13, func(c *converter, n *node) error { return c.softmax(n, ir.ActLogSoftmax, true) })
	register("Clip", 1, (*converter).clip)
	for op, u := range map[string]ir.UnaryOp{"Sqrt": ir.UnarySqrt, "Exp": ir.UnaryExp, "Log": ir.UnaryLog,
		"Neg": ir.UnaryNeg, "Abs": ir.UnaryAbs, "Erf": ir.UnaryErf, "Reciprocal": ir.UnaryReciprocal} {
		u := u
		register(op, max(map[string]int{"Erf": 9}[op], 1), func(c *converter, n *node) error { return c.elementwise(n, &ir.Unary{Op: u}) })
	}
	for op, m := range map[string]ir.MergeOp{"Add": ir.MergeAdd, "Sub": ir.MergeSubtract, "Mul": ir.MergeMultiply,
		"Div": ir.MergeDivide, "Pow": ir.MergePow, "Max": ir.MergeMaximum, "Min": ir.MergeMinimum,
		"Sum": ir.MergeAdd, "Mean": ir.MergeAverage} {
		m := m
		register(op, 1, func(c *converter, n *node) error { return c.merge(n, m) })
	}
	register("Identity", 1, alias)
	register("Cast", 1, (*converter).cast)
	register("Dropout", 1, (*converter).dropout)
}

func fixed(k ir.ActKind) func(n *node) (ir.Activation, error) {
	return func(*node) (ir.Activation, error) { return ir.Act(k), nil }
}

func alias(c *converter, n *node) error {
	d, err := c.rawIn(n, 0)
	if err != nil {
		return err
	}
	c.vals[n.out(0)] = d
	return nil
}

// cast reads Cast as an identity: values stay float32. That is exact for
// a float target and for integer ids that only feed Gather's indices (an
// Embedding truncates them the same way); any other integer or bool
// target is an approximation: a warning, or an error with Options.Strict.
func (c *converter) cast(n *node) error {
	switch to := n.int("to", 1); to {
	case 1, 10, 11, 16: // FLOAT, FLOAT16, DOUBLE, BFLOAT16
	default:
		if c.onlyIndices(n.out(0)) {
			break
		}
		msg := fmt.Sprintf("Cast %s to ONNX type %d is read as an identity (values stay float32, no rounding)", n.label, to)
		if c.opts.Strict {
			return fmt.Errorf("%s; without Strict (--strict) this is imported with a warning", msg)
		}
		c.warnings = append(c.warnings, msg)
	}
	return alias(c, n)
}

// onlyIndices reports whether value is read, and only as Gather's indices.
func (c *converter) onlyIndices(value string) bool {
	read := false
	for _, np := range c.nodes {
		for i, in := range np.GetInput() {
			if in == value && (np.GetOpType() != "Gather" || i != 1) {
				return false
			}
			read = read || in == value
		}
	}
	return read
}

// elementwise adds a one-input vertex that keeps its input's shape.
func (c *converter) elementwise(n *node, l ir.Layer) error {
	d, err := c.dynIn(n, 0)
	if err != nil {
		return err
	}
	x, err := c.mat(d)
	if err != nil {
		return err
	}
	v, err := c.add(n.label, l, []string{x}, nil)
	if err != nil {
		return err
	}
	c.vals[n.out(0)] = &dyn{v: v, shape: d.shape, batch: d.batch}
	return nil
}

// softmax maps Softmax/LogSoftmax; v13 is the opset-13 form (one axis,
// default -1) rather than the older flatten-from-axis form (default 1).
func (c *converter) softmax(n *node, kind ir.ActKind, v13 bool) error {
	d, err := c.dynIn(n, 0)
	if err != nil {
		return err
	}
	r := len(d.shape)
	def := int64(-1)
	if !v13 {
		def = 1
	}
	a64 := n.int("axis", def)
	ax, err := normAxis(a64, r)
	if err != nil {
		return err
	}
	if v13 || ax == r-1 || prod(d.shape[ax+1:]) == 1 {
		ia, err := c.irAxis(d, int64(ax), n.GetOpType())
		if err != nil {
			return err
		}
		if ia == len(d.irShape())-1 {
			ia = -1
		}
		return c.elementwise(n, &ir.ActivationLayer{Activation: ir.Activation{Kind: kind, Axis: ia}})
	}
	// Opset < 13 softmax coerces the input to 2-D at axis.
	if d.batch != 0 || ax == 0 {
		return &BatchAxisError{What: n.GetOpType() + " (coerced to 2-D)"}
	}
	x, err := c.mat(d)
	if err != nil {
		return err
	}
	ish := d.irShape()
	flat := []int{prod(ish[ax-1:])}
	if ax > 1 {
		flat = []int{prod(ish[:ax-1]), flat[0]}
	}
	r1, err := c.add(n.label+"/flat", &ir.Reshape{Shape: flat}, []string{x}, nil)
	if err != nil {
		return err
	}
	s, err := c.add(n.label, &ir.ActivationLayer{Activation: ir.Activation{Kind: kind, Axis: -1}}, []string{r1}, nil)
	if err != nil {
		return err
	}
	v, err := c.add(n.label+"/unflat", &ir.Reshape{Shape: ish}, []string{s}, nil)
	if err != nil {
		return err
	}
	c.vals[n.out(0)] = &dyn{v: v, shape: d.shape, batch: 0}
	return nil
}

func (c *converter) clip(n *node) error {
	lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
	if len(n.GetInput()) > 1 {
		if v, err := c.optConst(n, 1, "min"); err != nil {
			return err
		} else if v != nil {
			lo = float32(v.floats()[0])
		}
		if v, err := c.optConst(n, 2, "max"); err != nil {
			return err
		} else if v != nil {
			hi = float32(v.floats()[0])
		}
	} else {
		lo, hi = n.float("min", -math.MaxFloat32), n.float("max", math.MaxFloat32)
	}
	a := ir.Activation{Kind: ir.ActClip, Alpha: lo, Beta: hi}
	switch {
	case lo == 0 && hi == 6:
		a = ir.Act(ir.ActReLU6)
	case lo == 0 && hi >= math.MaxFloat32:
		a = ir.Act(ir.ActReLU)
	}
	if math.IsInf(float64(a.Alpha), -1) {
		a.Alpha = -math.MaxFloat32
	}
	if math.IsInf(float64(a.Beta), 1) {
		a.Beta = math.MaxFloat32
	}
	return c.elementwise(n, &ir.ActivationLayer{Activation: a})
}

func (c *converter) dropout(n *node) error {
	if n.out(1) != "" && c.uses[n.out(1)] > 0 {
		return fmt.Errorf("the dropout mask output is used")
	}
	rate := n.float("ratio", 0.5)
	if v, ok := c.consts[n.in(1)]; ok && v.size() == 1 {
		rate = float32(v.floats()[0])
	}
	return c.elementwise(n, &ir.Dropout{Rate: rate})
}

// merge maps a broadcasting binary (or variadic) op. A constant operand
// becomes an ir.Constant vertex; Pow by a constant scalar is a Unary.
func (c *converter) merge(n *node, op ir.MergeOp) error {
	if op == ir.MergeMultiply && len(n.GetInput()) == 2 && n.in(0) == n.in(1) && !c.isConst(n.in(0)) {
		return c.elementwise(n, &ir.Unary{Op: ir.UnarySquare}) // x·x
	}
	var ref *dyn
	vals := map[string]*dyn{}
	for _, in := range n.GetInput() {
		d, ok, err := c.lazyVal(in)
		if err != nil {
			return err
		}
		if ok {
			vals[in] = d
			if ref == nil || len(d.shape) > len(ref.shape) {
				ref = d
			}
		}
	}
	if ref == nil {
		return fmt.Errorf("no computed input")
	}
	if op == ir.MergePow && !c.isConst(n.in(0)) {
		if e, ok := c.consts[n.in(1)]; ok && e.size() == 1 {
			return c.elementwise(n, &ir.Unary{Op: ir.UnaryPow, Exponent: float32(e.floats()[0])})
		}
	}
	var inputs []string
	for k, in := range n.GetInput() {
		if d, ok := vals[in]; ok {
			if len(d.shape) != len(ref.shape) || d.batch != ref.batch {
				return fmt.Errorf("computed inputs of ranks %d and %d (batch axes %d, %d) are not supported", len(d.shape), len(ref.shape), d.batch, ref.batch)
			}
			x, err := c.mat(d)
			if err != nil {
				return err
			}
			inputs = append(inputs, x)
			continue
		}
		cv, ok := c.consts[in]
		if !ok {
			return fmt.Errorf("input %d (%q) is unknown", k, in)
		}
		shape, data, batch, err := c.perSample(ref, cv)
		if err != nil {
			return err
		}
		vshape := shape
		if batch > 0 {
			vshape = append([]int{batch}, shape...)
		}
		// An initializer as large as the value it is added to is a learned
		// per-position parameter (a position embedding); per-channel
		// normalisers, scalars and per-sample values stay fixed, and so do
		// constants our exporter marks fixed (a causal mask).
		learned := c.learned[in] || batch == 0 && op == ir.MergeAdd && c.inits[in] && !c.fixed[in] && len(shape) >= 2 && ir.SameShape(shape, ref.irShape())
		v, err := c.add(n.label+"/const", &ir.Constant{Shape: shape, Trainable: learned, Batch: batch}, nil,
			map[string]*ir.Tensor{"value": tensorOf(vshape, data)})
		if err != nil {
			return err
		}
		inputs = append(inputs, v)
	}
	v, err := c.add(n.label, &ir.Merge{Op: op}, inputs, nil)
	if err != nil {
		return err
	}
	ish := c.irShapes[v]
	shape := append([]int{}, ish[:ref.batch]...)
	shape = append(append(shape, -1), ish[ref.batch:]...)
	c.vals[n.out(0)] = &dyn{v: v, shape: shape, batch: ref.batch}
	return nil
}
