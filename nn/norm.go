package nn

import (
	"fmt"
	"math"

	"github.com/retarget-dev/retarget/ir"
)

// bnOp is batch normalisation over one axis. In a training step it
// normalises with the batch statistics and moves the running ones
// (running = m·running + (1-m)·batch, the variance unbiased as PyTorch
// does); at inference, and always in a frozen vertex, it uses the stored
// statistics.
type bnOp[F Float] struct {
	axis             int
	eps, momentum    float64
	noScale, noShift bool
	frozen           bool
	params           *Params[F]

	training            bool
	outer, c, inner     int
	xhat, y, dx         *Mat[F]
	mean, invStd        []float64
	dg, db, sdx, sdxhat []float64

	// the arguments of the running parallel phase (runRange)
	phase   int
	keep    bool
	x, dOut *Mat[F]
	dIns    [1]*Mat[F]
}

func newBatchNorm[F Float](v *ir.Vertex, in [][]int, out []int, params *Params[F]) (Op[F], error) {
	b := v.Layer.(*ir.BatchNorm)
	if b.Momentum < 0 || b.Momentum > 1 {
		return nil, fmt.Errorf("BatchNorm momentum %v is not in [0, 1]", b.Momentum)
	}
	return &bnOp[F]{axis: b.Axis, eps: float64(b.Epsilon), momentum: float64(b.Momentum), noScale: b.NoScale,
		noShift: b.NoCenter, frozen: v.Frozen, params: params}, nil
}

func (o *bnOp[F]) gamma(c int) float64 {
	if o.noScale {
		return 1
	}
	return float64(o.params.Values["gamma"].Data[c])
}

func (o *bnOp[F]) beta(c int) float64 {
	if o.noShift {
		return 0
	}
	return float64(o.params.Values["beta"].Data[c])
}

func (o *bnOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x := in[0]
	ax := o.axis + 1
	o.outer, o.c, o.inner = splitAxis(x.Shape, ax)
	c := o.c
	o.mean = growSlice(o.mean, c)
	o.invStd = growSlice(o.invStd, c)
	o.training = p.Train && !o.frozen
	mean, variance := o.params.Values["mean"].Data, o.params.Values["var"].Data
	if o.training {
		o.x, o.phase = x, bnStats
		parallelRange(c, o.outer*o.inner, o)
	} else {
		for ch := 0; ch < c; ch++ {
			o.mean[ch], o.invStd[ch] = float64(mean[ch]), 1/math.Sqrt(float64(variance[ch])+o.eps)
		}
	}
	// y = x·scale + shift with scale = γ/σ, shift = β - μ·scale; the
	// normalised input is kept only for a training step's Backward
	o.keep = p.Train && !p.NoGrad
	if o.keep {
		o.xhat = reuse(o.xhat, x.Shape...)
	}
	o.y = outBuf(p, o.y, x.Shape...)
	o.x, o.phase = x, bnNormalise
	parallelRange(c, o.outer*o.inner, o)
	o.x = nil
	return o.y
}

const (
	bnStats = iota
	bnNormalise
	bnBackward
)

// runRange runs one phase of Forward or Backward on channels [lo, hi).
func (o *bnOp[F]) runRange(lo, hi int) {
	switch o.phase {
	case bnStats:
		o.stats(lo, hi)
	case bnNormalise:
		o.normalise(lo, hi)
	case bnBackward:
		o.backward(lo, hi)
	}
}

// stats computes the batch statistics of channels [lo, hi) and moves the
// running ones.
func (o *bnOp[F]) stats(lo, hi int) {
	x := o.x
	mean, variance := o.params.Values["mean"].Data, o.params.Values["var"].Data
	m := float64(o.outer * o.inner)
	for ch := lo; ch < hi; ch++ {
		var s float64
		for a := 0; a < o.outer; a++ {
			s += sumRow(x.Data[(a*o.c+ch)*o.inner:][:o.inner])
		}
		mu := s / m
		var ss float64
		for a := 0; a < o.outer; a++ {
			ss += sqDevRow(x.Data[(a*o.c+ch)*o.inner:][:o.inner], mu)
		}
		v := ss / m
		o.mean[ch], o.invStd[ch] = mu, 1/math.Sqrt(v+o.eps)
		unbiased := v
		if m > 1 {
			unbiased = ss / (m - 1)
		}
		mean[ch] = F(o.momentum*float64(mean[ch]) + (1-o.momentum)*mu)
		variance[ch] = F(o.momentum*float64(variance[ch]) + (1-o.momentum)*unbiased)
	}
}

