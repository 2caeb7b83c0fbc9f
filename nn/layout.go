package nn

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

// layoutPerm returns the permutation from a source layout to the internal
// channels-first one for a tensor of rank (with batch), or nil when the
// data is already internal. Only NWC (rank 3), NHWC (rank 4) and NDHWC
// (rank 5) move (toInternal keeps sequences that are already (batch, time,
// features)).
func layoutPerm(l ir.Layout, rank int) []int {
	if !l.ChannelsLastFor(rank - 1) {
		return nil
	}
	perm := []int{0, rank - 1}
	for k := 1; k < rank-1; k++ {
		perm = append(perm, k)
	}
	return perm
}

// toInternal converts a batch tensor in the source layout into a Mat in
// the internal layout, reusing buf. want is the internal shape without
// batch (-1 for any size). Data that already has the internal shape, and
// not the source one, is taken as it is: the IR tags sequences NWC too.
func toInternal[F Float](buf *Mat[F], t *ir.Tensor, l ir.Layout, want []int) (m *Mat[F], usedBuf bool, err error) {
	if t == nil {
		return nil, false, fmt.Errorf("missing tensor")
	}
	if ir.NumElements(t.Shape) != len(t.Data) {
		return nil, false, fmt.Errorf("tensor of shape %v holds %d values", t.Shape, len(t.Data))
	}
	perm := layoutPerm(l, len(want)+1)
	if perm != nil && len(t.Shape) == len(perm) && fits(t.Shape, want) && !fits(permuted(t.Shape, perm), want) {
		// already internal: a (batch, time, features) sequence tagged NWC
		perm = nil
	}
	if perm == nil || len(t.Shape) != len(perm) {
		if d, ok := any(t.Data).([]F); ok {
			return &Mat[F]{Shape: t.Shape, Data: d}, false, nil
		}
		buf = reuse(buf, t.Shape...)
		for i, v := range t.Data {
			buf.Data[i] = F(v)
		}
		return buf, true, nil
	}
	buf = reuse(buf, permuted(t.Shape, perm)...)
	src := any(t.Data)
	if s, ok := src.([]F); ok {
		transposeND(buf.Data, s, t.Shape, perm)
		return buf, true, nil
	}
	conv := make([]F, len(t.Data))
	for i, v := range t.Data {
		conv[i] = F(v)
	}
	transposeND(buf.Data, conv, t.Shape, perm)
	return buf, true, nil
}

// fromInternal copies an internal output into dst (the source layout) at
// example offset off.
func fromInternal[F Float](dst *ir.Tensor, m *Mat[F], l ir.Layout, off int) {
	per := ir.NumElements(m.Shape[1:])
	out := dst.Data[off*per : off*per+len(m.Data)]
	perm := layoutPerm(l, len(m.Shape))
	if perm == nil {
		for i, v := range m.Data {
			out[i] = float32(v)
		}
		return
	}
	inv := inversePerm(perm)
	tmp := make([]F, len(m.Data))
	transposeND(tmp, m.Data, m.Shape, inv)
	for i, v := range tmp {
		out[i] = float32(v)
	}
}

// externalShape is the source-layout shape of an internal one (with batch).
func externalShape(shape []int, l ir.Layout) []int {
	perm := layoutPerm(l, len(shape))
	if perm == nil {
		return append([]int(nil), shape...)
	}
	inv := inversePerm(perm)
	out := make([]int, len(shape))
	for i, p := range inv {
		out[i] = shape[p]
	}
	return out
}

func permuted(shape, perm []int) []int {
	out := make([]int, len(perm))
	for i, p := range perm {
		out[i] = shape[p]
	}
	return out
}

// fits reports whether a shape with batch matches one without (-1: any).
func fits(shape, want []int) bool {
	if len(shape) != len(want)+1 {
		return false
	}
	for i, d := range want {
		if d >= 0 && shape[i+1] != d {
			return false
		}
	}
	return true
}
