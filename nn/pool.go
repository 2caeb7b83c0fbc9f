package nn

import (
	"fmt"
	"math"

	"github.com/retarget-dev/retarget/ir"
)

// poolOp is max/average pooling over 1, 2 or 3 spatial axes. Windows that
// run past the padded input (ceil mode) are clipped; padding never wins a
// max; an average divides by the window clipped to the padded input
// (count_include_pad) or to the real input (PyTorch semantics). Max pooling
// may be dilated: taps outside the input are skipped.
type poolOp[F Float] struct {
	p       *ir.Pool
	max     bool
	inShape []int
	out     *Mat[F]
	dx      *Mat[F]
	argmax  []int32
	rowArgs bool // the latest Forward kept no argmax (its Backward will not run)
	// every window of a plain max pooling holds a tap of the input (maxValues)
	windowsFull bool
	// depth, height, width (fewer axes use size-1 leading ones)
	ax [3]poolAxis
	// the 2-D names of ax[1] and ax[2] (the fast 2×2 path and the plane loops)
	h, w, oh, ow, kh, kw, sh, sw, pt, pl int

	oshape []int
	wspan  [][2]int // the clipped column window of each output column (plain max pooling)
	task   poolTask[F]
	dIns   [1]*Mat[F]
}

// poolAxis is the window geometry along one spatial axis.
type poolAxis struct{ n, o, k, s, d, pb, pe int }

// span returns the window of output i clipped to the input, and its size
// clipped to the padded input.
func (a *poolAxis) span(i int) (lo, hi, padded int) {
	lo = i*a.s - a.pb
	hi = min(lo+a.k, a.n+a.pe)
	padded = hi - lo
	return max(lo, 0), min(hi, a.n), padded
}

