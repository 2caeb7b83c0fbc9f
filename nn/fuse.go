package nn

import (
	"math"
	"slices"

	"github.com/retarget-dev/retarget/ir"
)

// Inference fusion: a convolution applies to each output plane as soon as
// it is computed the chain of vertices that follow it, each the only
// reader of the one before: a channel BatchNorm (optional), then either an
// element-wise activation, or a two-input Add of one shape (a residual
// block's sum; its other input, the skip connection, must be made before
// the convolution runs) and an optional activation after it. The absorbed
// vertices pass their input through. Exported ONNX models have the
// BatchNorm folded into the convolution (VGG16: conv → ReLU, ResNet50: conv
// → ReLU and conv → Add → ReLU); Keras ones keep it. The arithmetic is the
// unfused one (bias, the convolution's activation, x·scale + shift,
// activation, + skip, activation; a sum of two is the same either way
// round), so the outputs are identical; only inference passes fuse
// (training needs every value).

// convFusion is what a convolution applies after itself at inference.
type convFusion[F Float] struct {
	bn           *bnOp[F]       // nil: none
	act          *activation[F] // nil: none
	addSlot      int            // the fused Add's other input, or -1
	slots        []*Mat[F]      // the network's values, where the pass finds that input
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

// inferencePost returns the per-plane epilogue of an inference pass with
// fused vertices (bias, activation and those vertices, in place), or nil
// when none are fused or the pass runs unfused (Forward then applies the
// bias and activation alone).
func (o *convOp[F]) inferencePost(p *Pass[F], b *Mat[F]) planeFn[F] {
	fu, c := o.fused, o.core.filters
	if p.Train || p.unfused || o.act.isSoftmax() || fu == nil {
		return nil
	}
	if fu.bn != nil {
		fu.scale, fu.shift = growSlice(fu.scale, c), growSlice(fu.shift, c)
		for ch := range c {
			fu.scale[ch], fu.shift[ch] = fu.bn.storedAffine(ch)
		}
	}
	var skip *Mat[F] // a fused residual Add's other input, made before this convolution
	if fu.addSlot >= 0 {
		skip = fu.slots[fu.addSlot]
	}
	if post := o.clampPost(b, skip); post != nil {
		return post
	}
	return func(plane int, row []F) {
		ch := plane % c
		if b != nil {
			affineRange(row, row, 1, b.Data[ch])
		}
		if !o.act.identity() {
			o.act.forwardRange(row, row)
		}
		if fu.bn != nil {
			affineRange(row, row, fu.scale[ch], fu.shift[ch])
		}
		if fu.act != nil {
			fu.act.forwardRange(row, row)
		}
		if skip == nil {
			return
		}
		addTo(row, skip.Data[plane*len(row):][:len(row)]) // post runs on whole planes
		if fu.afterAdd != nil {
			fu.afterAdd.forwardRange(row, row)
		}
	}
}

// clampPost is inferencePost in one pass over each plane (biasClampAdd)
// for float32 chains of bias, at most one activation that is a clamp
// (identity, ReLU, ReLU6, Clip), and a residual Add with or without a
// clamp after it: ResNet's. nil for any other chain. Pass by pass, the
// bias, ReLU, sum and ReLU took 5% of ResNet50's CPU profile; one pass
// measured 0.97–1.01× the forward pass's time.
func (o *convOp[F]) clampPost(b *Mat[F], skip *Mat[F]) planeFn[F] {
	fu, c := o.fused, o.core.filters
	if _, ok := any(b).(*Mat[float32]); !ok || fu.bn != nil {
		return nil
	}
	first := o.act
	if fu.act != nil {
		if !o.act.identity() {
			return nil
		}
		first = *fu.act
	}
	lo1, hi1, ok := first.clampBounds()
	if !ok {
		return nil
	}
	lo2, hi2 := F(math.Inf(-1)), F(math.Inf(1))
	if fu.afterAdd != nil {
		if lo2, hi2, ok = fu.afterAdd.clampBounds(); !ok {
			return nil
		}
	}
	noBias := F(math.Copysign(0, -1)) // x + (−0) is x, −0 included
	return func(plane int, row []F) {
		bias := noBias
		if b != nil {
			bias = b.Data[plane%c]
		}
		var s []F
		if skip != nil {
			s = skip.Data[plane*len(row):][:len(row)] // post runs on whole planes
		}
		biasClampAdd(any(row).([]float32), any(s).([]float32), float32(bias), float32(lo1), float32(hi1), float32(lo2), float32(hi2))
	}
}

// fuseInference finds the chains of inferencePost and marks the absorbed
// vertices.
func (n *Net[F]) fuseInference() {
	made := make([]int, len(n.slots)) // slot → the index of the node that makes it; -1: a graph input
	for i := range made {
		made[i] = -1
	}
	for i, nd := range n.nodes {
		made[nd.slot] = i
	}
	// reader is the one node that reads slot, or nil (none, several, or
	// the slot is a graph output, whose value must stay its own)
	reader := func(slot int) *node[F] {
		if n.slotEdges[slot] != 1 || slices.Contains(n.outSlots, slot) {
			return nil
		}
		for _, nd := range n.nodes {
			if slices.Contains(nd.in, slot) {
				return nd
			}
		}
		return nil
	}
	// fuseAct absorbs the element-wise activation that is the one reader
	// of from's value, if there is one
	fuseAct := func(from *node[F]) *activation[F] {
		nd := reader(from.slot)
		if nd == nil {
			return nil
		}
		a, ok := nd.op.(*actOp[F])
		if !ok || a.act.isSoftmax() || a.act.identity() {
			return nil
		}
		nd.fused, from.overwrite = true, true
		return &a.act
	}
	for i, nd := range n.nodes {
		conv, ok := nd.op.(*convOp[F])
		if !ok || conv.act.isSoftmax() {
			continue
		}
		fu := &convFusion[F]{addSlot: -1, slots: n.slots}
		last := nd // the vertex whose value the chain has reached
		if bnNode := reader(nd.slot); bnNode != nil {
			if bn, ok := bnNode.op.(*bnOp[F]); ok && bn.axis == 0 {
				fu.bn, last = bn, bnNode
				bnNode.fused, nd.overwrite = true, true
			}
		}
		if fu.act = fuseAct(last); fu.act == nil {
			if add := reader(last.slot); add != nil && n.fuseAdd(fu, last, add, made, i) {
				fu.afterAdd = fuseAct(add)
			}
		}
		if fu.bn != nil || fu.act != nil || fu.addSlot >= 0 {
			conv.fused = fu
		}
	}
}

// fuseAdd fuses into fu the residual Add add, the one reader of from's
// value, when it has two inputs of one shape and the other is made before
// the convolution (node convAt) runs; made is each slot's node index.
func (n *Net[F]) fuseAdd(fu *convFusion[F], from, add *node[F], made []int, convAt int) bool {
	m, ok := add.op.(*mergeOp[F])
	if !ok || m.op != ir.MergeAdd || len(add.in) != 2 {
		return false
	}
	k := slices.Index(add.in, from.slot)
	other := add.in[1-k]
	if made[other] >= convAt {
		return false // the skip is made after the convolution
	}
	if shapes := add.v.InputShapes(n.shapes); !ir.SameShape(shapes[0], shapes[1]) {
		return false
	}
	fu.addSlot = other
	add.fused, add.through, from.overwrite = true, k, true
	return true
}
