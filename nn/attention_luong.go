package nn

import (
	"fmt"
	"math"

	"github.com/retarget-dev/retarget/ir"
)

func init() {
	RegisterOp("Attention", newLuongAttention[float32], newLuongAttention[float64])
}

// luongOp runs ir.Attention (Keras Attention and AdditiveAttention) on the
// last two axes of its inputs; the axes before them are independent
// problems ("lead"). With rank-2 inputs the batch is the step axis. The
// value's sequence mask hides key steps, the query's zeroes padded query
// steps and flows on with the output (Keras's q_mask and v_mask).
type luongOp[F Float] struct {
	cfg    ir.Attention
	seq    bool // inputs are [B, T, d]: the sequence mask applies
	frozen bool
	rate   float64
	nIn    int
	need   [3]bool

	scale, weight   *Mat[F] // nil when the mode has none
	gScale, gWeight *Mat[F]

	lead, tq, tv, d, dv int
	q, k, v             *Mat[F]
	raw                 []F // dot: q·kᵀ before scale and mask
	probs               []F
	drop                []F
	dropActive          bool
	vmask, qmask        []F
	y, dq, dk, dvv      *Mat[F]
	dS, dO              []F
	tanhBuf             []F // [tv, d]: tanh(c·(q_i + k_j)) of one query step
	err                 error
}

func newLuongAttention[F Float](v *ir.Vertex, in [][]int, out []int, params *Params[F]) (Op[F], error) {
	a, ok := v.Layer.(*ir.Attention)
	if !ok {
		return nil, fmt.Errorf("not an Attention layer")
	}
	if _, err := a.OutputShape(in); err != nil {
		return nil, err
	}
	op := &luongOp[F]{cfg: *a, frozen: v.Frozen, rate: float64(a.Dropout), nIn: len(in),
		need: [3]bool{true, true, true}, seq: len(in[0]) == 3 && in[0][0] == ir.Batch}
	for _, ps := range a.Params(in) {
		m := params.Values[ps.Name]
		if m == nil || !ir.SameShape(m.Shape, ps.Shape) {
			return nil, fmt.Errorf("Attention parameter %s is missing or not %v", ps.Name, ps.Shape)
		}
		g := params.Grads[ps.Name]
		if ps.Name == "scale" {
			op.scale, op.gScale = m, g
		} else {
			op.weight, op.gWeight = m, g
		}
	}
	return op, nil
}

func (o *luongOp[F]) Err() error                 { return o.err }
func (o *luongOp[F]) SkipInputGrads(need []bool) { copy(o.need[:], need) }
func (o *luongOp[F]) setDropout(r float64) {
	if r >= 0 && r < 1 {
		o.rate = r
	}
}

// checkMask checks that a sequence mask fits a [batch, steps, features]
// input.
func (o *luongOp[F]) checkMask(what string, m []F, x *Mat[F]) error {
	if m != nil && (!o.seq || len(m) != x.Shape[0]*x.Shape[1]) {
		return fmt.Errorf("the %s's sequence mask has %d values for a %s of shape %v (want batch×steps of a [batch, steps, features] tensor)", what, len(m), what, x.Shape)
	}
	return nil
}

// factors are c (inside tanh, or the dot product's scale) and w (outside).
func (o *luongOp[F]) factors() (c, w F) {
	c, w = 1, 1
	if o.scale != nil && o.cfg.Score != ir.ScoreAdditive {
		c = o.scale.Data[0]
	}
	if o.weight != nil {
		w = o.weight.Data[0]
	}
	return c, w
}

// alpha is the additive scale of feature j (1 without one).
func (o *luongOp[F]) alpha(j int) F {
	if o.scale != nil && o.cfg.Score == ir.ScoreAdditive {
		return o.scale.Data[j]
	}
	return 1
}