func newPool[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	p := v.Layer.(*ir.Pool)
	if p.Rank < 1 || p.Rank > 3 {
		return nil, fmt.Errorf("pooling rank %d (1, 2 or 3 supported)", p.Rank)
	}
	if len(p.Kernel) != p.Rank {
		return nil, fmt.Errorf("pool kernel %v for rank %d", p.Kernel, p.Rank)
	}
	if p.Dilated() && p.Op != ir.PoolMax {
		return nil, fmt.Errorf("%s cannot be dilated", p.Kind())
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
	out, err := ir.SpatialOut(p.Kind(), sp, p.Kernel, p.Stride(), p.Dilations, pad, p.Pads, p.CeilMode)
	if err != nil {
		return err
	}
	b, e := ir.ResolvePads(sp, p.Kernel, p.Stride(), p.Dilations, pad, p.Pads)
	st := p.Stride()
	for i := range o.ax {
		o.ax[i] = poolAxis{n: 1, o: 1, k: 1, s: 1, d: 1}
	}
	for i := range sp {
		d := 1
		if i < len(p.Dilations) {
			d = max(p.Dilations[i], 1)
		}
		o.ax[3-len(sp)+i] = poolAxis{n: sp[i], o: out[i], k: p.Kernel[i], s: max(st[i], 1), d: d, pb: b[i], pe: e[i]}
	}
	hx, wx := o.ax[1], o.ax[2]
	o.h, o.oh, o.kh, o.sh, o.pt = hx.n, hx.o, hx.k, hx.s, hx.pb
	o.w, o.ow, o.kw, o.sw, o.pl = wx.n, wx.o, wx.k, wx.s, wx.pb
	o.inShape = append(o.inShape[:0], in...)
	o.wspan = o.wspan[:0]
	o.windowsFull = o.max && o.plain()
	for j := 0; j < wx.o; j++ {
		lo, hi, _ := wx.span(j)
		o.wspan = append(o.wspan, [2]int{lo, hi})
		o.windowsFull = o.windowsFull && lo < hi
	}
	for i := 0; i < hx.o; i++ {
		lo, hi, _ := hx.span(i)
		o.windowsFull = o.windowsFull && lo < hi
	}
	return nil
}

func (o *poolOp[F]) outShape() []int {
	s := append(o.oshape[:0], o.inShape[0], o.inShape[1])
	for _, a := range o.ax[3-o.p.Rank:] {
		s = append(s, a.o)
	}
	o.oshape = s
	return s
}

func (o *poolOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x := in[0]
	if err := o.setup(x.Shape); err != nil {
		panic(err)
	}
	o.out = outBuf(p, o.out, o.outShape()...)
	planes := x.Shape[0] * x.Shape[1]
	ip, op := o.ax[0].n*o.h*o.w, o.ax[0].o*o.oh*o.ow
	// A pass whose Backward will not run keeps no argmax: the plain loops
	// write each row's into a scratch row (VGG16's five pools held 9.6 MB
	// of it at inference).
	o.rowArgs = o.max && (!p.Train || p.NoGrad) && o.plain()
	if o.max && !o.rowArgs {
		if cap(o.argmax) < len(o.out.Data) {
			o.argmax = make([]int32, len(o.out.Data))
		}
		o.argmax = o.argmax[:len(o.out.Data)]
	}
	o.task = poolTask[F]{o: o, src: x.Data, ip: ip, op: op}
	parallelRange(planes, ip, &o.task)
	o.task = poolTask[F]{}
	return o.out
}

// poolTask is Forward (or Backward) over a range of planes.
type poolTask[F Float] struct {
	o      *poolOp[F]
	src    []F // x forward, dOut backward
	ip, op int
	back   bool
}

func (t *poolTask[F]) runRange(lo, hi int) {
	o, ip, op := t.o, t.ip, t.op
	var row []int32 // the scratch rows of a pass that keeps no argmax
	var vals []F
	if !t.back && o.rowArgs {
		box := takeFree[[]int32](poolRowArgs)
		defer poolRowArgs.put(box)
		*box = growSlice(*box, o.ow)
		row = *box
		if o.windowsFull {
			vbox := takeFree[[]F](poolRowVals)
			defer poolRowVals.put(vbox)
			*vbox = growSlice(*vbox, o.valsLen())
			vals = (*vbox)[:o.valsLen()]
			ninf := F(math.Inf(-1))
			for x := range vals { // the padding: maxValues writes only the input's columns
				vals[x] = ninf
			}
		}
	}
	for pl := lo; pl < hi; pl++ {
		if t.back {
			o.backwardPlane(o.dx.Data[pl*ip:(pl+1)*ip], t.src[pl*op:(pl+1)*op], pl*op)
		} else {
			o.forwardPlane(t.src[pl*ip:(pl+1)*ip], o.out.Data[pl*op:(pl+1)*op], pl*op, row, vals)
		}
	}
}

// plain reports whether the window is undilated and 2-D or less.
func (o *poolOp[F]) plain() bool {
	return o.ax[0].n == 1 && o.ax[0].k == 1 && o.ax[1].d == 1 && o.ax[2].d == 1
}

// forwardPlane pools one [d, h, w] volume into dst; off is the volume's
// first output element (its argmax entries), row the scratch argmax row
// and vals maxValues' scratch row when the pass keeps none.
func (o *poolOp[F]) forwardPlane(src, dst []F, off int, row []int32, vals []F) {
	if o.max && o.plain() {
		arg := row
		if !o.rowArgs {
			arg = o.argmax[off : off+len(dst)]
		}
		switch {
		case o.kh == 2 && o.kw == 2 && o.sh == 2 && o.sw == 2 && o.pt == 0 && o.pl == 0 && 2*o.oh <= o.h && 2*o.ow <= o.w:
			o.max2x2(src, dst, arg)
		case o.rowArgs && o.windowsFull && o.maxValues(src, dst, vals):
			// pooled; a plane holding a NaN comes back false, to maxPlain
		default:
			o.maxPlain(src, dst, arg)
		}
		return
	}
	D, H, W := &o.ax[0], &o.ax[1], &o.ax[2]
	k := 0
	for a := 0; a < D.o; a++ {
		for i := 0; i < H.o; i++ {
			for j := 0; j < W.o; j++ {
				if o.max {
					dst[k], o.argmax[off+k] = o.maxWindow(src, a, i, j)
					k++
					continue
				}
				d0, d1, pd := D.span(a)
				h0, h1, ph := H.span(i)
				w0, w1, pw := W.span(j)
				var s F
				for z := d0; z < d1; z++ {
					for y := h0; y < h1; y++ {
						for _, v := range src[(z*o.h+y)*o.w+w0 : (z*o.h+y)*o.w+w1] {
							s += v
						}
					}
				}
				div := (d1 - d0) * (h1 - h0) * (w1 - w0)
				if o.p.CountIncludePad {
					div = pd * ph * pw
				}
				if div > 0 {
					s /= F(div)
				}
				dst[k] = s
				k++
			}
		}
	}
}

// maxWindow is the max of the (dilated) window of output (a, i, j) over
// taps inside the input, and its index in the volume (-1 for none).
func (o *poolOp[F]) maxWindow(src []F, a, i, j int) (F, int32) {
	best, bi := F(0), int32(-1)
	D, H, W := &o.ax[0], &o.ax[1], &o.ax[2]
	for t := 0; t < D.k; t++ {
		z := a*D.s - D.pb + t*D.d
		if z < 0 || z >= D.n {
			continue
		}
		for u := 0; u < H.k; u++ {
			y := i*H.s - H.pb + u*H.d
			if y < 0 || y >= H.n {
				continue
			}
			row := (z*H.n + y) * W.n
			if W.d == 1 {
				// a contiguous run of the row
				w0, w1, _ := W.span(j)
				for x, val := range src[row+w0 : row+w1] {
					if bi < 0 || val > best {
						best, bi = val, int32(row+w0+x)
					}
				}
				continue
			}
			for v := 0; v < W.k; v++ {
				x := j*W.s - W.pb + v*W.d
				if x < 0 || x >= W.n {
					continue
				}
				if val := src[row+x]; bi < 0 || val > best {
					best, bi = val, int32(row+x)
				}
			}
		}
	}
	return best, bi
}

// maxPlain is max pooling with an undilated 2-D (or 1-D) window, as
// maxWindow computes it (the first tap in row-major order that no later one
// exceeds), one tap at a time across a whole output row — long loops over
// the columns, vectorised for float32 strides 1 and 2, instead of a short
// one per window (ResNet50's 3×3 stride-2 pool took 7% of its forward pass
// in maxWindow, mostly mispredicted branches).
func (o *poolOp[F]) maxPlain(src, dst []F, arg []int32) {
	H, W := &o.ax[1], &o.ax[2]
	for i := 0; i < H.o; i++ {
		y0, y1, _ := H.span(i)
		d, a := dst[i*o.ow:][:o.ow], o.argRow(arg, i)
		for j, sp := range o.wspan {
			if y0 < y1 && sp[0] < sp[1] {
				d[j], a[j] = src[y0*o.w+sp[0]], int32(y0*o.w+sp[0])
			} else {
				d[j], a[j] = 0, -1
			}
		}
		for y := y0; y < y1; y++ {
			row := src[y*o.w:][:o.w]
			for v := 0; v < W.k; v++ {
				// the output columns whose tap v lies inside the row: x = j·s − pb + v
				jlo := min(max(0, (W.pb-v+W.s-1)/W.s), o.ow)
				jhi := jlo
				if last := o.w - 1 + W.pb - v; last >= 0 {
					jhi = max(min(o.ow, last/W.s+1), jlo)
				}
				x := jlo*W.s - W.pb + v
				j := jlo
				if d32, ok := any(d).([]float32); ok {
					done := maxTapSIMD(d32[jlo:jhi], a[jlo:jhi], any(row).([]float32), x, W.s, y*o.w)
					j, x = j+done, x+done*W.s
				}
				for ; j < jhi; j++ {
					if c := row[x]; c > d[j] {
						d[j], a[j] = c, int32(y*o.w+x)
					}
					x += W.s
				}
			}
		}
	}
}

// poolRowArgs and poolRowVals keep the scratch rows of inference passes.
var poolRowArgs, poolRowVals = newFreeList(), newFreeList()

// valsLen is the length of maxValues' row: the input row with the left
// padding before it and enough after it for every window.
func (o *poolOp[F]) valsLen() int {
	return max(o.pl+o.w, (o.ow-1)*o.sw+o.kw) + 2
}

// maxValues is max pooling of a pass that keeps no argmax, every window
// holding a tap of the input: for each output row, the max over its
// window's input rows, column by column, into a row padded with -∞ on
// both sides (vals, its padding already -∞), then the max over each
// window's columns of that row.
// Long, vectorised loops, with no argmax to track: ResNet50's 3×3 stride-2
// pool took 4% of its forward pass in maxPlain. A NaN makes the order of
// the taps matter (maxPlain keeps the first tap's NaN and skips later
// ones): it reports false on meeting one, and the caller pools the plane
// again with maxPlain.
func (o *poolOp[F]) maxValues(src, dst, vals []F) bool {
	H := &o.ax[1]
	m := vals
	in := m[o.pl : o.pl+o.w]
	for i := 0; i < o.oh; i++ {
		y0, y1, _ := H.span(i)
		copy(in, src[y0*o.w:][:o.w])
		if y1-y0 == 1 && maxInto(in, in) { // the NaN check alone
			return false
		}
		for y := y0 + 1; y < y1; y++ {
			if maxInto(in, src[y*o.w:][:o.w]) {
				return false
			}
		}
		d := dst[i*o.ow:][:o.ow]
		j := 0
		d32, f32 := any(d).([]float32)
		switch {
		case o.sw == 1:
			copy(d, m)
			for v := 1; v < o.kw; v++ {
				maxInto(d, m[v:])
			}
			continue
		case o.sw == 2 && o.kw == 3 && f32:
			j = max3s2SIMD(d32, any(m).([]float32))
		}
		for ; j < len(d); j++ {
			w := m[j*o.sw:][:o.kw]
			best := w[0]
			for _, c := range w[1:] {
				best = max(best, c)
			}
			d[j] = best
		}
	}
	return true
}

// maxInto does d[i] = max(d[i], s[i]) over d and reports whether either
// held a NaN (d is then unspecified).
func maxInto[F Float](d, s []F) bool {
	s = s[:len(d)]
	i, nan := 0, false
	if d32, ok := any(d).([]float32); ok {
		i, nan = maxIntoSIMD(d32, any(s).([]float32))
	}
	for ; i < len(d); i++ {
		a, b := d[i], s[i]
		nan = nan || a != a || b != b
		d[i] = max(a, b)
	}
	return nan
}

// argRow is the argmax entries of output row i of a plane's arg: its own,
// or the one scratch row that an inference pass reuses for every row.
func (o *poolOp[F]) argRow(arg []int32, i int) []int32 {
	if o.rowArgs {
		return arg[:o.ow]
	}
	return arg[i*o.ow:][:o.ow]
}

// max2x2 is max pooling with 2×2 windows, stride 2, every window inside
// the input. Ties go to the first element in row-major order, as the
// general loop does.
func (o *poolOp[F]) max2x2(src, dst []F, arg []int32) {
	w := o.w
	for i := 0; i < o.oh; i++ {
		r0, r1 := src[2*i*w:(2*i+1)*w], src[(2*i+1)*w:(2*i+2)*w]
		d, a := dst[i*o.ow:(i+1)*o.ow], o.argRow(arg, i)
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
	o.dx = reuse(o.dx, o.inShape...) // each plane is cleared by its backwardPlane
	planes := o.inShape[0] * o.inShape[1]
	D, H, W := &o.ax[0], &o.ax[1], &o.ax[2]
	ip, op := D.n*H.n*W.n, D.o*H.o*W.o
	o.task = poolTask[F]{o: o, src: dOut.Data, ip: ip, op: op, back: true}
	parallelRange(planes, ip, &o.task)
	o.task = poolTask[F]{}
	o.dIns[0] = o.dx
	return o.dIns[:]
}

// backwardPlane writes one plane's input gradient dst from its output
// gradients src; off is the plane's first output element. Clearing here,
// in parallel and just before the scatter, instead of the whole gradient
// up front took the small CNN's serial memclr (3% of its step) away.
func (o *poolOp[F]) backwardPlane(dst, src []F, off int) {
	clear(dst)
	D, H, W := &o.ax[0], &o.ax[1], &o.ax[2]
	if o.max {
		for k, g := range src {
			if a := o.argmax[off+k]; a >= 0 {
				dst[a] += g
			}
		}
		return
	}
	k := 0
	for a := 0; a < D.o; a++ {
		for i := 0; i < H.o; i++ {
			for j := 0; j < W.o; j++ {
				d0, d1, pd := D.span(a)
				h0, h1, ph := H.span(i)
				w0, w1, pw := W.span(j)
				div := (d1 - d0) * (h1 - h0) * (w1 - w0)
				if o.p.CountIncludePad {
					div = pd * ph * pw
				}
				g := src[k]
				k++
				if div <= 0 {
					continue
				}
				g /= F(div)
				for z := d0; z < d1; z++ {
					for y := h0; y < h1; y++ {
						row := dst[(z*H.n+y)*W.n+w0 : (z*H.n+y)*W.n+w1]
						for q := range row {
							row[q] += g
						}
					}
				}
			}
		}
	}
}

// globalPoolOp pools every spatial position of [N, C, ...]. Average
// pooling of [N, C, T] honours a sequence mask as Keras's
// GlobalAveragePooling1D does: the mean over the real steps (zero when
// every step is padding). The output has no time axis: the mask stops.
type globalPoolOp[F Float] struct {
	max, keep bool
	inShape   []int
	out, dx   *Mat[F]
	argmax    []int
	mask      []F // the [N, T] mask of the latest Forward, or nil
	dIns      [1]*Mat[F]
	err       error
	x, dOut   *Mat[F] // the pass's operand while runRange works on it
	back      bool    // runRange spreads dOut instead of pooling x
}

func (o *globalPoolOp[F]) Err() error { return o.err }

func newGlobalPool[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	p := v.Layer.(*ir.GlobalPool)
	return &globalPoolOp[F]{max: p.Op == ir.PoolMax, keep: p.KeepDims}, nil
}

func (o *globalPoolOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x := in[0]
	o.err = nil
	o.inShape = append(o.inShape[:0], x.Shape...)
	planes := x.Shape[0] * x.Shape[1]
	per := len(x.Data) / max(planes, 1)
	o.mask = nil
	if p.Mask != nil && !o.max {
		if len(x.Shape) != 3 || len(p.Mask) != x.Shape[0]*per {
			o.err = fmt.Errorf("sequence mask has %d values, input is %v (want batch×steps of [batch, channels, steps])", len(p.Mask), x.Shape)
			return NewMat[F](1)
		}
		o.mask = p.Mask
	}
	p.Mask = nil
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
	o.x, o.back = x, false
	parallelRange(planes, per, o)
	o.x = nil
	return o.out
}

// runRange pools (or, in Backward, spreads the gradient of) planes
// [lo, hi): planes are independent, and one goroutine's scalar loop over a
// ResNet block's 32×64 planes of 28×28 took 2.3% of its training step.
func (o *globalPoolOp[F]) runRange(lo, hi int) {
	per := ir.NumElements(o.inShape[2:])
	if o.back {
		o.spread(lo, hi, per)
		return
	}
	for pl := lo; pl < hi; pl++ {
		src := o.x.Data[pl*per : (pl+1)*per]
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
		if o.mask != nil {
			m := o.mask[pl/o.inShape[1]*per:][:per]
			var s, c F
			for k, v := range src {
				s += v * m[k]
				c += m[k]
			}
			o.out.Data[pl] = 0
			if c > 0 {
				o.out.Data[pl] = s / c
			}
			continue
		}
		o.out.Data[pl] = F(sumRow(src) / float64(per))
	}
}

func (o *globalPoolOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	o.dx = reuse(o.dx, o.inShape...)
	o.dOut, o.back = dOut, true
	parallelRange(o.inShape[0]*o.inShape[1], ir.NumElements(o.inShape[2:]), o)
	o.dOut = nil
	o.dIns[0] = o.dx
	return o.dIns[:]
}

// spread writes every value of the input gradient's planes [lo, hi).
func (o *globalPoolOp[F]) spread(lo, hi, per int) {
	for pl := lo; pl < hi; pl++ {
		g := o.dOut.Data[pl]
		dst := o.dx.Data[pl*per : (pl+1)*per]
		if o.max {
			clear(dst)
			dst[o.argmax[pl]] = g
			continue
		}
		if o.mask != nil {
			m := o.mask[pl/o.inShape[1]*per:][:per]
			var c F
			for _, v := range m {
				c += v
			}
			if c == 0 {
				clear(dst)
				continue
			}
			for k := range dst {
				dst[k] = g * m[k] / c
			}
			continue
		}
		g /= F(per)
		for k := range dst {
			dst[k] = g
		}
	}
}

func init() {
	for _, op := range []ir.PoolOp{ir.PoolMax, ir.PoolAvg} {
		for _, r := range []int{1, 2, 3} {
			RegisterOp((&ir.Pool{Rank: r, Op: op}).Kind(), newPool[float32], newPool[float64])
			RegisterOp((&ir.GlobalPool{Rank: r, Op: op}).Kind(), newGlobalPool[float32], newGlobalPool[float64])
		}
	}
}
