package nn

import (
	"fmt"
	"math"

	"github.com/retarget-dev/retarget/ir"
)

const (
	seluAlpha = 1.6732632423543772848170429916717
	seluScale = 1.0507009873554804934193349852946
)

// activation is a compiled ir.Activation. Parameter defaults follow Keras
// where the IR leaves a zero: ELU alpha 1, hard sigmoid 0.2·x+0.5.
type activation[F Float] struct {
	kind        ir.ActKind
	alpha, beta F
	axis        int // softmax axis, of the tensor without batch
}

func newActivation[F Float](a ir.Activation) (activation[F], error) {
	act := activation[F]{kind: a.Kind, alpha: F(a.Alpha), beta: F(a.Beta), axis: a.Axis}
	if act.kind == "" {
		act.kind = ir.ActIdentity
	}
	known := false
	for _, k := range ir.KnownActivations {
		known = known || k == act.kind
	}
	if !known {
		return act, fmt.Errorf("unknown activation %q", a.Kind)
	}
	switch act.kind {
	case ir.ActELU:
		if act.alpha == 0 {
			act.alpha = 1
		}
	case ir.ActHardSigmoid:
		if act.alpha == 0 && act.beta == 0 {
			act.alpha, act.beta = 0.2, 0.5
		}
	}
	return act, nil
}

func (a activation[F]) identity() bool { return a.kind == ir.ActIdentity }

func (a activation[F]) isSoftmax() bool {
	return a.kind == ir.ActSoftmax || a.kind == ir.ActLogSoftmax
}

