package nn

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

func init() {
	RegisterOp("LastTimeStep", newLastTimeStep[float32], newLastTimeStep[float64])
}

// lastTimeStepOp takes step T-1 of [N, T, ...], or per row the last step the
// sequence mask keeps (a row with every step masked gives zeros). Its output
// has no time axis, so it clears Pass.Mask.
type lastTimeStepOp[F Float] struct {
	inShape []int
	pick    []int // chosen step per row, -1 for none
	err     error
}

func newLastTimeStep[F Float](v *ir.Vertex, in [][]int, out []int, params *Params[F]) (Op[F], error) {
	if len(in) != 1 || len(in[0]) < 2 {
		return nil, fmt.Errorf("LastTimeStep needs one [time, ...] input, got %v", in)
	}
	return &lastTimeStepOp[F]{}, nil
}

func (o *lastTimeStepOp[F]) Err() error { return o.err }

func (o *lastTimeStepOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x := in[0]
	o.err = nil
	o.inShape = append(o.inShape[:0], x.Shape...)
	if len(x.Shape) < 3 {
		o.err = fmt.Errorf("LastTimeStep wants input [batch, time, ...], got %v", x.Shape)
		return NewMat[F](1)
	}
	n, t := x.Shape[0], x.Shape[1]
	out := NewMat[F](append([]int{n}, x.Shape[2:]...)...)
	inner := ir.NumElements(x.Shape[2:])
	mask := p.Mask
	if mask != nil && len(mask) != n*t {
		o.err = fmt.Errorf("sequence mask has %d values for input %v (want batch×time = %d)", len(mask), x.Shape, n*t)
		return out
	}
	o.pick = o.pick[:0]
	for row := 0; row < n; row++ {
		s := t - 1
		for mask != nil && s >= 0 && mask[row*t+s] == 0 {
			s--
		}
		o.pick = append(o.pick, s)
		if s >= 0 {
			copy(out.Data[row*inner:(row+1)*inner], x.Data[(row*t+s)*inner:])
		}
	}
	p.Mask = nil
	return out
}

func (o *lastTimeStepOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	dx := NewMat[F](o.inShape...)
	t := o.inShape[1]
	inner := ir.NumElements(o.inShape[2:])
	for row, s := range o.pick {
		if s >= 0 {
			copy(dx.Data[(row*t+s)*inner:(row*t+s+1)*inner], dOut.Data[row*inner:])
		}
	}
	return []*Mat[F]{dx}
}
