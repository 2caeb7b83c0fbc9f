package nn

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

// poolOp is max/average pooling over 1 or 2 spatial axes. Windows that run
// past the padded input (ceil mode) are clipped; padding never wins a max;
// an average divides by the window clipped to the padded input
// (count_include_pad) or to the real input (PyTorch semantics).
type poolOp[F Float] struct {
	p       *ir.Pool
	max     bool
	inShape []int
	out     *Mat[F]
	dx      *Mat[F]
	argmax  []int32
	// per spatial axis (h then w; 1-D uses h = 1)
	h, w, oh, ow, kh, kw, sh, sw, pt, pl, pb, pr int
}

func newPool[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	p := v.Layer.(*ir.Pool)
	if p.Rank != 1 && p.Rank != 2 {
		return nil, fmt.Errorf("pooling rank %d (1 or 2 supported)", p.Rank)
	}
	if len(p.Kernel) != p.Rank {
		return nil, fmt.Errorf("pool kernel %v for rank %d", p.Kernel, p.Rank)
	}
	return &poolOp[F]{p: p, max: p.Op == ir.PoolMax}, nil
}

func (o *poolOp[F]) setup(in []int) error {
	if ir.SameShape(in, o.inShape) {
		return nil
	}
	p := o.p
	sp := in[2:]
	pad := p.Padding
	if pad == "" {
		pad = ir.PadValid
	}
	out, err := ir.SpatialOut(p.Kind(), sp, p.Kernel, p.Stride(), nil, pad, p.Pads, p.CeilMode)
	if err != nil {
		return err
	}
	b, e := ir.ResolvePads(sp, p.Kernel, p.Stride(), nil, pad, p.Pads)
	st := p.Stride()
	o.h, o.oh, o.kh, o.sh, o.pt, o.pb = 1, 1, 1, 1, 0, 0
	if p.Rank == 2 {
		o.h, o.oh, o.kh, o.sh, o.pt, o.pb = sp[0], out[0], p.Kernel[0], max(st[0], 1), b[0], e[0]
	}
	a := p.Rank - 1
	o.w, o.ow, o.kw, o.sw, o.pl, o.pr = sp[a], out[a], p.Kernel[a], max(st[a], 1), b[a], e[a]
	o.inShape = append(o.inShape[:0], in...)
	return nil
}

func (o *poolOp[F]) outShape() []int {
	s := []int{o.inShape[0], o.inShape[1]}
	if o.p.Rank == 2 {
		s = append(s, o.oh)
	}
	return append(s, o.ow)
}

// window returns the clipped window of output (i, j) and the divisor of an
// average.
func (o *poolOp[F]) window(i, j int) (h0, h1, w0, w1, div int) {
	h0, w0 = i*o.sh-o.pt, j*o.sw-o.pl
	h1, w1 = min(h0+o.kh, o.h+o.pb), min(w0+o.kw, o.w+o.pr)
	padded := (h1 - h0) * (w1 - w0)
	h0, w0 = max(h0, 0), max(w0, 0)
	h1, w1 = min(h1, o.h), min(w1, o.w)
	div = (h1 - h0) * (w1 - w0)
	if o.p.CountIncludePad {
		div = padded
	}
	return
}

func (o *poolOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x := in[0]
	if err := o.setup(x.Shape); err != nil {
		panic(err)
	}
	o.out = outBuf(p, o.out, o.outShape()...)
	planes := x.Shape[0] * x.Shape[1]
	ip, op := o.h*o.w, o.oh*o.ow
	if o.max {
		if cap(o.argmax) < len(o.out.Data) {
			o.argmax = make([]int32, len(o.out.Data))
		}
		o.argmax = o.argmax[:len(o.out.Data)]
	}
	parallelFor(planes, ip, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			o.forwardPlane(x.Data[pl*ip:(pl+1)*ip], o.out.Data[pl*op:(pl+1)*op], pl*op)
		}
	})
	return o.out
}

// forwardPlane pools one [h, w] plane into dst; off is the plane's first
// output element (its argmax entries).
func (o *poolOp[F]) forwardPlane(src, dst []F, off int) {
	if o.max && o.kh == 2 && o.kw == 2 && o.sh == 2 && o.sw == 2 && o.pt == 0 && o.pl == 0 &&
		2*o.oh <= o.h && 2*o.ow <= o.w {
		o.max2x2(src, dst, o.argmax[off:off+len(dst)])
		return
	}
	for i := 0; i < o.oh; i++ {
		for j := 0; j < o.ow; j++ {
			h0, h1, w0, w1, div := o.window(i, j)
			if o.max {
				best, bi := F(0), int32(-1)
				for y := h0; y < h1; y++ {
					for xx := w0; xx < w1; xx++ {
						if v := src[y*o.w+xx]; bi < 0 || v > best {
							best, bi = v, int32(y*o.w+xx)
						}
					}
				}
				dst[i*o.ow+j] = best
				o.argmax[off+i*o.ow+j] = bi
				continue
			}
			var s F
			for y := h0; y < h1; y++ {
				for _, v := range src[y*o.w+w0 : y*o.w+w1] {
					s += v
				}
			}
			if div > 0 {
				s /= F(div)
			}
			dst[i*o.ow+j] = s
		}
	}
}

