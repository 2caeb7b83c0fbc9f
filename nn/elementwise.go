package nn

import (
	"fmt"
	"math"

	"github.com/retarget-dev/retarget/internal/hugemem"
	"github.com/retarget-dev/retarget/ir"
)

// dropoutOp is inverted dropout; Spatial drops whole channels (axis 0 of
// the tensor without batch). Off at inference and in frozen vertices.
type dropoutOp[F Float] struct {
	rate    float64
	spatial bool
	frozen  bool
	mask    []F // per element, or per (example, channel) when spatial
	out, dx *Mat[F]
	active  bool
	chans   int // elements per channel (spatial)
}

func newDropout[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	d := v.Layer.(*ir.Dropout)
	if d.Rate < 0 || d.Rate >= 1 {
		return nil, fmt.Errorf("dropout rate %v is not in [0, 1)", d.Rate)
	}
	return &dropoutOp[F]{rate: float64(d.Rate), spatial: d.Spatial, frozen: v.Frozen}, nil
}

func (d *dropoutOp[F]) setDropout(r float64) {
	if r >= 0 && r < 1 {
		d.rate = r
	}
}

func (d *dropoutOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x := in[0]
	d.active = p.Train && !d.frozen && d.rate > 0
	if !d.active {
		return x
	}
	keep := 1 - d.rate
	scale := F(1 / keep)
	n := len(x.Data)
	d.out = reuse(d.out, x.Shape...)
	if d.spatial && len(x.Shape) > 2 {
		groups := x.Shape[0] * x.Shape[1]
		d.chans = n / groups
		d.mask = growSlice(d.mask, groups)
		for i := range d.mask {
			d.mask[i] = 0
			if p.RNG.Float64() < keep {
				d.mask[i] = scale
			}
		}
		for i, v := range x.Data {
			d.out.Data[i] = v * d.mask[i/d.chans]
		}
		return d.out
	}
	d.chans = 1
	d.mask = growSlice(d.mask, n)
	for i, v := range x.Data {
		m := F(0)
		if p.RNG.Float64() < keep {
			m = scale
		}
		d.mask[i] = m
		d.out.Data[i] = v * m
	}
	return d.out
}

func (d *dropoutOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	if !d.active {
		return []*Mat[F]{dOut}
	}
	d.dx = reuse(d.dx, dOut.Shape...)
	for i, g := range dOut.Data {
		d.dx.Data[i] = g * d.mask[i/d.chans]
	}
	return []*Mat[F]{d.dx}
}

// growSlice returns s resized to n, reallocating only when it is too small;
// the contents are not cleared.
func growSlice[T any](s []T, n int) []T {
	if cap(s) < n {
		return hugemem.Make[T](n)
	}
	return s[:n]
}

// actOp is the Activation layer.
type actOp[F Float] struct {
	act  activation[F]
	x, y *Mat[F]
	dx   *Mat[F]
	dIns [1]*Mat[F]
}

func newActOp[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	a, err := newActivation[F](v.Layer.(*ir.ActivationLayer).Activation)
	if err != nil {
		return nil, err
	}
	return &actOp[F]{act: a}, nil
}

func (a *actOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	a.x = in[0]
	if a.act.identity() {
		return a.x
	}
	a.y = outBuf(p, a.y, a.x.Shape...)
	if err := a.act.forward(a.x.Data, a.y.Data, a.x.Shape); err != nil {
		panic(err)
	}
	return a.y
}

func (a *actOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	a.dIns[0] = dOut
	if !a.act.identity() {
		a.dx = reuse(a.dx, dOut.Shape...)
		a.act.backward(a.x.Data, a.y.Data, dOut.Data, a.dx.Data, a.x.Shape)
		a.dIns[0] = a.dx
	}
	return a.dIns[:]
}

// preluOp: y = x if x > 0 else alpha·x, alpha broadcast over shared axes.
type preluOp[F Float] struct {
	params *Params[F]
	x, y   *Mat[F]
	dx     *Mat[F]
	aIdx   []int // alpha index of each element of one example
}

func newPReLU[F Float](v *ir.Vertex, in [][]int, out []int, params *Params[F]) (Op[F], error) {
	return &preluOp[F]{params: params}, nil
}

// alphaIndex maps each element of one example to its alpha entry.
func (o *preluOp[F]) alphaIndex(shape []int) []int {
	alpha := o.params.Values["alpha"]
	per := ir.NumElements(shape)
	if len(o.aIdx) == per {
		return o.aIdx
	}
	o.aIdx = broadcastIndex(shape, alpha.Shape)
	return o.aIdx
}

// broadcastIndex maps every position of shape to the row-major index of a
// tensor of shape small (same rank, size-1 axes stretched).
func broadcastIndex(shape, small []int) []int {
	n := ir.NumElements(shape)
	idx := make([]int, n)
	st := strides(small)
	pos := make([]int, len(shape))
	for i := 0; i < n; i++ {
		k := 0
		for a := range shape {
			if small[a] != 1 {
				k += pos[a] * st[a]
			}
		}
		idx[i] = k
		for a := len(shape) - 1; a >= 0; a-- {
			pos[a]++
			if pos[a] < shape[a] {
				break
			}
			pos[a] = 0
		}
	}
	return idx
}

func (o *preluOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x := in[0]
	o.x = x
	alpha := o.params.Values["alpha"].Data
	idx := o.alphaIndex(x.Shape[1:])
	per := len(idx)
	o.y = reuse(o.y, x.Shape...)
	for i, v := range x.Data {
		if v < 0 {
			v *= alpha[idx[i%per]]
		}
		o.y.Data[i] = v
	}
	return o.y
}

