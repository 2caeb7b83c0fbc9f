package nn

import "github.com/retarget-dev/retarget/ir"

// forwardRange is y = f(x) for an element-wise kind, with dedicated loops
// for the piecewise-linear kinds (the common ones, and cheap enough that a
// per-element switch would dominate). x and y may alias.
func (a activation[F]) forwardRange(x, y []F) {
	y = y[:len(x)]
	switch a.kind {
	case ir.ActReLU:
		for i, v := range x {
			y[i] = max(v, 0)
		}
	case ir.ActReLU6:
		for i, v := range x {
			y[i] = min(max(v, 0), 6)
		}
	case ir.ActLeakyReLU:
		al := a.alpha
		for i, v := range x {
			if v < 0 {
				v *= al
			}
			y[i] = v
		}
	case ir.ActClip:
		lo, hi := a.alpha, a.beta
		for i, v := range x {
			y[i] = min(max(v, lo), hi)
		}
	default:
		for i, v := range x {
			y[i] = a.scalar(v)
		}
	}
}

// backwardRange is dx = dy·f'(x) for an element-wise kind. dx may alias dy.
func (a activation[F]) backwardRange(x, y, dy, dx []F) {
	dx = dx[:len(x)]
	dy = dy[:len(x)]
	switch a.kind {
	case ir.ActReLU:
		for i, v := range x {
			if v > 0 {
				dx[i] = dy[i]
			} else {
				dx[i] = 0
			}
		}
	case ir.ActReLU6:
		for i, v := range x {
			if v > 0 && v < 6 {
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