func (o *luongOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	o.err = nil
	q, v := in[0], in[1]
	k := v
	if len(in) > 2 {
		k = in[2]
	}
	r := len(q.Shape)
	if r < 2 || len(v.Shape) != r || len(k.Shape) != r || q.Shape[r-1] != k.Shape[r-1] ||
		!ir.SameShape(k.Shape[:r-1], v.Shape[:r-1]) || !ir.SameShape(q.Shape[:r-2], v.Shape[:r-2]) {
		o.err = fmt.Errorf("Attention of query %v, value %v, key %v: leading axes, key/value steps and query/key features must match", q.Shape, v.Shape, k.Shape)
		return NewMat[F](1)
	}
	o.q, o.k, o.v = q, k, v
	o.lead = ir.NumElements(q.Shape[:r-2])
	o.tq, o.tv, o.d, o.dv = q.Shape[r-2], v.Shape[r-2], q.Shape[r-1], v.Shape[r-1]
	lead, tq, tv, d, dv := o.lead, o.tq, o.tv, o.d, o.dv
	if o.cfg.Causal && tq != tv {
		o.err = fmt.Errorf("causal Attention needs as many query steps as key steps, got %d and %d", tq, tv)
		return NewMat[F](1)
	}
	o.vmask, o.qmask = nil, nil
	if len(p.InMasks) > 1 {
		o.qmask, o.vmask = p.InMasks[0], p.InMasks[1]
	}
	if o.err = o.checkMask("query", o.qmask, q); o.err == nil {
		o.err = o.checkMask("value", o.vmask, v)
	}
	if o.err != nil {
		return NewMat[F](1)
	}
	n := lead * tq * tv
	o.probs = growSlice(o.probs, n)
	if o.cfg.Score == ir.ScoreDot {
		o.raw = growSlice(o.raw, n)
	}
	o.dropActive = p.Train && !o.frozen && o.rate > 0
	if o.dropActive {
		o.drop = growSlice(o.drop, n)
		keep := 1 - o.rate
		for i := range o.drop {
			o.drop[i] = 0
			if p.RNG.Float64() < keep {
				o.drop[i] = F(1 / keep)
			}
		}
	}
	shape := append([]int(nil), q.Shape...)
	shape[r-1] = dv
	o.y = outBuf(p, o.y, shape...)
	c, w := o.factors()
	if o.dropActive {
		o.dS = growSlice(o.dS, tq*tv) // scratch for the dropped weights
	}
	for b := 0; b < lead; b++ {
		Q, K, V := q.Data[b*tq*d:], k.Data[b*tv*d:], v.Data[b*tv*dv:]
		S := o.probs[b*tq*tv : (b+1)*tq*tv]
		if o.cfg.Score == ir.ScoreDot {
			R := o.raw[b*tq*tv : (b+1)*tq*tv]
			gemm(false, true, tq, tv, d, 1, Q, d, K, d, 0, R, tv)
			for i, x := range R {
				S[i] = c * x
			}
		} else {
			for i := 0; i < tq; i++ {
				T := o.tanhRow(Q[i*d:(i+1)*d], K, c)
				for j := 0; j < tv; j++ {
					var s F
					for e, t := range T[j*d : (j+1)*d] {
						s += o.alpha(e) * t
					}
					S[i*tv+j] = w * s
				}
			}
		}
		o.hide(S, b)
		softmax(S, S, tq, tv, 1, false)
		P := S
		if o.dropActive {
			D, W := o.drop[b*tq*tv:(b+1)*tq*tv], o.dS
			for i := range D {
				W[i] = P[i] * D[i]
			}
			P = W
		}
		Y := o.y.Data[b*tq*dv : (b+1)*tq*dv]
		gemm(false, false, tq, dv, tv, 1, P, tv, V, dv, 0, Y, dv)
		if o.qmask != nil {
			for i := 0; i < tq; i++ {
				if o.qmask[b*tq+i] == 0 {
					clear(Y[i*dv : (i+1)*dv])
				}
			}
		}
	}
	return o.y
}

// tanhRow returns tanh(c·(q + k_j)) for every key step j, [tv, d].
func (o *luongOp[F]) tanhRow(q, K []F, c F) []F {
	tv, d := o.tv, o.d
	o.tanhBuf = growSlice(o.tanhBuf, tv*d)
	T := o.tanhBuf
	for j := 0; j < tv; j++ {
		row := T[j*d : (j+1)*d]
		for e, k := range K[j*d : (j+1)*d] {
			row[e] = c * (q[e] + k)
		}
	}
	if t32, ok := any(T).([]float32); ok {
		// tanh u = 1 − 2/(e^{2u} + 1)
		expScaled32(t32, t32, 2)
		for i, v := range t32 {
			t32[i] = 1 - 2/(v+1)
		}
		return T
	}
	for i, v := range T {
		T[i] = F(math.Tanh(float64(v)))
	}
	return T
}

// hidden reports whether key step j is hidden from query step i of problem b.
func (o *luongOp[F]) hidden(b, i, j int) bool {
	return (o.vmask != nil && o.vmask[b*o.tv+j] == 0) || (o.cfg.Causal && j > i)
}

func (o *luongOp[F]) hide(S []F, b int) {
	if o.vmask == nil && !o.cfg.Causal {
		return
	}
	for i := 0; i < o.tq; i++ {
		for j := 0; j < o.tv; j++ {
			if o.hidden(b, i, j) {
				S[i*o.tv+j] = maskedScore
			}
		}
	}
}

