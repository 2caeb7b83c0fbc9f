package nn

import (
	"math"

	"github.com/retarget-dev/retarget/ir"
	"gonum.org/v1/gonum/blas/gonum"
)

// forwardRange is y = f(x) for an element-wise kind, with dedicated loops
// for the piecewise-linear kinds (the common ones, and cheap enough that a
// per-element switch would dominate). x and y may alias.
func (a activation[F]) forwardRange(x, y []F) {
	y = y[:len(x)]
	switch a.kind {
	case ir.ActReLU:
		clampRange(x, y, 0, F(math.Inf(1)))
	case ir.ActReLU6:
		clampRange(x, y, 0, 6)
	case ir.ActLeakyReLU:
		al := a.alpha
		for i, v := range x {
			if v < 0 {
				v *= al
			}
			y[i] = v
		}
	case ir.ActClip:
		clampRange(x, y, a.alpha, a.beta)
	case ir.ActGELU:
		if x32, ok := any(x).([]float32); ok {
			y32 := any(y).([]float32)
			for i := geluSIMD(x32, y32); i < len(x32); i++ {
				v := x32[i]
				y32[i] = 0.5 * v * (1 + erff(v*(1/math.Sqrt2)))
			}
			return
		}
		for i, v := range x {
			y[i] = a.scalar(v)
		}
	default:
		for i, v := range x {
			y[i] = a.scalar(v)
		}
	}
}

// clampRange writes y = min(hi, max(lo, x)) element-wise; x and y may
// alias. It compares instead of calling the built-in min and max, whose
// NaN and signed-zero handling costs branches per element: a NaN input
// still gives NaN (neither comparison holds; the AVX2 loop keeps x as the
// operand VMAXPS/VMINPS return on NaN), but -0 stays -0 where max(-0, 0)
// would give +0.
func clampRange[F Float](x, y []F, lo, hi F) {
	y = y[:len(x)]
	i := 0
	if xs, ok := any(x).([]float32); ok {
		i = clampSIMD(xs, any(y).([]float32), float32(lo), float32(hi))
	}
	for ; i < len(x); i++ {
		v := x[i]
		if v < lo {
			v = lo
		}
		if v > hi {
			v = hi
		}
		y[i] = v
	}
}

// affineRange writes y = x·sc + sh element-wise, the product rounded
// before the sum (never a fused multiply-add, so that every caller, SIMD
// or not, gets the same bits); x and y may alias.
func affineRange[F Float](x, y []F, sc, sh F) {
	y = y[:len(x)]
	i := 0
	if xs, ok := any(x).([]float32); ok {
		i = affineSIMD(xs, any(y).([]float32), float32(sc), float32(sh))
	}
	for ; i < len(x); i++ {
		y[i] = F(x[i]*sc) + sh
	}
}

// backwardRange is dx = dy·f'(x) for an element-wise kind. dx may alias dy.
func (a activation[F]) backwardRange(x, y, dy, dx []F) {
	dx = dx[:len(x)]
	dy = dy[:len(x)]
	switch a.kind {
	case ir.ActReLU:
		i := 0
		if xs, ok := any(x).([]float32); ok {
			i = reluGradSIMD(xs, any(dy).([]float32), any(dx).([]float32), float32(math.NaN()))
		}
		for ; i < len(x); i++ {
			if v := x[i]; v > 0 {
				dx[i] = dy[i]
			} else {
				dx[i] = 0
			}
		}
	case ir.ActReLU6:
		i := 0
		if xs, ok := any(x).([]float32); ok {
			i = reluGradSIMD(xs, any(dy).([]float32), any(dx).([]float32), 6)
		}
		for ; i < len(x); i++ {
			if v := x[i]; v > 0 && v < 6 {
				dx[i] = dy[i]
			} else {
				dx[i] = 0
			}
		}
	default:
		for i := range dx {
			dx[i] = dy[i] * a.deriv(x[i], y[i])
		}
	}
}

// axpy is y += a·x, with gonum's vectorised loop for float32.
func axpy[F Float](a F, x, y []F) {
	y = y[:len(x)]
	if x32, ok := any(x).([]float32); ok {
		gonum.Implementation{}.Saxpy(len(x32), float32(a), x32, 1, any(y).([]float32), 1)
		return
	}
	for i, v := range x {
		y[i] += a * v
	}
}

// clampBounds is the activation as clamp(x, lo, hi) (identity, ReLU,
// ReLU6, Clip, with clampRange's bits); ok is false for any other.
func (a activation[F]) clampBounds() (lo, hi F, ok bool) {
	inf := F(math.Inf(1))
	switch a.kind {
	case ir.ActIdentity:
		return -inf, inf, true
	case ir.ActReLU:
		return 0, inf, true
	case ir.ActReLU6:
		return 0, 6, true
	case ir.ActClip:
		return a.alpha, a.beta, true
	}
	return 0, 0, false
}

// biasClampAdd does, on one plane, row = clamp(clamp(row+b, lo1, hi1) +
// skip, lo2, hi2), or without skip (nil) only the first clamp: the same
// bits as affineRange (scale 1), clampRange, addTo and clampRange one
// after the other, in one pass.
func biasClampAdd(row, skip []float32, b, lo1, hi1, lo2, hi2 float32) {
	if skip != nil {
		skip = skip[:len(row)]
	}
	for i := biasClampAddSIMD(row, skip, b, lo1, hi1, lo2, hi2); i < len(row); i++ {
		v := row[i] + b
		if v < lo1 {
			v = lo1
		}
		if v > hi1 {
			v = hi1
		}
		if skip != nil {
			if v += skip[i]; v < lo2 {
				v = lo2
			}
			if v > hi2 {
				v = hi2
			}
		}
		row[i] = v
	}
}
