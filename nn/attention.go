package nn

import (
	"fmt"
	"math"

	"github.com/retarget-dev/retarget/ir"
)

func init() {
	RegisterOp("MultiHeadAttention", newAttention[float32], newAttention[float64])
}

// maskedScore is added to the score of a hidden key step. A finite value
// (Keras's choice) keeps a row whose every key is hidden uniform instead of
// NaN.
const maskedScore = -1e9

// attentionOp runs ir.MultiHeadAttention. The four projections are dense
// ops over the parameters Wq/bq … Wo/bo; the per-head products run as
// strided GEMMs on the projected [N·T, heads·dim] matrices, so no head is
// ever copied out.
type attentionOp[F Float] struct {
	heads, dk, dv int
	scale         F
	causal        bool
	maskQueries   bool
	rate          float64
	frozen        bool
	nIn           int
	needIn        []bool

	q, k, v, o *denseOp[F]

	n, tq, tv  int
	probs      []F // softmax weights [N, H, Tq, Tv]
	drop       []F // dropout multipliers, same layout, when active
	dropActive bool
	mask       []F // key mask [N, Tv] (1 keep) or nil
	qmask      []F // query mask [N, Tq] or nil
	ctx        *Mat[F]
	fw         attentionHeads[F]
	bw         attentionHeadGrads[F]
	scratch    *freeList // [tq, tv] buffers, one per parallel range
	grads      [3]*Mat[F]
	dCtx       *Mat[F]
	dq, dk2    *Mat[F]
	dvv        *Mat[F]
	err        error
}

func newAttention[F Float](v *ir.Vertex, in [][]int, out []int, params *Params[F]) (Op[F], error) {
	a, ok := v.Layer.(*ir.MultiHeadAttention)
	if !ok {
		return nil, fmt.Errorf("not a MultiHeadAttention layer")
	}
	if len(in) < 1 || len(in) > 3 {
		return nil, fmt.Errorf("MultiHeadAttention takes 1 to 3 inputs, got %d", len(in))
	}
	dv := a.ValueDim
	if dv == 0 {
		dv = a.KeyDim
	}
	op := &attentionOp[F]{heads: a.Heads, dk: a.KeyDim, dv: dv, causal: a.Causal, maskQueries: a.MaskQueries, rate: float64(a.Dropout),
		frozen: v.Frozen, nIn: len(in), needIn: make([]bool, len(in)), scratch: newFreeList(),
		scale: F(1 / math.Sqrt(float64(a.KeyDim)))}
	for i := range op.needIn {
		op.needIn[i] = true
	}
	proj := func(w, b string) (*denseOp[F], error) {
		sub := &Params[F]{Values: map[string]*Mat[F]{"W": params.Values[w]}, Grads: map[string]*Mat[F]{}}
		if g := params.Grads[w]; g != nil {
			sub.Grads["W"] = g
		}
		if bv := params.Values[b]; bv != nil {
			sub.Values["b"] = bv
			if g := params.Grads[b]; g != nil {
				sub.Grads["b"] = g
			}
		}
		if sub.Values["W"] == nil {
			return nil, fmt.Errorf("missing parameter %s", w)
		}
		return buildDense(sub.Values["W"].Shape[1], ir.Activation{}, sub)
	}
	var err error
	if op.q, err = proj("Wq", "bq"); err != nil {
		return nil, err
	}
	if op.k, err = proj("Wk", "bk"); err != nil {
		return nil, err
	}
	if op.v, err = proj("Wv", "bv"); err != nil {
		return nil, err
	}
	if op.o, err = proj("Wo", "bo"); err != nil {
		return nil, err
	}
	return op, nil
}

func (a *attentionOp[F]) Err() error { return a.err }

func (a *attentionOp[F]) setDropout(r float64) {
	if r >= 0 && r < 1 {
		a.rate = r
	}
}

func (a *attentionOp[F]) SkipInputGrads(need []bool) { copy(a.needIn, need) }

