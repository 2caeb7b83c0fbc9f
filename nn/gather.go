package nn

import "github.com/retarget-dev/retarget/ir"

// indexMap maps every element of one output example to the element of the
// input example it copies (-1: a constant fill). Many shape ops (pad, crop,
// slice, nearest upsampling, depth/space moves) are such gathers.
type indexMap struct {
	in, out []int // per-example shapes
	src     []int32
}

// buildMap enumerates the output multi-index in row-major order.
func buildMap(in, out []int, f func(idx []int) int) *indexMap {
	n := ir.NumElements(out)
	m := &indexMap{in: append([]int(nil), in...), out: append([]int(nil), out...), src: make([]int32, n)}
	idx := make([]int, len(out))
	for i := 0; i < n; i++ {
		m.src[i] = int32(f(idx))
		for a := len(out) - 1; a >= 0; a-- {
			idx[a]++
			if idx[a] < out[a] {
				break
			}
			idx[a] = 0
		}
	}
	return m
}

// gatherOp runs an indexMap forward (copy) and backward (scatter-add).
type gatherOp[F Float] struct {
	mapFor func(in []int) (*indexMap, error)
	fill   F
	m      *indexMap
	inSh   []int
	y, dx  *Mat[F]
}

func (o *gatherOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x := in[0]
	if o.m == nil || !ir.SameShape(o.m.in, x.Shape[1:]) {
		m, err := o.mapFor(x.Shape[1:])
		if err != nil {
			panic(err)
		}
		o.m = m
	}
	o.inSh = x.Shape
	n := x.Shape[0]
	ip, op := len(x.Data)/max(n, 1), len(o.m.src)
	o.y = reuse(o.y, withBatch(n, o.m.out)...)
	for b := 0; b < n; b++ {
		src := x.Data[b*ip : (b+1)*ip]
		dst := o.y.Data[b*op : (b+1)*op]
		for i, s := range o.m.src {
			if s < 0 {
				dst[i] = o.fill
			} else {
				dst[i] = src[s]
			}
		}
	}
	return o.y
}

func (o *gatherOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	o.dx = reuseZero(o.dx, o.inSh...)
	n := o.inSh[0]
	ip, op := len(o.dx.Data)/max(n, 1), len(o.m.src)
	for b := 0; b < n; b++ {
		dst := o.dx.Data[b*ip : (b+1)*ip]
		src := dOut.Data[b*op : (b+1)*op]
		for i, s := range o.m.src {
			if s >= 0 {
				dst[s] += src[i]
			}
		}
	}
	return []*Mat[F]{o.dx}
}
