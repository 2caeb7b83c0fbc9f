package nn

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

func init() {
	RegisterOp("RepeatVector", newRepeatVector[float32], newRepeatVector[float64])
}

// repeatVectorOp turns [N, F] into [N, R, F]. Its time axis is new and has
// no padding, so it clears Pass.Mask.
type repeatVectorOp[F Float] struct {
	n, feat int
	err     error
}

func newRepeatVector[F Float](v *ir.Vertex, in [][]int, out []int, params *Params[F]) (Op[F], error) {
	r, ok := v.Layer.(*ir.RepeatVector)
	if !ok || r.N <= 0 {
		return nil, fmt.Errorf("RepeatVector needs a positive n")
	}
	if len(in) != 1 || len(in[0]) != 1 || in[0][0] <= 0 {
		return nil, fmt.Errorf("RepeatVector needs one [features] input, got %v", in)
	}
	return &repeatVectorOp[F]{n: r.N, feat: in[0][0]}, nil
}

func (o *repeatVectorOp[F]) Err() error { return o.err }

func (o *repeatVectorOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x := in[0]
	o.err = nil
	if len(x.Shape) != 2 || x.Shape[1] != o.feat || len(x.Data) != x.Shape[0]*o.feat {
		o.err = fmt.Errorf("RepeatVector wants input [batch, %d], got %v", o.feat, x.Shape)
		return NewMat[F](0, o.n, o.feat)
	}
	b := x.Shape[0]
	out := NewMat[F](b, o.n, o.feat)
	for i := 0; i < b; i++ {
		row := x.Data[i*o.feat : (i+1)*o.feat]
		for s := 0; s < o.n; s++ {
			copy(out.Data[(i*o.n+s)*o.feat:], row)
		}
	}
	p.Mask = nil
	return out
}

func (o *repeatVectorOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	b := dOut.Shape[0]
	dx := NewMat[F](b, o.feat)
	for i := 0; i < b; i++ {
		dst := dx.Data[i*o.feat : (i+1)*o.feat]
		for s := 0; s < o.n; s++ {
			for j, v := range dOut.Data[(i*o.n+s)*o.feat : (i*o.n+s+1)*o.feat] {
				dst[j] += v
			}
		}
	}
	return []*Mat[F]{dx}
}
