package onnx

import (
	"fmt"
	"math"

	"github.com/retarget-dev/retarget/ir"
)

// attention writes ir.MultiHeadAttention as standard ops on [N, T, E]:
// one MatMul (+ Add) per projection, Reshape [N, T, H, d] and Transpose to
// [N, H, T, d], MatMul of q and kᵀ, Mul by 1/√d, a constant causal mask
// (static steps only), Softmax on the last axis, MatMul with v, Transpose
// and Reshape back to [N, T, H·dv], and the out-projection. The importer
// reads this form back as one vertex. The sequence mask of an
// Embedding(mask_zero) hides the value's padded steps (and, with
// MaskQueries, every key of a padded query step) as Keras adds −1e9.
func (b *builder) attention(l *ir.MultiHeadAttention, ins []string, inShapes [][]int, out string) error {
	q, v, k := ins[0], ins[0], ins[0]
	if len(ins) > 1 {
		v, k = ins[1], ins[1]
	}
	if len(ins) > 2 {
		k = ins[2]
	}
	qs, vs, _ := ir.AttentionInputs(inShapes)
	dv := l.ValueDim
	if dv == 0 {
		dv = l.KeyDim
	}
	bias := !l.NoBias
	proj := func(x, w, bn, suffix string, dim int, perm []int) string {
		y := b.op("MatMul", suffix, []string{x, b.paramInit(w)}, b.tmp(suffix))
		if bias {
			y = b.op("Add", suffix+"_bias", []string{y, b.paramInit(bn)}, b.tmp(suffix+"_biased"))
		}
		y = b.op("Reshape", suffix+"_heads", []string{y, b.ints(suffix+"_shape", 0, 0, int64(l.Heads), int64(dim))}, b.tmp(suffix+"_heads"))
		return b.transpose(suffix+"_t", y, perm, b.tmp(suffix+"_t"))
	}
	qh := proj(q, "Wq", "bq", "query", l.KeyDim, []int{0, 2, 1, 3})
	kh := proj(k, "Wk", "bk", "key", l.KeyDim, []int{0, 2, 3, 1})
	vh := proj(v, "Wv", "bv", "value", dv, []int{0, 2, 1, 3})
	s := b.op("MatMul", "scores", []string{qh, kh}, b.tmp("scores"))
	s = b.op("Mul", "scale", []string{s, b.scalar("scale", float32(1/math.Sqrt(float64(l.KeyDim))))}, b.tmp("scaled"))
	if l.Causal {
		t := qs[0]
		if t <= 0 || vs[0] != t {
			return fmt.Errorf("causal attention over %d query and %d key steps: ONNX export needs a known, equal number of steps", qs[0], vs[0])
		}
		mask := make([]float32, t*t)
		for i := 0; i < t; i++ {
			for j := i + 1; j < t; j++ {
				mask[i*t+j] = -1e9
			}
		}
		s = b.op("Add", "causal", []string{s, b.init("causal_mask", []int{t, t}, mask)}, b.tmp("masked"))
	}
	if keep := b.attentionKeep(len(ins), []int{1, 2}, l.MaskQueries, []int{1, 3}); keep != "" {
		s = b.op("Add", "padding", []string{s, b.maskAdder(keep)}, b.tmp("padded"))
	}
	axis := int64(-1)
	if b.opset < 13 {
		axis = 3 // the same: the coerced 2-D softmax over the last axis
	}
	p := b.op("Softmax", "softmax", []string{s}, b.tmp("weights"), aInt("axis", axis))
	ctx := b.op("MatMul", "mix", []string{p, vh}, b.tmp("mix"))
	ctx = b.transpose("mix_t", ctx, []int{0, 2, 1, 3}, b.tmp("mix_t"))
	ctx = b.op("Reshape", "concat_heads", []string{ctx, b.ints("concat_shape", 0, 0, int64(l.Heads*dv))}, b.tmp("heads"))
	if !bias {
		b.op("MatMul", "", []string{ctx, b.paramInit("Wo")}, out)
		return nil
	}
	o := b.op("MatMul", "output", []string{ctx, b.paramInit("Wo")}, b.tmp("output"))
	b.op("Add", "", []string{o, b.paramInit("bo")}, out)
	return nil
}

// attentionKeep is the [.., Tq, Tv] product of the value's mask (unsqueezed
// on vAxes) and, with queries, the query's (on qAxes), or "" without masks.
func (b *builder) attentionKeep(nIn int, vAxes []int, queries bool, qAxes []int) string {
	if len(b.inMasks) == 0 {
		return ""
	}
	vm, qm := b.inMasks[0], b.inMasks[0]
	if nIn > 1 {
		vm = b.inMasks[1]
	}
	var keep string
	if vm != "" {
		keep = b.withAxes("Unsqueeze", "value_mask", vm, vAxes, b.tmp("value_mask"), 13)
	}
	if queries && qm != "" {
		q := b.withAxes("Unsqueeze", "query_mask", qm, qAxes, b.tmp("query_mask"), 13)
		if keep == "" {
			return q
		}
		keep = b.op("Mul", "keep", []string{q, keep}, b.tmp("keep"))
	}
	return keep
}
