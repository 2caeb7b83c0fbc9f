package onnx

import (
	"math"

	"github.com/retarget-dev/retarget/ir"
)

// fuseActivations rewrites the element-wise subgraphs that exporters write
// for activations without an ONNX op (PyTorch below opset 20 and 14) into
// one ir.ActivationLayer:
//
//	GELU        x·0.5·(1 + erf(x/√2))   (factors in any order; ·1/√2 for /√2)
//	swish/SiLU  x·sigmoid(x)
//	hard swish  x·hard_sigmoid(x; 1/6, 1/2)  or  x·relu6(x + 3)/6
//	tanh GELU   x·0.5·(1 + tanh(√(2/π)·(x + 0.044715·x³)))   (x³ as x·x·x, Pow(x, 3) or x·x²)
//	Mish        x·tanh(softplus(x))
//
// The final vertex keeps its name and takes x as its only input; the
// intermediate vertices, which must have no other consumer and not be a
// graph output, are left unreferenced for prune.
func fuseActivations(g *ir.Graph) {
	shapes, err := g.Shapes()
	if err != nil {
		return
	}
	f := newFuser(g)
	for _, v := range g.Vertices {
		x, a, ok := f.match(v)
		if !ok || !ir.SameShape(shapes[x], shapes[v.Name]) {
			continue
		}
		v.Layer = &ir.ActivationLayer{Activation: a}
		v.Inputs = []string{x}
		v.Params = nil
	}
}

type fuser struct {
	byName map[string]*ir.Vertex
	uses   map[string]int
}

// newFuser indexes g's vertices by name and counts each one's consumers
// (a graph output counts as one).
func newFuser(g *ir.Graph) *fuser {
	f := &fuser{byName: map[string]*ir.Vertex{}, uses: map[string]int{}}
	for _, v := range g.Vertices {
		f.byName[v.Name] = v
		for _, in := range v.Inputs {
			f.uses[in]++
		}
	}
	for _, o := range g.Outputs {
		f.uses[o.Vertex]++
	}
	return f
}

// match tries every pattern with v as the final vertex.
func (f *fuser) match(v *ir.Vertex) (x string, a ir.Activation, ok bool) {
	coef, factors, ok := f.product(v)
	if !ok || len(factors) != 2 {
		return "", a, false
	}
	for k := 0; k < 2; k++ {
		x, other := factors[k], f.inner(factors[1-k])
		if other == nil {
			continue
		}
		switch {
		case near(coef, 0.5) && f.isGELUTail(other, x):
			return x, ir.Act(ir.ActGELU), true
		case near(coef, 0.5) && f.isGELUTanhTail(other, x):
			return x, ir.Act(ir.ActGELUTanh), true
		case near(coef, 1) && f.isMishTail(other, x):
			return x, ir.Act(ir.ActMish), true
		case near(coef, 1) && isAct(other, ir.ActSigmoid) && onlyInput(other) == x:
			return x, ir.Act(ir.ActSwish), true
		case near(coef, 1) && isHardSigmoid(other, 1.0/6, 0.5) && onlyInput(other) == x:
			return x, ir.Act(ir.ActHardSwish), true
		case near(coef, 1.0/6) && isRelu6(other) && f.isShift(f.inner(onlyInput(other)), x, 3):
			return x, ir.Act(ir.ActHardSwish), true
		}
	}
	return "", a, false
}

// inner returns a vertex that only the pattern being matched consumes.
func (f *fuser) inner(name string) *ir.Vertex {
	if f.uses[name] != 1 {
		return nil
	}
	return f.byName[name]
}

// product views v as coef·∏factors through two-input Multiply and
// Divide-by-constant vertices; nested ones must be inner. A factor that
// is not such a vertex is returned by name.
func (f *fuser) product(v *ir.Vertex) (coef float64, factors []string, ok bool) {
	m, isMerge := v.Layer.(*ir.Merge)
	if !isMerge || len(v.Inputs) != 2 || (m.Op != ir.MergeMultiply && m.Op != ir.MergeDivide) {
		return 0, nil, false
	}
	coef = 1
	for k, in := range v.Inputs {
		if c, isScalar := f.scalar(in); isScalar {
			if m.Op == ir.MergeDivide && k == 1 {
				if c == 0 {
					return 0, nil, false
				}
				c = 1 / c
			} else if m.Op == ir.MergeDivide {
				return 0, nil, false // a constant divided by x
			}
			coef *= c
			continue
		}
		if m.Op == ir.MergeDivide && k == 1 {
			return 0, nil, false
		}
		if iv := f.inner(in); iv != nil {
			if c, fs, nested := f.product(iv); nested {
				coef *= c
				factors = append(factors, fs...)
				continue
			}
		}
		factors = append(factors, in)
	}
	return coef, factors, true
}

// scalar reads a one-element Constant vertex.
func (f *fuser) scalar(name string) (float64, bool) {
	v := f.byName[name]
	if v == nil {
		return 0, false
	}
	if k, ok := v.Layer.(*ir.Constant); !ok || k.Batch > 0 {
		return 0, false
	}
	t := v.Params["value"]
	if t == nil || len(t.Data) != 1 {
		return 0, false
	}
	return float64(t.Data[0]), true
}