func (a *attentionOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	a.err = nil
	query, value := in[0], in[0]
	if len(in) > 1 {
		value = in[1]
	}
	key := value
	if len(in) > 2 {
		key = in[2]
	}
	if len(query.Shape) != 3 || len(value.Shape) != 3 || len(key.Shape) != 3 || key.Shape[1] != value.Shape[1] {
		a.err = fmt.Errorf("MultiHeadAttention wants [batch, time, features] inputs with matching key and value steps, got %v, %v, %v", query.Shape, value.Shape, key.Shape)
		return NewMat[F](1)
	}
	n, tq, tv := query.Shape[0], query.Shape[1], value.Shape[1]
	if a.causal && tq != tv {
		a.err = fmt.Errorf("causal MultiHeadAttention needs as many query steps as key steps, got %d and %d", tq, tv)
		return NewMat[F](1)
	}
	a.n, a.tq, a.tv = n, tq, tv
	a.mask = nil
	// Keras hides the key steps the value's mask marks (the key's mask,
	// if the key is passed, is the same padding); the query's mask flows on
	mask := p.Mask
	if len(p.InMasks) > 1 {
		mask = p.InMasks[1]
	}
	if mask != nil {
		if len(mask) != n*tv {
			a.err = fmt.Errorf("sequence mask has %d values, key is %v (want batch×time = %d)", len(mask), key.Shape, n*tv)
			return NewMat[F](1)
		}
		a.mask = mask
	}
	// with MaskQueries (Keras) a padded query step attends to no key: its
	// scores are all hidden, so it averages every value (as -1e9 added in
	// float32 does)
	a.qmask = nil
	if a.maskQueries && len(p.InMasks) > 0 && p.InMasks[0] != nil && len(p.InMasks[0]) == n*tq {
		a.qmask = p.InMasks[0]
	}
	Q := a.q.Forward(p, []*Mat[F]{query})
	K := a.k.Forward(p, []*Mat[F]{key})
	V := a.v.Forward(p, []*Mat[F]{value})
	H, dk, dv := a.heads, a.dk, a.dv
	hv := H * dv
	if p.pool != nil { // inference: the weights live for this call only
		a.probs = p.pool.get(n * H * tq * tv)
	} else {
		a.probs = growSlice(a.probs, n*H*tq*tv)
	}
	a.ctx = outBuf(p, a.ctx, n, tq, hv)
	a.dropActive = p.Train && !a.frozen && a.rate > 0
	if a.dropActive {
		a.drop = growSlice(a.drop, len(a.probs))
	}
	keep := 1 - a.rate
	if a.dropActive {
		// the dropout draws come from one RNG, in order
		for i := range a.drop {
			a.drop[i] = 0
			if p.RNG.Float64() < keep {
				a.drop[i] = F(1 / keep)
			}
		}
	}
	a.fw = attentionHeads[F]{a: a, Q: Q, K: K, V: V}
	parallelRange(n*H, tq*tv*(dk+dv), &a.fw)
	out := a.o.Forward(p, []*Mat[F]{a.ctx})
	if p.pool != nil {
		// an inference network never calls Backward: give the projections,
		// the weights and the heads back to the pool for the next vertex
		putScratch(p, a.probs)
		a.probs = nil
		for _, m := range []*Mat[F]{Q, K, V, a.ctx} {
			p.pool.release(m)
		}
	}
	return out
}

// hide sets the scores of hidden key steps of example b to maskedScore
// (or, with zero, their gradients to 0).
func (a *attentionOp[F]) hide(S []F, b int, zero bool) {
	tq, tv := a.tq, a.tv
	if a.mask == nil && a.qmask == nil && !a.causal {
		return
	}
	v := F(maskedScore)
	if zero {
		v = 0
	}
	for i := 0; i < tq; i++ {
		row := S[i*tv : (i+1)*tv]
		padded := a.qmask != nil && a.qmask[b*tq+i] == 0
		for j := range row {
			if padded || (a.mask != nil && a.mask[b*tv+j] == 0) || (a.causal && j > i) {
				row[j] = v
			}
		}
	}
}

func (a *attentionOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	a.o.needIn = true
	dCtx := a.o.Backward(p, dOut)[0]
	n, tq, tv, H, dk, dv := a.n, a.tq, a.tv, a.heads, a.dk, a.dv
	hk, hv := H*dk, H*dv
	Q, K, V := a.q.y, a.k.y, a.v.y
	a.dq = reuseZero(a.dq, n, tq, hk)
	a.dk2 = reuseZero(a.dk2, n, tv, hk)
	a.dvv = reuseZero(a.dvv, n, tv, hv)
	a.bw = attentionHeadGrads[F]{a: a, Q: Q, K: K, V: V, dCtx: dCtx}
	parallelRange(n*H, tq*tv*(dk+dv), &a.bw)
	// input gradients: query, value, key; shared inputs add up
	needQ := a.needIn[0]
	needV := a.nIn == 1 && a.needIn[0] || a.nIn > 1 && a.needIn[1]
	needK := a.nIn == 1 && a.needIn[0] || a.nIn == 2 && a.needIn[1] || a.nIn == 3 && a.needIn[2]
	a.q.needIn, a.k.needIn, a.v.needIn = needQ, needK, needV
	gq := a.q.Backward(p, a.dq)[0]
	gk := a.k.Backward(p, a.dk2)[0]
	gv := a.v.Backward(p, a.dvv)[0]
	out := a.grads[:a.nIn]
	clear(out)
	switch a.nIn {
	case 1:
		if needQ {
			addTo(gq.Data, gk.Data)
			addTo(gq.Data, gv.Data)
			out[0] = gq
		}
	case 2:
		out[0] = gq
		if needV {
			addTo(gv.Data, gk.Data)
			out[1] = gv
		}
	default:
		out[0], out[1], out[2] = gq, gv, gk
	}
	return out
}