func (o *preluOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	alpha := o.params.Values["alpha"].Data
	ga := o.params.Grads["alpha"]
	idx := o.aIdx
	per := len(idx)
	o.dx = reuse(o.dx, dOut.Shape...)
	for i, g := range dOut.Data {
		x := o.x.Data[i]
		if x < 0 {
			o.dx.Data[i] = g * alpha[idx[i%per]]
			if ga != nil {
				ga.Data[idx[i%per]] += g * x
			}
		} else {
			o.dx.Data[i] = g
		}
	}
	return []*Mat[F]{o.dx}
}

// rescaleOp: y = x·scale + offset.
type rescaleOp[F Float] struct {
	scale, offset F
	y, dx         *Mat[F]
}

func newRescaling[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	r := v.Layer.(*ir.Rescaling)
	return &rescaleOp[F]{scale: F(r.Scale), offset: F(r.Offset)}, nil
}

func (r *rescaleOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	r.y = outBuf(p, r.y, in[0].Shape...)
	for i, v := range in[0].Data {
		r.y.Data[i] = v*r.scale + r.offset
	}
	return r.y
}

func (r *rescaleOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	r.dx = reuse(r.dx, dOut.Shape...)
	for i, g := range dOut.Data {
		r.dx.Data[i] = g * r.scale
	}
	return []*Mat[F]{r.dx}
}

// unaryOp applies an element-wise function.
type unaryOp[F Float] struct {
	op   ir.UnaryOp
	exp  float64
	x, y *Mat[F]
	dx   *Mat[F]
}

func newUnary[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	u := v.Layer.(*ir.Unary)
	return &unaryOp[F]{op: u.Op, exp: float64(u.Exponent)}, nil
}

func (u *unaryOp[F]) f(x float64) float64 {
	switch u.op {
	case ir.UnarySqrt:
		return math.Sqrt(x)
	case ir.UnaryExp:
		return math.Exp(x)
	case ir.UnaryLog:
		return math.Log(x)
	case ir.UnaryNeg:
		return -x
	case ir.UnaryAbs:
		return math.Abs(x)
	case ir.UnaryErf:
		return math.Erf(x)
	case ir.UnaryReciprocal:
		return 1 / x
	case ir.UnarySquare:
		return x * x
	case ir.UnaryPow:
		if u.exp == 2 {
			return x * x
		}
		return math.Pow(x, u.exp)
	}
	return x
}

func (u *unaryOp[F]) df(x, y float64) float64 {
	switch u.op {
	case ir.UnarySqrt:
		return 0.5 / y
	case ir.UnaryExp:
		return y
	case ir.UnaryLog:
		return 1 / x
	case ir.UnaryNeg:
		return -1
	case ir.UnaryAbs:
		if x < 0 {
			return -1
		} else if x > 0 {
			return 1
		}
		return 0
	case ir.UnaryErf:
		return 2 / math.Sqrt(math.Pi) * math.Exp(-x*x)
	case ir.UnaryReciprocal:
		return -y * y
	case ir.UnarySquare:
		return 2 * x
	case ir.UnaryPow:
		return u.exp * math.Pow(x, u.exp-1)
	}
	return 1
}

func (u *unaryOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	u.x = in[0]
	u.y = outBuf(p, u.y, u.x.Shape...)
	for i, v := range u.x.Data {
		u.y.Data[i] = F(u.f(float64(v)))
	}
	return u.y
}

func (u *unaryOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	u.dx = reuse(u.dx, dOut.Shape...)
	for i, g := range dOut.Data {
		u.dx.Data[i] = g * F(u.df(float64(u.x.Data[i]), float64(u.y.Data[i])))
	}
	return []*Mat[F]{u.dx}
}

// constOp outputs its value, repeated over the batch.
type constOp[F Float] struct {
	params *Params[F]
	y      *Mat[F]
	batch  int   // ir.Constant.Batch
	shape  []int // per-sample shape
	err    error
}

func newConstant[F Float](v *ir.Vertex, in [][]int, out []int, params *Params[F]) (Op[F], error) {
	return &constOp[F]{params: params, batch: v.Layer.(*ir.Constant).Batch, shape: out}, nil
}

func (c *constOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	val := c.params.Values["value"]
	n := max(p.Batch, 1)
	c.err = nil
	if c.batch > 0 {
		// one value per sample of the model's fixed batch
		if n != c.batch {
			c.err = fmt.Errorf("the model was exported with a fixed batch of %d and holds a constant with a value per sample; run it on batches of %d examples, not %d", c.batch, c.batch, n)
			return nil
		}
		c.y = reuse(c.y, withBatch(n, c.shape)...)
		copy(c.y.Data, val.Data)
		return c.y
	}
	c.y = reuse(c.y, withBatch(n, val.Shape)...)
	per := len(val.Data)
	for b := 0; b < n; b++ {
		copy(c.y.Data[b*per:(b+1)*per], val.Data)
	}
	return c.y
}

func (c *constOp[F]) Err() error { return c.err }

// Backward sums the output gradient over the batch into the value's
// gradient when the constant is trainable (a per-sample value takes each
// sample's gradient).
func (c *constOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	if g := c.params.Grads["value"]; g != nil {
		per := len(g.Data)
		for b := 0; b*per < len(dOut.Data); b++ {
			addTo(g.Data, dOut.Data[b*per:(b+1)*per])
		}
	}
	return nil
}

func init() {
	RegisterOp("Dropout", newDropout[float32], newDropout[float64])
	RegisterOp("Activation", newActOp[float32], newActOp[float64])
	RegisterOp("PReLU", newPReLU[float32], newPReLU[float64])
	RegisterOp("Rescaling", newRescaling[float32], newRescaling[float64])
	RegisterOp("Unary", newUnary[float32], newUnary[float64])
	RegisterOp("Constant", newConstant[float32], newConstant[float64])
}
