package ir

import "fmt"

// MultiHeadAttention is scaled dot-product attention over sequences, as
// Keras MultiHeadAttention and torch.nn.MultiheadAttention compute it.
// Inputs (without batch) are query [Tq, Eq], then optionally value [Tv, Ev]
// and key [Tv, Ek]: one input is self-attention, two take the key from the
// value (Keras's order: query, value, key).
//
//	Q = query·Wq + bq, K = key·Wk + bk, V = value·Wv + bv
//	head h: softmax(Q_h K_hᵀ / √KeyDim + mask) V_h
//	out = concat(heads)·Wo + bo
//
// Wq, Wk are [E, Heads·KeyDim], Wv is [Ev, Heads·ValueDim] and Wo is
// [Heads·ValueDim, OutputDim], row-major; that is Keras's (E, heads, dim)
// and (heads, dim, out) kernels flattened. The mask hides key steps that the
// sequence mask flowing with the key marks as padding (Keras's automatic
// masking, PyTorch's key_padding_mask) and, with Causal, every key step
// after the query step. Dropout acts on the attention weights in training.
type MultiHeadAttention struct {
	Heads     int     `json:"heads"`
	KeyDim    int     `json:"key_dim"`
	ValueDim  int     `json:"value_dim,omitempty"`  // 0: KeyDim
	OutputDim int     `json:"output_dim,omitempty"` // 0: the query's width
	NoBias    bool    `json:"no_bias,omitempty"`
	Dropout   float32 `json:"dropout,omitempty"`
	Causal    bool    `json:"causal,omitempty"`
	// MaskQueries: a query step the sequence mask marks as padding attends
	// to no key, so it averages every value (Keras); otherwise it attends
	// to the real keys (PyTorch's key_padding_mask).
	MaskQueries bool `json:"mask_queries,omitempty"`
}

func (*MultiHeadAttention) Kind() string { return "MultiHeadAttention" }

func (a *MultiHeadAttention) valueDim() int {
	if a.ValueDim > 0 {
		return a.ValueDim
	}
	return a.KeyDim
}

// outDim is the output feature width for a query of width eq.
func (a *MultiHeadAttention) outDim(eq int) int {
	if a.OutputDim > 0 {
		return a.OutputDim
	}
	return eq
}

// AttentionInputs returns the query, value and key shapes of an input list.
func AttentionInputs(in [][]int) (q, v, k []int) {
	q = in[0]
	v, k = q, q
	if len(in) > 1 {
		v, k = in[1], in[1]
	}
	if len(in) > 2 {
		k = in[2]
	}
	return q, v, k
}

func (a *MultiHeadAttention) OutputShape(in [][]int) ([]int, error) {
	if len(in) < 1 || len(in) > 3 {
		return nil, fmt.Errorf("MultiHeadAttention takes query[, value[, key]] (1 to 3 inputs), got %d", len(in))
	}
	if a.Heads <= 0 || a.KeyDim <= 0 || a.ValueDim < 0 || a.OutputDim < 0 {
		return nil, fmt.Errorf("MultiHeadAttention needs positive heads and key_dim (got heads %d, key_dim %d, value_dim %d, output_dim %d)", a.Heads, a.KeyDim, a.ValueDim, a.OutputDim)
	}
	if a.Dropout < 0 || a.Dropout >= 1 {
		return nil, fmt.Errorf("MultiHeadAttention dropout %v is not in [0, 1)", a.Dropout)
	}
	q, v, k := AttentionInputs(in)
	for i, s := range [][]int{q, v, k} {
		if len(s) != 2 || s[1] <= 0 {
			return nil, fmt.Errorf("MultiHeadAttention %s must be [time, features] with known features, got %v", [...]string{"query", "value", "key"}[i], s)
		}
	}
	if v[0] > 0 && k[0] > 0 && v[0] != k[0] {
		return nil, fmt.Errorf("MultiHeadAttention key has %d steps, value %d: they must match", k[0], v[0])
	}
	if a.Causal && q[0] > 0 && v[0] > 0 && q[0] != v[0] {
		return nil, fmt.Errorf("causal MultiHeadAttention needs as many query steps as key steps, got %d and %d", q[0], v[0])
	}
	return []int{q[0], a.outDim(q[1])}, nil
}

func (a *MultiHeadAttention) Params(in [][]int) []ParamSpec {
	if len(in) < 1 || len(in) > 3 {
		return nil
	}
	q, v, k := AttentionInputs(in)
	if len(q) != 2 || len(v) != 2 || len(k) != 2 {
		return nil
	}
	hk, hv, out := a.Heads*a.KeyDim, a.Heads*a.valueDim(), a.outDim(q[1])
	ps := []ParamSpec{
		spec("Wq", RoleWeight, q[1], hk, q[1], hk),
		spec("Wk", RoleWeight, k[1], hk, k[1], hk),
		spec("Wv", RoleWeight, v[1], hv, v[1], hv),
		spec("Wo", RoleWeight, hv, out, hv, out),
	}
	if !a.NoBias {
		ps = append(ps, spec("bq", RoleBias, 0, 0, hk), spec("bk", RoleBias, 0, 0, hk),
			spec("bv", RoleBias, 0, 0, hv), spec("bo", RoleBias, 0, 0, out))
	}
	return ps
}

func init() {
	Register("MultiHeadAttention", func() Layer { return &MultiHeadAttention{} })
	Register("Attention", func() Layer { return &Attention{} })
}