// attentionHeads runs the forward of heads [lo, hi) (index b·H + h): scores,
// mask, softmax, dropout and the product with v into ctx.
type attentionHeads[F Float] struct {
	a       *attentionOp[F]
	Q, K, V *Mat[F]
}

func (t *attentionHeads[F]) runRange(lo, hi int) {
	a := t.a
	tq, tv, H, dk, dv := a.tq, a.tv, a.heads, a.dk, a.dv
	hk, hv := H*dk, H*dv
	var buf *[]F
	if a.dropActive {
		buf = a.takeScratch()
		defer a.scratch.put(buf)
	}
	for bh := lo; bh < hi; bh++ {
		b, h := bh/H, bh%H
		P := a.probs[bh*tq*tv : (bh+1)*tq*tv]
		gemm(false, true, tq, tv, dk, a.scale, t.Q.Data[b*tq*hk+h*dk:], hk, t.K.Data[b*tv*hk+h*dk:], hk, 0, P, tv)
		a.hide(P, b, false)
		if p32, ok := any(P).([]float32); ok {
			softmaxRows32(p32, tq, tv)
		} else {
			softmax(P, P, tq, tv, 1, false)
		}
		W := P
		if a.dropActive {
			D := a.drop[bh*tq*tv : (bh+1)*tq*tv]
			W = *buf
			for i := range D {
				W[i] = P[i] * D[i]
			}
		}
		gemm(false, false, tq, dv, tv, 1, W, tv, t.V.Data[b*tv*hv+h*dv:], hv, 0, a.ctx.Data[b*tq*hv+h*dv:], hv)
	}
}

// attentionHeadGrads runs the backward of heads [lo, hi) into dq, dk, dv.
type attentionHeadGrads[F Float] struct {
	a             *attentionOp[F]
	Q, K, V, dCtx *Mat[F]
}

func (t *attentionHeadGrads[F]) runRange(lo, hi int) {
	a := t.a
	tq, tv, H, dk, dv := a.tq, a.tv, a.heads, a.dk, a.dv
	hk, hv := H*dk, H*dv
	buf := a.takeScratch()
	defer a.scratch.put(buf)
	dP := *buf
	for bh := lo; bh < hi; bh++ {
		b, h := bh/H, bh%H
		P := a.probs[bh*tq*tv : (bh+1)*tq*tv]
		dC := t.dCtx.Data[b*tq*hv+h*dv:]
		if a.dropActive {
			D := a.drop[bh*tq*tv : (bh+1)*tq*tv]
			// dV = (P∘D)ᵀ dC; build P∘D in dP first
			for i := range dP {
				dP[i] = P[i] * D[i]
			}
			gemm(true, false, tv, dv, tq, 1, dP, tv, dC, hv, 0, a.dvv.Data[b*tv*hv+h*dv:], hv)
			gemm(false, true, tq, tv, dv, 1, dC, hv, t.V.Data[b*tv*hv+h*dv:], hv, 0, dP, tv)
			for i := range dP {
				dP[i] *= D[i]
			}
		} else {
			gemm(true, false, tv, dv, tq, 1, P, tv, dC, hv, 0, a.dvv.Data[b*tv*hv+h*dv:], hv)
			gemm(false, true, tq, tv, dv, 1, dC, hv, t.V.Data[b*tv*hv+h*dv:], hv, 0, dP, tv)
		}
		softmaxBackward(P, dP, dP, tq, tv, 1, false)
		a.hide(dP, b, true) // hidden scores are constants
		gemm(false, false, tq, dk, tv, a.scale, dP, tv, t.K.Data[b*tv*hk+h*dk:], hk, 0, a.dq.Data[b*tq*hk+h*dk:], hk)
		gemm(true, false, tv, dk, tq, a.scale, dP, tv, t.Q.Data[b*tq*hk+h*dk:], hk, 0, a.dk2.Data[b*tv*hk+h*dk:], hk)
	}
}

// takeScratch returns a [tq, tv] buffer from the op's free list.
func (a *attentionOp[F]) takeScratch() *[]F {
	buf := takeFree[[]F](a.scratch)
	*buf = growSlice(*buf, a.tq*a.tv)
	return buf
}