func (o *luongOp[F]) Backward(p *Pass[F], dy *Mat[F]) []*Mat[F] {
	lead, tq, tv, d, dv := o.lead, o.tq, o.tv, o.d, o.dv
	o.dq = reuseZero(o.dq, o.q.Shape...)
	o.dk = reuseZero(o.dk, o.k.Shape...)
	o.dvv = reuseZero(o.dvv, o.v.Shape...)
	o.dS = growSlice(o.dS, tq*tv)
	o.dO = growSlice(o.dO, tq*dv)
	c, w := o.factors()
	var dc, dw float64
	var dAlpha []float64
	if o.scale != nil && o.cfg.Score == ir.ScoreAdditive {
		dAlpha = make([]float64, d)
	}
	dS, dO := o.dS, o.dO
	for b := 0; b < lead; b++ {
		Q, K, V := o.q.Data[b*tq*d:], o.k.Data[b*tv*d:], o.v.Data[b*tv*dv:]
		dQ, dK, dV := o.dq.Data[b*tq*d:], o.dk.Data[b*tv*d:], o.dvv.Data[b*tv*dv:]
		P := o.probs[b*tq*tv : (b+1)*tq*tv]
		copy(dO, dy.Data[b*tq*dv:(b+1)*tq*dv])
		if o.qmask != nil {
			for i := 0; i < tq; i++ {
				if o.qmask[b*tq+i] == 0 {
					clear(dO[i*dv : (i+1)*dv])
				}
			}
		}
		// dV = Wᵀ·dO with W the (dropped) weights; dW = dO·Vᵀ
		if o.dropActive {
			D := o.drop[b*tq*tv : (b+1)*tq*tv]
			for i := range dS {
				dS[i] = P[i] * D[i]
			}
			gemm(true, false, tv, dv, tq, 1, dS, tv, dO, dv, 0, dV, dv)
			gemm(false, true, tq, tv, dv, 1, dO, dv, V, dv, 0, dS, tv)
			for i := range dS {
				dS[i] *= D[i]
			}
		} else {
			gemm(true, false, tv, dv, tq, 1, P, tv, dO, dv, 0, dV, dv)
			gemm(false, true, tq, tv, dv, 1, dO, dv, V, dv, 0, dS, tv)
		}
		softmaxBackward(P, dS, dS, tq, tv, 1, false)
		for i := 0; i < tq; i++ {
			for j := 0; j < tv; j++ {
				if o.hidden(b, i, j) {
					dS[i*tv+j] = 0
				}
			}
		}
		if o.cfg.Score == ir.ScoreDot {
			R := o.raw[b*tq*tv : (b+1)*tq*tv]
			for i, g := range dS {
				dc += float64(g * R[i])
			}
			gemm(false, false, tq, d, tv, c, dS, tv, K, d, 1, dQ, d)
			gemm(true, false, tv, d, tq, c, dS, tv, Q, d, 1, dK, d)
			continue
		}
		for i := 0; i < tq; i++ {
			T := o.tanhRow(Q[i*d:(i+1)*d], K, c)
			for j := 0; j < tv; j++ {
				g := dS[i*tv+j]
				if g == 0 {
					continue
				}
				qi, kj := Q[i*d:(i+1)*d], K[j*d:(j+1)*d]
				dqi, dkj := dQ[i*d:(i+1)*d], dK[j*d:(j+1)*d]
				for e := range qi {
					x := qi[e] + kj[e]
					t := T[j*d+e]
					a := o.alpha(e)
					dw += float64(g * a * t)
					if dAlpha != nil {
						dAlpha[e] += float64(g * w * t)
					}
					du := g * w * a * (1 - t*t)
					dqi[e] += c * du
					dkj[e] += c * du
					dc += float64(du * x)
				}
			}
		}
	}
	if o.gScale != nil {
		if dAlpha != nil {
			for e, g := range dAlpha {
				o.gScale.Data[e] += F(g)
			}
		} else {
			o.gScale.Data[0] += F(dc)
		}
	}
	if o.gWeight != nil {
		o.gWeight.Data[0] += F(dw)
	}
	if o.nIn == 2 {
		addTo(o.dvv.Data, o.dk.Data)
		return []*Mat[F]{o.grad(0, o.dq), o.grad(1, o.dvv)}
	}
	return []*Mat[F]{o.grad(0, o.dq), o.grad(1, o.dvv), o.grad(2, o.dk)}
}

func (o *luongOp[F]) grad(i int, m *Mat[F]) *Mat[F] {
	if !o.need[i] {
		return nil
	}
	return m
}