// Attention scores of ir.Attention.
const (
	ScoreDot      = "dot"      // Luong: q·kᵀ, times Scale
	ScoreConcat   = "concat"   // Keras 3 score_mode "concat": w·Σ tanh(scale·(q+k))
	ScoreAdditive = "additive" // Bahdanau: Σ scale∘tanh(q+k)
)

// Attention is Keras's Attention (Luong, dot or concat scores) and
// AdditiveAttention (Bahdanau) layer: no projections, so the shapes are
// full ones (a general tensor op). Inputs query [..., Tq, d], value
// [..., Tv, dv] and optionally key [..., Tv, d] (else the value):
//
//	scores[i, j] = dot:      Scale · q_i·k_j
//	               concat:   Weight · Σ_d tanh(Scale · (q_id + k_jd))
//	               additive: Σ_d scale_d · tanh(q_id + k_jd)
//	out = softmax_j(scores + mask) · value
//
// On rank-2 inputs [B, d] the rows are the batch: every example attends to
// every example (scores [B, B]), as Keras computes it. Parameters: "scale"
// (shape [1]) for dot or concat with UseScale, "weight" ([1]) for concat,
// "scale" ([Dim]) for additive with UseScale. Causal hides key steps after
// the query step; a sequence mask flowing with the inputs hides padded key
// steps and zeroes the output of padded query steps (Keras's value and query
// masks). Dropout acts on the attention weights in training.
type Attention struct {
	Score    string  `json:"score"`
	UseScale bool    `json:"use_scale,omitempty"`
	Dim      int     `json:"dim,omitempty"` // additive with UseScale: the feature size
	Dropout  float32 `json:"dropout,omitempty"`
	Causal   bool    `json:"causal,omitempty"`
}

func (*Attention) Kind() string { return "Attention" }
func (*Attention) FullShapes()  {}

func (a *Attention) OutputShape(in [][]int) ([]int, error) {
	if len(in) < 2 || len(in) > 3 {
		return nil, fmt.Errorf("Attention takes query, value and optionally key (2 or 3 inputs), got %d", len(in))
	}
	switch a.Score {
	case ScoreDot, ScoreConcat:
	case ScoreAdditive:
		if a.UseScale && a.Dim <= 0 {
			return nil, fmt.Errorf("additive Attention with a scale needs its feature size (dim), got %d", a.Dim)
		}
	default:
		return nil, fmt.Errorf("Attention score %q is not dot, concat or additive", a.Score)
	}
	if a.Dropout < 0 || a.Dropout >= 1 {
		return nil, fmt.Errorf("Attention dropout %v is not in [0, 1)", a.Dropout)
	}
	q, v, k := in[0], in[1], in[1]
	if len(in) > 2 {
		k = in[2]
	}
	for i, s := range [][]int{q, v, k} {
		if len(s) < 2 || s[len(s)-1] < 0 {
			return nil, fmt.Errorf("Attention %s must be [..., steps, features] with known features, got %s", [...]string{"query", "value", "key"}[i], FormatShape(s))
		}
	}
	if len(q) != len(v) || len(k) != len(v) || !sizesAgree(q[:len(q)-2], v[:len(v)-2]) || !sizesAgree(k[:len(k)-1], v[:len(v)-1]) {
		return nil, fmt.Errorf("Attention of query %s, value %s and key %s: leading axes and key/value steps must match", FormatShape(q), FormatShape(v), FormatShape(k))
	}
	dq, dk := q[len(q)-1], k[len(k)-1]
	if !sizesAgree([]int{dq}, []int{dk}) {
		return nil, fmt.Errorf("Attention query has %d features, key %d: they must match", dq, dk)
	}
	if a.Score == ScoreAdditive && a.UseScale && !sizesAgree([]int{a.Dim}, []int{dq}) {
		return nil, fmt.Errorf("additive Attention scale has %d features, query %d", a.Dim, dq)
	}
	tq, tv := q[len(q)-2], v[len(v)-2]
	if a.Causal && !sizesAgree([]int{tq}, []int{tv}) {
		return nil, fmt.Errorf("causal Attention needs as many query steps as key steps, got %s and %s", FormatShape(q), FormatShape(v))
	}
	out := append([]int(nil), q...)
	out[len(out)-1] = v[len(v)-1]
	return out, nil
}

// MixesExamples reports whether the batch is a step axis of the query or
// the value (full shapes): the output of one example then depends on the
// others, so the batch must not be split to run it.
func (a *Attention) MixesExamples(in [][]int) bool {
	for _, s := range in {
		if n := len(s); n >= 2 && (s[n-2] == Batch || s[n-1] == Batch) {
			return true
		}
	}
	return false
}

func (a *Attention) Params([][]int) []ParamSpec {
	var ps []ParamSpec
	switch {
	case a.Score == ScoreAdditive && a.UseScale:
		ps = append(ps, spec("scale", RoleWeight, a.Dim, a.Dim, a.Dim))
	case a.Score != ScoreAdditive && a.UseScale:
		ps = append(ps, spec("scale", RoleGamma, 0, 0, 1))
	}
	if a.Score == ScoreConcat {
		ps = append(ps, spec("weight", RoleGamma, 0, 0, 1))
	}
	return ps
}

// sizesAgree compares two shapes of one rank, an unknown size (-1) agreeing
// with any.
func sizesAgree(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && a[i] != -1 && b[i] != -1 {
			return false
		}
	}
	return true
}
