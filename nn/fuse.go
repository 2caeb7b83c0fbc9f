package nn

import "math"

// Inference fusion: a convolution whose only consumer is a channel
// BatchNorm, optionally followed by an element-wise activation that is the
// BatchNorm's only consumer, applies both to each output plane as soon as
// the plane is computed, and the BatchNorm and activation vertices pass
// their input through. The arithmetic is the unfused one (bias, the
// convolution's activation, x·scale + shift, activation), so the outputs are
// identical; only inference passes fuse (training needs every value).

// convFusion is what a convolution applies after itself at inference.
type convFusion[F Float] struct {
	bn           *bnOp[F]
	act          *activation[F] // nil: none
	scale, shift []F
}

// bnAffine is the BatchNorm map x·scale + shift for mean mu, 1/σ is, γ g, β b.
func bnAffine[F Float](mu, is, g, b float64) (scale, shift F) {
	sc := g * is
	return F(sc), F(b - mu*sc)
}

// storedAffine is the inference map of channel ch.
func (o *bnOp[F]) storedAffine(ch int) (F, F) {
	mean, variance := o.params.Values["mean"].Data, o.params.Values["var"].Data
	return bnAffine[F](float64(mean[ch]), 1/math.Sqrt(float64(variance[ch])+o.eps), o.gamma(ch), o.beta(ch))
}

// inferencePost returns the per-plane epilogue of an inference pass (bias,
// activation and any fused vertices, in place), or nil when Forward must
// run them as separate passes.
func (o *convOp[F]) inferencePost(p *Pass[F], b *Mat[F]) planeFn[F] {
	if p.Train || o.act.isSoftmax() {
		return nil
	}
	fu, c := o.fused, o.core.filters
	if fu == nil && o.act.identity() && b == nil {
		return nil
	}
	if fu != nil {
		fu.scale, fu.shift = growSlice(fu.scale, c), growSlice(fu.shift, c)
		for ch := range c {
			fu.scale[ch], fu.shift[ch] = fu.bn.storedAffine(ch)
		}
	}
	return func(plane int, row []F) {
		ch := plane % c
		if b != nil {
			affineRange(row, row, 1, b.Data[ch])
		}
		if !o.act.identity() {
			o.act.forwardRange(row, row)
		}
		if fu == nil {
			return
		}
		affineRange(row, row, fu.scale[ch], fu.shift[ch])
		if fu.act != nil {
			fu.act.forwardRange(row, row)
		}
	}
}

// fuseInference finds the chains of inferencePost and marks the absorbed
// vertices.
func (n *Net[F]) fuseInference() {
	consumer := func(slot int) *node[F] {
		if n.slotEdges[slot] != 1 {
			return nil
		}
		for _, o := range n.outSlots {
			if o == slot {
				return nil
			}
		}
		for _, nd := range n.nodes {
			if len(nd.in) == 1 && nd.in[0] == slot {
				return nd
			}
		}
		return nil
	}
	for _, nd := range n.nodes {
		conv, ok := nd.op.(*convOp[F])
		if !ok || conv.act.isSoftmax() {
			continue
		}
		bnNode := consumer(nd.slot)
		if bnNode == nil {
			continue
		}
		bn, ok := bnNode.op.(*bnOp[F])
		if !ok || bn.axis != 0 {
			continue
		}
		fu := &convFusion[F]{bn: bn}
		bnNode.fused = true
		if actNode := consumer(bnNode.slot); actNode != nil {
			if a, ok := actNode.op.(*actOp[F]); ok && !a.act.isSoftmax() && !a.act.identity() {
				fu.act = &a.act
				actNode.fused = true
			}
		}
		conv.fused = fu
	}
}
