package nn

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

func init() {
	RegisterOp("Bidirectional", newBidirectional[float32], newBidirectional[float64])
}

// bidirectionalOp runs its layer forwards ("fw/" parameters) and backwards
// ("bw/"), re-reverses the backward sequence output so that step t of both
// lines up (as Keras), and merges them.
type bidirectionalOp[F Float] struct {
	fw, bw *rnnSeq[F]
	merge  ir.BiMerge
	yf, yb *Mat[F] // cached for the mul merge
	err    error
}

func newBidirectional[F Float](v *ir.Vertex, in [][]int, out []int, params *Params[F]) (Op[F], error) {
	b, ok := v.Layer.(*ir.Bidirectional)
	if !ok || b.Layer == nil {
		return nil, fmt.Errorf("Bidirectional without an inner layer")
	}
	if len(in) != 1 || len(in[0]) != 2 {
		return nil, fmt.Errorf("Bidirectional needs one [time, features] input, got %v", in)
	}
	switch b.Merge {
	case ir.BiConcat, ir.BiSum, ir.BiMul, ir.BiAverage:
	default:
		return nil, fmt.Errorf("Bidirectional merge %q is not supported", b.Merge)
	}
	fw, err := newRnnSeq(b.Layer, in[0][1], params, "fw/", false)
	if err != nil {
		return nil, err
	}
	bw, err := newRnnSeq(b.Layer, in[0][1], params, "bw/", true)
	if err != nil {
		return nil, err
	}
	return &bidirectionalOp[F]{fw: fw, bw: bw, merge: b.Merge}, nil
}

func (o *bidirectionalOp[F]) Err() error { return o.err }

func (o *bidirectionalOp[F]) SkipInputGrads(need []bool) {
	o.fw.skipDx, o.bw.skipDx = !need[0], !need[0]
}

func (o *bidirectionalOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	mask, x := p.Mask, in[0]
	if o.err = o.fw.checkInput(x, mask); o.err != nil {
		e := rnnEmptyOut(x, o.fw)
		if o.merge == ir.BiConcat {
			e.Shape[len(e.Shape)-1] *= 2
			e.Data = make([]F, 2*len(e.Data))
		}
		return e
	}
	yf := o.fw.forward(x, mask, nil)
	yb := o.bw.forward(x, mask, nil)
	if o.fw.seqOut {
		yb = rnnReverseTime(yb)
	} else {
		p.Mask = nil
	}
	o.yf, o.yb = yf, yb
	if o.merge == ir.BiConcat {
		return rnnConcatLast(yf, yb)
	}
	out := NewMat[F](yf.Shape...)
	for i, a := range yf.Data {
		b := yb.Data[i]
		switch o.merge {
		case ir.BiSum:
			out.Data[i] = a + b
		case ir.BiMul:
			out.Data[i] = a * b
		case ir.BiAverage:
			out.Data[i] = (a + b) / 2
		}
	}
	return out
}

func (o *bidirectionalOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	var df, db *Mat[F]
	if o.merge == ir.BiConcat {
		df, db = rnnSplitLast(dOut, o.fw.units)
	} else {
		df, db = NewMat[F](o.yf.Shape...), NewMat[F](o.yb.Shape...)
		for i, d := range dOut.Data {
			switch o.merge {
			case ir.BiSum:
				df.Data[i], db.Data[i] = d, d
			case ir.BiMul:
				df.Data[i], db.Data[i] = d*o.yb.Data[i], d*o.yf.Data[i]
			case ir.BiAverage:
				df.Data[i], db.Data[i] = d/2, d/2
			}
		}
	}
	if o.fw.seqOut {
		db = rnnReverseTime(db)
	}
	dx, dxb := o.fw.backwardPass(df), o.bw.backwardPass(db)
	if dx != nil {
		addTo(dx.Data, dxb.Data)
	}
	return []*Mat[F]{dx}
}

// rnnReverseTime reverses axis 1 of [N, T, ...].
func rnnReverseTime[F Float](m *Mat[F]) *Mat[F] {
	n, t := m.Shape[0], m.Shape[1]
	inner := len(m.Data) / max(n*t, 1)
	out := NewMat[F](m.Shape...)
	for i := 0; i < n; i++ {
		for s := 0; s < t; s++ {
			copy(out.Data[(i*t+s)*inner:(i*t+s+1)*inner], m.Data[(i*t+t-1-s)*inner:])
		}
	}
	return out
}

// rnnConcatLast joins two tensors of equal shape along the last axis.
func rnnConcatLast[F Float](a, b *Mat[F]) *Mat[F] {
	shape := append([]int(nil), a.Shape...)
	k := shape[len(shape)-1]
	shape[len(shape)-1] = 2 * k
	out := NewMat[F](shape...)
	for r := 0; r < len(a.Data)/max(k, 1); r++ {
		copy(out.Data[2*r*k:], a.Data[r*k:(r+1)*k])
		copy(out.Data[(2*r+1)*k:], b.Data[r*k:(r+1)*k])
	}
	return out
}

// rnnSplitLast undoes rnnConcatLast, k being the size of each half.
func rnnSplitLast[F Float](m *Mat[F], k int) (*Mat[F], *Mat[F]) {
	shape := append([]int(nil), m.Shape...)
	shape[len(shape)-1] = k
	a, b := NewMat[F](shape...), NewMat[F](shape...)
	for r := 0; r < len(a.Data)/max(k, 1); r++ {
		copy(a.Data[r*k:(r+1)*k], m.Data[2*r*k:])
		copy(b.Data[r*k:(r+1)*k], m.Data[(2*r+1)*k:])
	}
	return a, b
}