// normalise writes y (and x̂ when kept) for channels [lo, hi).
func (o *bnOp[F]) normalise(lo, hi int) {
	x, keep := o.x, o.keep
	for ch := lo; ch < hi; ch++ {
		mu, is := o.mean[ch], o.invStd[ch]
		scale, shift := bnAffine[F](mu, is, o.gamma(ch), o.beta(ch))
		for a := 0; a < o.outer; a++ {
			base := (a*o.c + ch) * o.inner
			src, dst := x.Data[base:base+o.inner], o.y.Data[base:base+o.inner]
			affineRange(src, dst, scale, shift)
			if keep { // x̂ = (x − μ)/σ as x·(1/σ) − μ/σ, vectorised
				affineRange(src, o.xhat.Data[base:base+o.inner], F(is), F(-mu*is))
			}
		}
	}
}

// sumRow is Σ r in float64, four sums side by side combined in a fixed
// order: deterministic, and not bound by the latency of one chain of adds
// (BatchNorm's batch statistics took a sixth of the ResNet block's
// training step that way).
func sumRow[F Float](r []F) float64 {
	var s0, s1, s2, s3 float64
	if r32, ok := any(r).([]float32); ok {
		var n int
		s0, n = sumRowSIMD(r32)
		r = r[n:]
	}
	i := 0
	for ; i+4 <= len(r); i += 4 {
		s0 += float64(r[i])
		s1 += float64(r[i+1])
		s2 += float64(r[i+2])
		s3 += float64(r[i+3])
	}
	for ; i < len(r); i++ {
		s0 += float64(r[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// sqDevRow is Σ (r − mu)² in float64, as sumRow.
func sqDevRow[F Float](r []F, mu float64) float64 {
	var s0, s1, s2, s3 float64
	if r32, ok := any(r).([]float32); ok {
		var n int
		s0, n = sqDevRowSIMD(r32, mu)
		r = r[n:]
	}
	i := 0
	for ; i+4 <= len(r); i += 4 {
		d0, d1, d2, d3 := float64(r[i])-mu, float64(r[i+1])-mu, float64(r[i+2])-mu, float64(r[i+3])-mu
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(r); i++ {
		d := float64(r[i]) - mu
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// sumDotRow is Σ d and Σ d·x, four of each side by side.
func sumDotRow[F Float](d, x []F) (s, sx F) {
	x = x[:len(d)]
	var s0, s1, s2, s3, t0, t1, t2, t3 F
	if d32, ok := any(d).([]float32); ok {
		s, sx, n := sumDotRowSIMD(d32, any(x).([]float32))
		s0, t0 = F(s), F(sx)
		d, x = d[n:], x[n:]
	}
	i := 0
	for ; i+4 <= len(d); i += 4 {
		s0 += d[i]
		s1 += d[i+1]
		s2 += d[i+2]
		s3 += d[i+3]
		t0 += d[i] * x[i]
		t1 += d[i+1] * x[i+1]
		t2 += d[i+2] * x[i+2]
		t3 += d[i+3] * x[i+3]
	}
	for ; i < len(d); i++ {
		s0 += d[i]
		t0 += d[i] * x[i]
	}
	return (s0 + s1) + (s2 + s3), (t0 + t1) + (t2 + t3)
}

func (o *bnOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	c := o.c
	o.dx = reuse(o.dx, dOut.Shape...)
	o.dOut, o.phase = dOut, bnBackward
	parallelRange(c, o.outer*o.inner, o)
	o.dOut = nil
	o.dIns[0] = o.dx
	return o.dIns[:]
}

// backward writes dx and accumulates dγ, dβ for channels [lo, hi).
func (o *bnOp[F]) backward(lo, hi int) {
	dOut := o.dOut
	gg, gb := o.params.Grads["gamma"], o.params.Grads["beta"]
	m := float64(o.outer * o.inner)
	for ch := lo; ch < hi; ch++ {
		var sdy, sdyx float64
		for a := 0; a < o.outer; a++ {
			base := (a*o.c + ch) * o.inner
			s1, s2 := sumDotRow(dOut.Data[base:base+o.inner], o.xhat.Data[base:base+o.inner])
			sdy += float64(s1)
			sdyx += float64(s2)
		}
		if gg != nil && !o.noScale {
			gg.Data[ch] += F(sdyx)
		}
		if gb != nil && !o.noShift {
			gb.Data[ch] += F(sdy)
		}
		gis := F(o.gamma(ch) * o.invStd[ch])
		mdy, mdyx := F(sdy/m), F(sdyx/m)
		if !o.training {
			mdy, mdyx = 0, 0
		}
		for a := 0; a < o.outer; a++ {
			base := (a*o.c + ch) * o.inner
			d, xh := dOut.Data[base:base+o.inner], o.xhat.Data[base:base+o.inner]
			dx := o.dx.Data[base : base+o.inner]
			// dx = γ/σ·(dy − mean dy − x̂·mean(dy·x̂)), as an affine map of dy
			// plus a multiple of x̂ (both vectorised)
			affineRange(d, dx, gis, -gis*mdy)
			axpy(-gis*mdyx, xh, dx)
		}
	}
}

// lnOp is layer normalisation over the trailing axes from Axis.
type lnOp[F Float] struct {
	axis             int
	eps              float64
	noScale, noShift bool
	params           *Params[F]

	rows, d int
	x       []F // Forward's input while its rows run in parallel
	xhat, y *Mat[F]
	dx      *Mat[F]
	invStd  []float64
	dh      []float64 // Backward scratch [d]
}

func newLayerNorm[F Float](v *ir.Vertex, in [][]int, out []int, params *Params[F]) (Op[F], error) {
	l := v.Layer.(*ir.LayerNorm)
	ns := l.NormShape(in[0])
	if ns == nil {
		return nil, fmt.Errorf("LayerNorm axis %d out of range for %v", l.Axis, in[0])
	}
	return &lnOp[F]{axis: len(in[0]) - len(ns), eps: float64(l.Epsilon), noScale: l.NoScale, noShift: l.NoCenter, params: params}, nil
}

func (o *lnOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x := in[0]
	o.d = ir.NumElements(x.Shape[o.axis+1:])
	o.rows = len(x.Data) / o.d
	o.xhat = reuse(o.xhat, x.Shape...)
	o.y = outBuf(p, o.y, x.Shape...)
	o.invStd = growSlice(o.invStd, o.rows)
	o.x = x.Data
	parallelRange(o.rows, 3*o.d, o)
	o.x = nil
	return o.y
}

// runRange normalises rows [lo, hi) of o.x (Forward's parallel body).
func (o *lnOp[F]) runRange(lo, hi int) {
	gamma, beta := o.params.Values["gamma"].Data, o.params.Values["beta"].Data
	for r := lo; r < hi; r++ {
		row := o.x[r*o.d : (r+1)*o.d]
		var s float64
		for _, v := range row {
			s += float64(v)
		}
		mu := s / float64(o.d)
		var ss float64
		for _, v := range row {
			d := float64(v) - mu
			ss += d * d
		}
		is := 1 / math.Sqrt(ss/float64(o.d)+o.eps)
		o.invStd[r] = is
		xh, y := o.xhat.Data[r*o.d:][:o.d], o.y.Data[r*o.d:][:o.d]
		for j, v := range row {
			xh[j] = F((float64(v) - mu) * is)
		}
		switch {
		case !o.noScale && !o.noShift:
			g, b := gamma[:o.d], beta[:o.d]
			for j, v := range row {
				y[j] = F(float64(g[j])*((float64(v)-mu)*is) + float64(b[j]))
			}
		case o.noScale && o.noShift:
			copy(y, xh)
		default:
			for j, v := range row {
				h, g, b := (float64(v)-mu)*is, 1.0, 0.0
				if !o.noScale {
					g = float64(gamma[j])
				}
				if !o.noShift {
					b = float64(beta[j])
				}
				y[j] = F(g*h + b)
			}
		}
	}
}

func (o *lnOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	o.dx = reuse(o.dx, dOut.Shape...)
	gamma := o.params.Values["gamma"].Data
	gg, gb := o.params.Grads["gamma"], o.params.Grads["beta"]
	o.dh = growSlice(o.dh, o.d)
	dh := o.dh
	for r := 0; r < o.rows; r++ {
		var sdh, sdhx float64
		for j := 0; j < o.d; j++ {
			k := r*o.d + j
			dy := float64(dOut.Data[k])
			if gg != nil && !o.noScale {
				gg.Data[j] += F(dy * float64(o.xhat.Data[k]))
			}
			if gb != nil && !o.noShift {
				gb.Data[j] += F(dy)
			}
			g := 1.0
			if !o.noScale {
				g = float64(gamma[j])
			}
			dh[j] = dy * g
			sdh += dh[j]
			sdhx += dh[j] * float64(o.xhat.Data[k])
		}
		n := float64(o.d)
		for j := 0; j < o.d; j++ {
			k := r*o.d + j
			o.dx.Data[k] = F(o.invStd[r] * (dh[j] - sdh/n - float64(o.xhat.Data[k])*sdhx/n))
		}
	}
	return []*Mat[F]{o.dx}
}

func init() {
	RegisterOp("BatchNorm", newBatchNorm[float32], newBatchNorm[float64])
	RegisterOp("LayerNorm", newLayerNorm[float32], newLayerNorm[float64])
}
