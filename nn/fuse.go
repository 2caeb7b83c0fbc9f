package nn

import (
	"math"
	"slices"

	"github.com/retarget-dev/retarget/ir"
)

// Inference fusion: a convolution whose only consumer is a channel
// BatchNorm, optionally followed by an element-wise activation that is the
// BatchNorm's only consumer, applies both to each output plane as soon as
// the plane is computed, and the BatchNorm and activation vertices pass
// their input through. A BatchNorm whose only consumer is a two-input Add
// of its shape (a residual block's sum) fuses the Add too, and an
// activation after it, when the Add's other input (the skip connection) is
// made before the convolution runs. The arithmetic is the unfused one
// (bias, the convolution's activation, x·scale + shift, activation, + skip,
// activation; a sum of two is the same either way round), so the outputs
// are identical; only inference passes fuse (training needs every value).

// convFusion is what a convolution applies after itself at inference.
type convFusion[F Float] struct {
	bn           *bnOp[F]
	act          *activation[F] // nil: none
	addSlot      int            // the fused Add's other input, or -1
	skip         *Mat[F]        // its value in the pass being run
	afterAdd     *activation[F] // the activation after the Add; nil: none
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
	if p.Train || p.unfused || o.act.isSoftmax() {
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
		if fu.skip == nil {
			return
		}
		addTo(row, fu.skip.Data[plane*len(row):][:len(row)]) // post runs on whole planes
		if fu.afterAdd != nil {
			fu.afterAdd.forwardRange(row, row)
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
		fu := &convFusion[F]{bn: bn, addSlot: -1}
		bnNode.fused, nd.overwrite = true, true
		if actNode := consumer(bnNode.slot); actNode != nil {
			if a, ok := actNode.op.(*actOp[F]); ok && !a.act.isSoftmax() && !a.act.identity() {
				fu.act = &a.act
				actNode.fused, bnNode.overwrite = true, true
			}
		}
		if fu.act == nil {
			n.fuseAdd(fu, nd, bnNode, consumer)
		}
		conv.fused = fu
	}
}

// fuseAdd fuses into fu the residual Add that is bnNode's only consumer
// (and an activation that is the Add's), when the Add's other input is
// made before the convolution conv (or is a graph input).
func (n *Net[F]) fuseAdd(fu *convFusion[F], conv, bnNode *node[F], consumer func(int) *node[F]) {
	if n.slotEdges[bnNode.slot] != 1 || slices.Contains(n.outSlots, bnNode.slot) {
		return
	}
	made := map[int]int{} // slot → the index of the node that makes it
	var add *node[F]
	for i, nd := range n.nodes {
		made[nd.slot] = i
		if slices.Contains(nd.in, bnNode.slot) {
			add = nd
		}
	}
	if add == nil || len(add.in) != 2 {
		return
	}
	m, ok := add.op.(*mergeOp[F])
	if !ok || m.op != ir.MergeAdd {
		return
	}
	k := slices.Index(add.in, bnNode.slot)
	other := add.in[1-k]
	if i, ok := made[other]; (ok && i >= made[conv.slot]) || other == bnNode.slot {
		return // the skip is made after the convolution, or is the same value
	}
	shapes := add.v.InputShapes(n.shapes)
	if !ir.SameShape(shapes[0], shapes[1]) {
		return
	}
	fu.addSlot = other
	add.fused, add.through, bnNode.overwrite = true, k, true
	if actNode := consumer(add.slot); actNode != nil {
		if a, ok := actNode.op.(*actOp[F]); ok && !a.act.isSoftmax() && !a.act.identity() {
			fu.afterAdd = &a.act
			actNode.fused, add.overwrite = true, true
		}
	}
}
