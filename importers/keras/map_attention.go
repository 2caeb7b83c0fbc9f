package keras

import (
	"github.com/retarget-dev/retarget/ir"
)

func init() {
	register(mapMultiHeadAttention, "MultiHeadAttention")
	register(mapAttention, "Attention", "AdditiveAttention")
}

// mapAttention maps keras.layers.Attention (Luong: score_mode dot or
// concat) and AdditiveAttention (Bahdanau), called on [query, value] or
// [query, value, key]. Keras applies them to the last two axes of whatever
// it is given: on [batch, features] tensors the batch is the step axis.
func mapAttention(c *call) (tensor, error) {
	if len(c.in) < 2 || len(c.in) > 3 {
		return tensor{}, c.errf("takes [query, value] or [query, value, key], got %d inputs", len(c.in))
	}
	cf := c.l.Cfg
	additive := c.l.Class == "AdditiveAttention"
	l := &ir.Attention{Score: ir.ScoreAdditive, UseScale: cf.boolean(additive, "use_scale")}
	if !additive {
		switch m := cf.str("dot", "score_mode"); m {
		case "dot":
			l.Score = ir.ScoreDot
		case "concat":
			l.Score = ir.ScoreConcat
		default:
			return tensor{}, c.errf("score_mode %q is not dot or concat", m)
		}
	}
	dropout, err := cf.num(0, "dropout")
	if err != nil || dropout < 0 || dropout >= 1 {
		return tensor{}, c.errf("dropout %v is not a rate in [0, 1)", cf["dropout"])
	}
	l.Dropout = float32(dropout)
	// Keras before 2.10 configured causal; later Keras takes use_causal_mask at call time
	l.Causal = cf.boolean(false, "causal") || truthy(c.kwargs["use_causal_mask"])
	if truthy(c.kwargs["return_attention_scores"]) {
		return tensor{}, c.errf("return_attention_scores=True: a layer returning its attention scores as a second output cannot be imported; call it without")
	}
	if m, ok := c.kwargs["mask"]; ok && m != nil && !allNil(m) {
		return tensor{}, c.errf("an explicit mask argument cannot be imported; mask padding with Embedding(mask_zero=True) or Masking before the layer")
	}
	ins := make([]tensor, len(c.in))
	for i, t := range c.in {
		if ins[i], err = c.plain(t); err != nil {
			return tensor{}, err
		}
	}
	q := ins[0].shape
	if l.Score == ir.ScoreAdditive && l.UseScale && len(q) > 0 {
		l.Dim = q[len(q)-1]
	}
	var params map[string]*ir.Tensor
	if c.hasWeights() {
		if params, err = c.attentionScoreParams(l); err != nil {
			return tensor{}, err
		}
	}
	return c.add(l, params, ins...)
}

// attentionScoreParams reads Attention's scale and concat_score_weight
// (scalars) or AdditiveAttention's scale ([dim]), in that order.
func (c *call) attentionScoreParams(l *ir.Attention) (map[string]*ir.Tensor, error) {
	params := map[string]*ir.Tensor{}
	pos := 0
	if l.UseScale {
		w, err := c.weight(pos, "", "scale")
		if err != nil {
			return nil, err
		}
		want := []int{}
		if l.Score == ir.ScoreAdditive {
			want = []int{l.Dim}
		}
		if err := c.expect(w, want...); err != nil {
			return nil, err
		}
		params["scale"] = ir.FromData(append([]float32(nil), w.data...), max(l.Dim, 1))
		pos++
	}
	if l.Score == ir.ScoreConcat {
		w, err := c.weight(pos, "", "concat_score_weight")
		if err != nil {
			return nil, err
		}
		if err := c.expect(w); err != nil {
			return nil, err
		}
		params["weight"] = ir.FromData(append([]float32(nil), w.data...), 1)
	}
	return params, nil
}

// truthy reads a boolean keyword argument (absent: false).
func truthy(v any) bool {
	b, _ := v.(bool)
	return b
}

// allNil reports whether a mask argument holds no tensor (None or a list of
// Nones).
func allNil(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case []any:
		for _, e := range x {
			if !allNil(e) {
				return false
			}
		}
		return true
	}
	return false
}