// isGELUTail matches 1 + erf(x·1/√2) with every vertex inner.
func (f *fuser) isGELUTail(add *ir.Vertex, x string) bool {
	erf := f.shiftOf(add, 1)
	if erf == nil {
		return false
	}
	if u, ok := erf.Layer.(*ir.Unary); !ok || u.Op != ir.UnaryErf || len(erf.Inputs) != 1 {
		return false
	}
	scaled := f.inner(erf.Inputs[0])
	if scaled == nil {
		return false
	}
	coef, fs, ok := f.product(scaled)
	return ok && len(fs) == 1 && fs[0] == x && near(coef, 1/math.Sqrt2)
}

// isGELUTanhTail matches 1 + tanh(√(2/π)·(x + 0.044715·x³)) with every
// vertex inner.
func (f *fuser) isGELUTanhTail(add *ir.Vertex, x string) bool {
	th := f.shiftOf(add, 1)
	if th == nil || !isAct(th, ir.ActTanh) {
		return false
	}
	scaled := f.inner(onlyInput(th))
	if scaled == nil {
		return false
	}
	coef, fs, ok := f.product(scaled)
	if !ok || len(fs) != 1 || !near(coef, math.Sqrt(2/math.Pi)) {
		return false
	}
	sum := f.inner(fs[0])
	if sum == nil {
		return false
	}
	if m, ok := sum.Layer.(*ir.Merge); !ok || m.Op != ir.MergeAdd || len(sum.Inputs) != 2 {
		return false
	}
	for k := 0; k < 2; k++ {
		if sum.Inputs[k] != x {
			continue
		}
		cube := f.inner(sum.Inputs[1-k])
		if cube == nil {
			return false
		}
		c, cfs, ok := f.product(cube)
		return ok && near(c, 0.044715) && f.powerOf(cfs, x) == 3
	}
	return false
}

// powerOf returns n when the factors multiply to xⁿ: each is x itself or
// an inner Pow (integer exponent) or Square of x; 0 when they do not.
func (f *fuser) powerOf(factors []string, x string) int {
	n := 0
	for _, name := range factors {
		if name == x {
			n++
			continue
		}
		v := f.inner(name)
		if v == nil || onlyInput(v) != x {
			return 0
		}
		u, ok := v.Layer.(*ir.Unary)
		switch {
		case ok && u.Op == ir.UnarySquare:
			n += 2
		case ok && u.Op == ir.UnaryPow && u.Exponent >= 1 && u.Exponent == float32(int(u.Exponent)):
			n += int(u.Exponent)
		default:
			return 0
		}
	}
	return n
}

// isMishTail matches tanh(softplus(x)) with both vertices inner.
func (f *fuser) isMishTail(th *ir.Vertex, x string) bool {
	if !isAct(th, ir.ActTanh) {
		return false
	}
	sp := f.inner(onlyInput(th))
	return sp != nil && isAct(sp, ir.ActSoftplus) && onlyInput(sp) == x
}

// shiftOf returns the inner vertex u when add is u + c.
func (f *fuser) shiftOf(add *ir.Vertex, c float64) *ir.Vertex {
	if add == nil {
		return nil
	}
	if m, ok := add.Layer.(*ir.Merge); !ok || m.Op != ir.MergeAdd || len(add.Inputs) != 2 {
		return nil
	}
	for k := 0; k < 2; k++ {
		if s, ok := f.scalar(add.Inputs[1-k]); ok && near(s, c) {
			return f.inner(add.Inputs[k])
		}
	}
	return nil
}

// isShift matches add = x + c (x itself is not inner: it feeds the product too).
func (f *fuser) isShift(add *ir.Vertex, x string, c float64) bool {
	if add == nil {
		return false
	}
	if m, ok := add.Layer.(*ir.Merge); !ok || m.Op != ir.MergeAdd || len(add.Inputs) != 2 {
		return false
	}
	for k := 0; k < 2; k++ {
		if s, ok := f.scalar(add.Inputs[1-k]); ok && near(s, c) && add.Inputs[k] == x {
			return true
		}
	}
	return false
}

func onlyInput(v *ir.Vertex) string {
	if len(v.Inputs) != 1 {
		return ""
	}
	return v.Inputs[0]
}

func activationOf(v *ir.Vertex) (ir.Activation, bool) {
	l, ok := v.Layer.(*ir.ActivationLayer)
	if !ok {
		return ir.Activation{}, false
	}
	return l.Activation, true
}

func isAct(v *ir.Vertex, k ir.ActKind) bool {
	a, ok := activationOf(v)
	return ok && a.Kind == k
}

func isHardSigmoid(v *ir.Vertex, alpha, beta float64) bool {
	a, ok := activationOf(v)
	return ok && a.Kind == ir.ActHardSigmoid && near(float64(a.Alpha), alpha) && near(float64(a.Beta), beta)
}

func isRelu6(v *ir.Vertex) bool {
	a, ok := activationOf(v)
	return ok && (a.Kind == ir.ActReLU6 || a.Kind == ir.ActClip && a.Alpha == 0 && a.Beta == 6)
}

// near compares a float32-stored constant with its exact value.
func near(got, want float64) bool {
	return math.Abs(got-want) <= 1e-6*math.Max(1, math.Abs(want))
}