// softmaxAxis resolves the axis for a shape with batch; it fails when out of range.
func (a activation[F]) softmaxAxis(shape []int) (int, error) {
	r := len(shape) - 1
	ax := a.axis
	if ax < 0 {
		ax += r
	}
	if ax < 0 || ax >= r {
		return 0, fmt.Errorf("%s axis %d out of range for rank %d", a.kind, a.axis, r)
	}
	return ax + 1, nil
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func softplus(x float64) float64 {
	if x > 30 {
		return x
	}
	return math.Log1p(math.Exp(x))
}

const (
	geluTanhC = 0.7978845608028654 // √(2/π)
	geluTanhK = 0.044715
)

// geluTanhArg is the tanh argument of the tanh-form GELU. The activation
// is computed as x·sigmoid(2u), equal to x/2·(1+tanh u), which keeps its
// small values for large negative x where 1+tanh u cancels to 0.
func geluTanhArg(x float64) float64 { return geluTanhC * (x + geluTanhK*x*x*x) }

// scalar applies an element-wise kind (not softmax).
func (a activation[F]) scalar(x F) F {
	switch a.kind {
	case ir.ActReLU:
		return max(x, 0)
	case ir.ActReLU6:
		return min(max(x, 0), 6)
	case ir.ActLeakyReLU:
		if x < 0 {
			return a.alpha * x
		}
		return x
	case ir.ActELU:
		if x < 0 {
			return a.alpha * F(math.Expm1(float64(x)))
		}
		return x
	case ir.ActSELU:
		if x < 0 {
			return F(seluScale * seluAlpha * math.Expm1(float64(x)))
		}
		return F(seluScale) * x
	case ir.ActGELU:
		v := float64(x)
		return F(0.5 * v * (1 + math.Erf(v/math.Sqrt2)))
	case ir.ActSwish:
		return x * F(sigmoid(float64(x)))
	case ir.ActSigmoid:
		return F(sigmoid(float64(x)))
	case ir.ActHardSigmoid:
		return min(max(a.alpha*x+a.beta, 0), 1)
	case ir.ActTanh:
		return F(math.Tanh(float64(x)))
	case ir.ActSoftplus:
		return F(softplus(float64(x)))
	case ir.ActSoftsign:
		return x / (1 + F(math.Abs(float64(x))))
	case ir.ActThresholdReLU:
		if x > a.alpha {
			return x
		}
		return 0
	case ir.ActClip:
		return min(max(x, a.alpha), a.beta)
	case ir.ActHardSwish:
		return x * min(max(x/6+0.5, 0), 1)
	case ir.ActGELUTanh:
		v := float64(x)
		return F(v * sigmoid(2*geluTanhArg(v)))
	case ir.ActMish:
		v := float64(x)
		return F(v * math.Tanh(softplus(v)))
	}
	return x
}

// deriv is dy/dx of an element-wise kind given x and y.
func (a activation[F]) deriv(x, y F) F {
	switch a.kind {
	case ir.ActReLU:
		if x > 0 {
			return 1
		}
		return 0
	case ir.ActReLU6:
		if x > 0 && x < 6 {
			return 1
		}
		return 0
	case ir.ActLeakyReLU:
		if x < 0 {
			return a.alpha
		}
		return 1
	case ir.ActELU:
		if x < 0 {
			return y + a.alpha
		}
		return 1
	case ir.ActSELU:
		if x < 0 {
			return y + F(seluScale*seluAlpha)
		}
		return F(seluScale)
	case ir.ActGELU:
		v := float64(x)
		return F(0.5*(1+math.Erf(v/math.Sqrt2)) + v*math.Exp(-v*v/2)/math.Sqrt(2*math.Pi))
	case ir.ActSwish:
		s := F(sigmoid(float64(x)))
		return s + x*s*(1-s)
	case ir.ActSigmoid:
		return y * (1 - y)
	case ir.ActHardSigmoid:
		if v := a.alpha*x + a.beta; v > 0 && v < 1 {
			return a.alpha
		}
		return 0
	case ir.ActTanh:
		return 1 - y*y
	case ir.ActSoftplus:
		return F(sigmoid(float64(x)))
	case ir.ActSoftsign:
		d := 1 + F(math.Abs(float64(x)))
		return 1 / (d * d)
	case ir.ActThresholdReLU:
		if x > a.alpha {
			return 1
		}
		return 0
	case ir.ActClip:
		if x > a.alpha && x < a.beta {
			return 1
		}
		return 0
	case ir.ActHardSwish:
		switch { // torch's boundaries: the slope belongs to [-3, 3]
		case x < -3:
			return 0
		case x > 3:
			return 1
		}
		return x/3 + 0.5
	case ir.ActGELUTanh:
		v := float64(x)
		u := 2 * geluTanhArg(v)
		du := 2 * geluTanhC * (1 + 3*geluTanhK*v*v)
		return F(sigmoid(u) + v*sigmoid(u)*sigmoid(-u)*du)
	case ir.ActMish:
		v := float64(x)
		t := math.Tanh(softplus(v))
		return F(t + v*(1-t*t)*sigmoid(v))
	}
	return 1
}

// forward computes y = f(x); shape includes the batch. x and y may alias
// for element-wise kinds but not for softmax.
func (a activation[F]) forward(x, y []F, shape []int) error {
	switch a.kind {
	case ir.ActIdentity:
		copy(y, x)
	case ir.ActSoftmax, ir.ActLogSoftmax:
		ax, err := a.softmaxAxis(shape)
		if err != nil {
			return err
		}
		outer, n, inner := splitAxis(shape, ax)
		softmax(x, y, outer, n, inner, a.kind == ir.ActLogSoftmax)
	default:
		t := takeFree[actTask[F]](actTasks)
		*t = actTask[F]{a: a, x: x, y: y}
		parallelRange(len(x), 8, t)
		*t = actTask[F]{}
		actTasks.put(t)
	}
	return nil
}

// backward writes dx = dy·f'(x) (overwriting dx); for softmax it uses y.
func (a activation[F]) backward(x, y, dy, dx []F, shape []int) {
	switch a.kind {
	case ir.ActIdentity:
		copy(dx, dy)
	case ir.ActSoftmax, ir.ActLogSoftmax:
		ax, _ := a.softmaxAxis(shape)
		outer, n, inner := splitAxis(shape, ax)
		softmaxBackward(y, dy, dx, outer, n, inner, a.kind == ir.ActLogSoftmax)
	default:
		t := takeFree[actTask[F]](actTasks)
		*t = actTask[F]{a: a, x: x, y: y, dy: dy, dx: dx, back: true}
		parallelRange(len(dx), 8, t)
		*t = actTask[F]{}
		actTasks.put(t)
	}
}

// actTask is forward (or backward) over a range of elements.
type actTask[F Float] struct {
	a            activation[F]
	x, y, dy, dx []F
	back         bool
}

var actTasks = newFreeList()

func (t *actTask[F]) runRange(lo, hi int) {
	if t.back {
		t.a.backwardRange(t.x[lo:hi], t.y[lo:hi], t.dy[lo:hi], t.dx[lo:hi])
		return
	}
	t.a.forwardRange(t.x[lo:hi], t.y[lo:hi])
}

// splitAxis views shape as [outer, shape[ax], inner].
func splitAxis(shape []int, ax int) (outer, n, inner int) {
	return ir.NumElements(shape[:ax]), shape[ax], ir.NumElements(shape[ax+1:])
}

func softmax[F Float](x, y []F, outer, n, inner int, logOut bool) {
	for o := 0; o < outer; o++ {
		for in := 0; in < inner; in++ {
			base := o*n*inner + in
			m := math.Inf(-1)
			for j := 0; j < n; j++ {
				m = math.Max(m, float64(x[base+j*inner]))
			}
			var s float64
			for j := 0; j < n; j++ {
				s += math.Exp(float64(x[base+j*inner]) - m)
			}
			ls := math.Log(s)
			for j := 0; j < n; j++ {
				v := float64(x[base+j*inner]) - m
				if logOut {
					y[base+j*inner] = F(v - ls)
				} else {
					y[base+j*inner] = F(math.Exp(v) / s)
				}
			}
		}
	}
}

func softmaxBackward[F Float](y, dy, dx []F, outer, n, inner int, logOut bool) {
	for o := 0; o < outer; o++ {
		for in := 0; in < inner; in++ {
			base := o*n*inner + in
			var s F
			for j := 0; j < n; j++ {
				k := base + j*inner
				if logOut {
					s += dy[k]
				} else {
					s += dy[k] * y[k]
				}
			}
			for j := 0; j < n; j++ {
				k := base + j*inner
				if logOut {
					dx[k] = dy[k] - F(math.Exp(float64(y[k])))*s
				} else {
					dx[k] = y[k] * (dy[k] - s)
				}
			}
		}
	}
}
