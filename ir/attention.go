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
}
