package nn

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

func init() {
	RegisterOp("Masking", newMasking[float32], newMasking[float64])
}

// maskingOp marks the time steps of [N, T, ...] whose features all equal
// the mask value as padding: it sets Pass.Mask to that (N, T) mask and, as
// Keras, zeroes the masked steps of its output.
type maskingOp[F Float] struct {
	value F
	mask  []F
	err   error
}

func newMasking[F Float](v *ir.Vertex, in [][]int, out []int, params *Params[F]) (Op[F], error) {
	m, ok := v.Layer.(*ir.Masking)
	if !ok {
		return nil, fmt.Errorf("not a Masking layer")
	}
	if len(in) != 1 || len(in[0]) < 2 {
		return nil, fmt.Errorf("Masking needs one [time, features] input, got %v", in)
	}
	return &maskingOp[F]{value: F(m.Value)}, nil
}

func (o *maskingOp[F]) Err() error { return o.err }

func (o *maskingOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x := in[0]
	o.err = nil
	out := NewMat[F](x.Shape...)
	if len(x.Shape) < 3 {
		o.err = fmt.Errorf("Masking wants input [batch, time, features], got %v", x.Shape)
		return out
	}
	n, t := x.Shape[0], x.Shape[1]
	inner := ir.NumElements(x.Shape[2:])
	o.mask = make([]F, n*t)
	for r := 0; r < n*t; r++ {
		src := x.Data[r*inner : (r+1)*inner]
		for _, v := range src {
			if v != o.value {
				o.mask[r] = 1
				copy(out.Data[r*inner:(r+1)*inner], src)
				break
			}
		}
	}
	p.Mask = o.mask
	return out
}

func (o *maskingOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	dx := NewMat[F](dOut.Shape...)
	inner := len(dOut.Data) / max(len(o.mask), 1)
	for r, m := range o.mask {
		if m != 0 {
			copy(dx.Data[r*inner:(r+1)*inner], dOut.Data[r*inner:])
		}
	}
	return []*Mat[F]{dx}
}

// mergeMasks is the mask of a merge's output: the inputs' masks
// concatenated for a Concatenate along time (a missing one keeps every
// step), their product otherwise.
func mergeMasks[F Float](buf *[]F, l ir.Layer, masks [][]F, ins []*Mat[F]) []F {
	c, ok := l.(*ir.Concat)
	if !ok || len(ins) == 0 || len(ins[0].Shape) < 2 || (c.Axis != 0 && c.Axis != 1-len(ins[0].Shape)) {
		return andMasks(buf, masks)
	}
	any := false
	for _, m := range masks {
		any = any || m != nil
	}
	if !any {
		return nil
	}
	n, total := ins[0].Shape[0], 0
	for _, x := range ins {
		total += x.Shape[1]
	}
	*buf = growSlice(*buf, n*total)
	out := *buf
	off := 0
	for i, x := range ins {
		t := x.Shape[1]
		for b := 0; b < n; b++ {
			dst := out[b*total+off : b*total+off+t]
			if m := masks[i]; m != nil && len(m) == n*t {
				copy(dst, m[b*t:(b+1)*t])
			} else {
				for k := range dst {
					dst[k] = 1
				}
			}
		}
		off += t
	}
	return out
}

// andMasks is the product of the masks that are not nil (nil when none
// is; the one mask when only one is), in *buf.
func andMasks[F Float](buf *[]F, masks [][]F) []F {
	var first []F
	n := 0
	for _, m := range masks {
		if m != nil {
			if first == nil {
				first = m
			}
			n++
		}
	}
	if n < 2 {
		return first
	}
	*buf = growSlice(*buf, len(first))
	out := *buf
	copy(out, first)
	for _, m := range masks {
		if m == nil {
			continue
		}
		if len(m) != len(out) {
			return first // masks of different sequences: keep the first input's
		}
		for i, v := range m {
			out[i] *= v
		}
	}
	return out
}