// mapMultiHeadAttention maps keras.layers.MultiHeadAttention called on
// sequences (query[, value[, key]], each [time, features]) with attention
// over the time axis. A call whose query, value and key are one tensor is
// self-attention (one input).
func mapMultiHeadAttention(c *call) (tensor, error) {
	if len(c.in) < 1 || len(c.in) > 3 {
		return tensor{}, c.errf("takes query, value and optionally key, got %d inputs", len(c.in))
	}
	cf := c.l.Cfg
	heads, err1 := cf.integer(0, "num_heads")
	keyDim, err2 := cf.integer(0, "key_dim")
	valueDim, err3 := cf.integer(0, "value_dim")
	if err1 != nil || err2 != nil || err3 != nil || heads <= 0 || keyDim <= 0 || valueDim < 0 {
		return tensor{}, c.errf("needs positive num_heads and key_dim")
	}
	if valueDim == 0 {
		valueDim = keyDim
	}
	if axes, ok := cf["attention_axes"]; ok && axes != nil {
		a, err := cf.ints(0, nil, "attention_axes")
		if err != nil || len(a) != 1 || (a[0] != 1 && a[0] != -2) {
			return tensor{}, c.errf("attention_axes %v: only attention over the time axis of [batch, time, features] inputs is supported", axes)
		}
	}
	dropout, err := cf.num(0, "dropout")
	if err != nil {
		return tensor{}, c.errf("%v", err)
	}
	ins := make([]tensor, 0, 3)
	for _, t := range c.in {
		p, err := c.plain(t)
		if err != nil {
			return tensor{}, err
		}
		if len(p.shape) != 2 || p.shape[1] <= 0 {
			return tensor{}, c.errf("inputs must be [time, features] sequences with known features, got %v", p.shape)
		}
		ins = append(ins, p)
	}
	// query, value, key → the IR's query[, value[, key]]: drop repeats
	if len(ins) == 3 && ins[2].name == ins[1].name {
		ins = ins[:2]
	}
	if len(ins) == 2 && ins[1].name == ins[0].name {
		ins = ins[:1]
	}
	q := ins[0].shape
	out := q[1]
	if os, ok := cf["output_shape"]; ok && os != nil {
		o, err := cf.ints(0, nil, "output_shape")
		if err != nil || len(o) != 1 || o[0] <= 0 {
			return tensor{}, c.errf("output_shape %v: only one output feature size is supported", os)
		}
		out = o[0]
	}
	l := &ir.MultiHeadAttention{Heads: heads, KeyDim: keyDim, NoBias: !cf.boolean(true, "use_bias"), Dropout: float32(dropout),
		MaskQueries: true, Causal: truthy(c.kwargs["use_causal_mask"])}
	if truthy(c.kwargs["return_attention_scores"]) {
		return tensor{}, c.errf("return_attention_scores=True: a layer returning its attention scores as a second output cannot be imported; call it without")
	}
	for _, k := range []string{"attention_mask", "query_mask", "value_mask", "key_mask"} {
		if m, ok := c.kwargs[k]; ok && !allNil(m) {
			return tensor{}, c.errf("an explicit %s argument cannot be imported; mask padding with Embedding(mask_zero=True) or Masking before the layer", k)
		}
	}
	if valueDim != keyDim {
		l.ValueDim = valueDim
	}
	if out != q[1] {
		l.OutputDim = out
	}
	var params map[string]*ir.Tensor
	if c.hasWeights() {
		qs, vs, ks := ir.AttentionInputs(shapesOf(ins))
		if params, err = c.attentionParams(l, qs[1], ks[1], vs[1], out); err != nil {
			return tensor{}, err
		}
	}
	return c.add(l, params, ins...)
}

func shapesOf(ts []tensor) [][]int {
	out := make([][]int, len(ts))
	for i, t := range ts {
		out[i] = t.shape
	}
	return out
}

// attentionParams reads the four projections' EinsumDense weights: kernels
// (E, heads, dim) and (heads, dim, out), biases (heads, dim) and (out),
// which are the IR's [E, heads·dim] row-major matrices as they are. Keras
// 2 names them <layer>/query/kernel:0; Keras 3 numbers them under
// query_dense/vars (kernel 0, bias 1).
func (c *call) attentionParams(l *ir.MultiHeadAttention, eq, ek, ev, out int) (map[string]*ir.Tensor, error) {
	h, dk, dv := l.Heads, l.KeyDim, l.KeyDim
	if l.ValueDim > 0 {
		dv = l.ValueDim
	}
	parts := []struct {
		k2, k3, w, b string
		kernel, bias []int
	}{
		{"/query/", "query_dense", "Wq", "bq", []int{eq, h, dk}, []int{h, dk}},
		{"/key/", "key_dense", "Wk", "bk", []int{ek, h, dk}, []int{h, dk}},
		{"/value/", "value_dense", "Wv", "bv", []int{ev, h, dv}, []int{h, dv}},
		{"/attention_output/", "output_dense", "Wo", "bo", []int{h, dv, out}, []int{out}},
	}
	params := map[string]*ir.Tensor{}
	for _, p := range parts {
		filter := p.k2
		if err := c.load(); err != nil {
			return nil, err
		}
		if c.numericNames() {
			filter = p.k3
		}
		kw, err := c.weight(0, filter, "kernel")
		if err != nil {
			return nil, err
		}
		if err := c.expect(kw, p.kernel...); err != nil {
			return nil, err
		}
		rows := p.kernel[0]
		if p.w == "Wo" {
			rows = h * dv
		}
		params[p.w] = ir.FromData(kw.data, rows, len(kw.data)/rows)
		if l.NoBias {
			continue
		}
		bw, err := c.weight(1, filter, "bias")
		if err != nil {
			return nil, err
		}
		if err := c.expect(bw, p.bias...); err != nil {
			return nil, err
		}
		params[p.b] = ir.FromData(bw.data, len(bw.data))
	}
	return params, nil
}