// max2x2 is max pooling with 2×2 windows, stride 2, every window inside
// the input. Ties go to the first element in row-major order, as the
// general loop does.
func (o *poolOp[F]) max2x2(src, dst []F, arg []int32) {
	w := o.w
	for i := 0; i < o.oh; i++ {
		r0, r1 := src[2*i*w:(2*i+1)*w], src[(2*i+1)*w:(2*i+2)*w]
		d, a := dst[i*o.ow:(i+1)*o.ow], arg[i*o.ow:(i+1)*o.ow]
		j := 0
		if d32, ok := any(d).([]float32); ok {
			j = max2x2RowSIMD(any(r0).([]float32), any(r1).([]float32), d32, a, w, 2*i*w)
		}
		for ; j < len(d); j++ {
			c := 2 * j
			best, bi := r0[c], c
			if v := r0[c+1]; v > best {
				best, bi = v, c+1
			}
			if v := r1[c]; v > best {
				best, bi = v, w+c
			}
			if v := r1[c+1]; v > best {
				best, bi = v, w+c+1
			}
			d[j] = best
			a[j] = int32(2*i*w + bi)
		}
	}
}

func (o *poolOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	o.dx = reuseZero(o.dx, o.inShape...)
	planes := o.inShape[0] * o.inShape[1]
	ip, op := o.h*o.w, o.oh*o.ow
	parallelFor(planes, ip, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			dst := o.dx.Data[pl*ip : (pl+1)*ip]
			src := dOut.Data[pl*op : (pl+1)*op]
			if o.max {
				for k, g := range src {
					if a := o.argmax[pl*op+k]; a >= 0 {
						dst[a] += g
					}
				}
				continue
			}
			for i := 0; i < o.oh; i++ {
				for j := 0; j < o.ow; j++ {
					h0, h1, w0, w1, div := o.window(i, j)
					if div == 0 {
						continue
					}
					g := src[i*o.ow+j] / F(div)
					for y := h0; y < h1; y++ {
						row := dst[y*o.w+w0 : y*o.w+w1]
						for k := range row {
							row[k] += g
						}
					}
				}
			}
		}
	})
	return []*Mat[F]{o.dx}
}

// globalPoolOp pools every spatial position of [N, C, ...].
type globalPoolOp[F Float] struct {
	max, keep bool
	inShape   []int
	out, dx   *Mat[F]
	argmax    []int
}

func newGlobalPool[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	p := v.Layer.(*ir.GlobalPool)
	return &globalPoolOp[F]{max: p.Op == ir.PoolMax, keep: p.KeepDims}, nil
}

func (o *globalPoolOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x := in[0]
	o.inShape = append(o.inShape[:0], x.Shape...)
	planes := x.Shape[0] * x.Shape[1]
	per := len(x.Data) / max(planes, 1)
	shape := []int{x.Shape[0], x.Shape[1]}
	if o.keep {
		for range x.Shape[2:] {
			shape = append(shape, 1)
		}
	}
	o.out = outBuf(p, o.out, shape...)
	if o.max && cap(o.argmax) < planes {
		o.argmax = make([]int, planes)
	}
	for pl := 0; pl < planes; pl++ {
		src := x.Data[pl*per : (pl+1)*per]
		if o.max {
			bi := 0
			for k, v := range src {
				if v > src[bi] {
					bi = k
				}
			}
			o.argmax[pl] = bi
			o.out.Data[pl] = src[bi]
			continue
		}
		var s F
		for _, v := range src {
			s += v
		}
		o.out.Data[pl] = s / F(per)
	}
	return o.out
}

func (o *globalPoolOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	o.dx = reuseZero(o.dx, o.inShape...)
	planes := o.inShape[0] * o.inShape[1]
	per := len(o.dx.Data) / max(planes, 1)
	for pl := 0; pl < planes; pl++ {
		g := dOut.Data[pl]
		dst := o.dx.Data[pl*per : (pl+1)*per]
		if o.max {
			dst[o.argmax[pl]] = g
			continue
		}
		g /= F(per)
		for k := range dst {
			dst[k] = g
		}
	}
	return []*Mat[F]{o.dx}
}

func init() {
	for _, op := range []ir.PoolOp{ir.PoolMax, ir.PoolAvg} {
		for _, r := range []int{1, 2} {
			RegisterOp((&ir.Pool{Rank: r, Op: op}).Kind(), newPool[float32], newPool[float64])
			RegisterOp((&ir.GlobalPool{Rank: r, Op: op}).Kind(), newGlobalPool[float32], newGlobalPool[float64])
		}
	}
}
