package onnx

import (
	"fmt"
	"math"

	"github.com/retarget-dev/retarget/ir"
)

// ONNX's Attention operator (opset 23) is scaled dot-product attention
// without projections: it imports as the general tensor ops that compute
// it (heads split by TensorReshape/TensorTranspose, shared key/value heads
// repeated by TensorExpand, the products by TensorMatMul, the masks as
// additive terms, TensorSoftmax), so that what surrounds it (projections as
// MatMul with weights, heads reshaped in the graph) imports as usual.

func init() {
	register("Attention", 23, (*converter).attentionOp)
}

// boolOps produce boolean tensors.
var boolOps = map[string]bool{"Equal": true, "Less": true, "Greater": true, "LessOrEqual": true, "GreaterOrEqual": true,
	"Not": true, "And": true, "Or": true, "Xor": true, "IsNaN": true, "IsInf": true}

// isBool reports whether value name has element type bool.
func (c *converter) isBool(name string) bool {
	if c.boolInputs[name] {
		return true
	}
	p := c.producer[name]
	if p == nil {
		return false
	}
	if p.GetOpType() == "Cast" {
		return (&node{NodeProto: p}).int("to", 0) == dtBool
	}
	return boolOps[p.GetOpType()]
}

func (c *converter) attentionOp(n *node) error {
	for k, what := range []string{"", "present_key", "present_value", "qk_matmul_output"} {
		if k > 0 && n.out(k) != "" && c.uses[n.out(k)] > 0 {
			return fmt.Errorf("Attention output %d (%s) is used; only the attention output (Y) is imported", k, what)
		}
	}
	if n.in(4) != "" || n.in(5) != "" {
		return fmt.Errorf("Attention with a key/value cache (past_key, past_value) is not imported; export the model without the cache")
	}
	if n.in(6) != "" {
		return fmt.Errorf("Attention with nonpad_kv_seqlen is not imported")
	}
	var qkv [3]string
	for i := range qkv {
		v, err := c.operand(n, i, false)
		if err != nil {
			return err
		}
		qkv[i] = v
	}
	qs, ks, vs := c.fullOf(qkv[0]), c.fullOf(qkv[1]), c.fullOf(qkv[2])
	r := len(qs)
	if (r != 3 && r != 4) || len(ks) != r || len(vs) != r {
		return fmt.Errorf("Attention of Q, K, V with shapes %s, %s, %s: want all 3-D or all 4-D", ir.FormatShape(qs), ir.FormatShape(ks), ir.FormatShape(vs))
	}
	b := &attnBuilder{c: c, label: n.label}
	var qh, kvh, head, vhead int
	if r == 3 {
		qh, kvh = int(n.int("q_num_heads", 0)), int(n.int("kv_num_heads", 0))
		if qh <= 0 || kvh <= 0 {
			return fmt.Errorf("Attention on 3-D inputs needs q_num_heads and kv_num_heads")
		}
		for _, x := range []struct {
			s     []int
			heads int
			what  string
		}{{qs, qh, "Q"}, {ks, kvh, "K"}, {vs, kvh, "V"}} {
			if x.s[2] <= 0 || x.s[2]%x.heads != 0 {
				return fmt.Errorf("Attention %s width %d does not split into %d heads", x.what, x.s[2], x.heads)
			}
		}
		head, vhead = qs[2]/qh, vs[2]/kvh
		if ks[2]/kvh != head {
			return fmt.Errorf("Attention Q heads of %d and K heads of %d values differ", head, ks[2]/kvh)
		}
		for i, h := range []int{qh, kvh, kvh} {
			s := c.fullOf(qkv[i])
			split, err := b.op("heads", &ir.TensorReshape{Shape: []int{s[0], s[1], h, s[2] / h}}, qkv[i])
			if err != nil {
				return err
			}
			if qkv[i], err = b.op("heads_first", &ir.TensorTranspose{Perm: []int{0, 2, 1, 3}}, split); err != nil {
				return err
			}
		}
	} else {
		qh, kvh, head, vhead = qs[1], ks[1], qs[3], vs[3]
		if qh <= 0 || kvh <= 0 || head <= 0 || vhead <= 0 || ks[3] != head {
			return fmt.Errorf("Attention of 4-D Q, K, V with shapes %s, %s, %s: heads and head sizes must be known and agree", ir.FormatShape(qs), ir.FormatShape(ks), ir.FormatShape(vs))
		}
	}
	if qh%kvh != 0 {
		return fmt.Errorf("Attention with %d query heads and %d key/value heads: the query heads must be a multiple", qh, kvh)
	}
	k, v := qkv[1], qkv[2]
	if g := qh / kvh; g > 1 { // each key/value head serves g consecutive query heads
		var err error
		if k, err = b.repeatHeads(k, g); err != nil {
			return err
		}
		if v, err = b.repeatHeads(v, g); err != nil {
			return err
		}
	}
	kt, err := b.op("keys_t", &ir.TensorTranspose{Perm: []int{0, 1, 3, 2}}, k)
	if err != nil {
		return err
	}
	s, err := b.op("scores", &ir.TensorMatMul{}, qkv[0], kt)
	if err != nil {
		return err
	}
	scale := float32(1 / math.Sqrt(float64(head)))
	if n.attr("scale") != nil {
		scale = n.float("scale", scale)
	}
	if s, err = b.scaled(s, scale, "scaled"); err != nil {
		return err
	}
	if cap := n.float("softcap", 0); cap > 0 { // cap·tanh(s/cap)
		if s, err = b.scaled(s, 1/cap, "softcap_in"); err != nil {
			return err
		}
		if s, err = b.op("softcap_tanh", &ir.TensorActivation{Activation: ir.Act(ir.ActTanh)}, s); err != nil {
			return err
		}
		if s, err = b.scaled(s, cap, "softcap"); err != nil {
			return err
		}
	}
	ss := c.fullOf(s)
	if n.int("is_causal", 0) != 0 {
		tq, tk := ss[2], ss[3]
		if tq <= 0 || tk <= 0 {
			return fmt.Errorf("causal Attention needs known sequence lengths, got scores %s", ir.FormatShape(ss))
		}
		m := make([]float32, tq*tk)
		for i := 0; i < tq; i++ {
			for j := i + 1; j < tk; j++ {
				m[i*tk+j] = float32(math.Inf(-1))
			}
		}
		causal, err := b.constant("causal_mask", []int{tq, tk}, m)
		if err != nil {
			return err
		}
		if s, err = b.op("causal", &ir.TensorBinary{Op: "add"}, s, causal); err != nil {
			return err
		}
	}
	if n.in(3) != "" {
		mask, err := c.operand(n, 3, false)
		if err != nil {
			return err
		}
		if c.isBool(n.in(3)) || c.isConst(n.in(3)) && c.consts[n.in(3)].isInt {
			// True takes part: 0 where set, −∞ where not
			zero, err := b.constant("mask_keep", []int{}, []float32{0})
			if err != nil {
				return err
			}
			hide, err := b.constant("mask_hide", []int{}, []float32{float32(math.Inf(-1))})
			if err != nil {
				return err
			}
			if mask, err = b.op("mask_bias", &ir.TensorWhere{}, mask, zero, hide); err != nil {
				return err
			}
		}
		if s, err = b.op("masked", &ir.TensorBinary{Op: "add"}, s, mask); err != nil {
			return err
		}
	}
	p, err := b.op("weights", &ir.TensorSoftmax{Axis: 3}, s)
	if err != nil {
		return err
	}
	if r == 4 {
		return c.addTensor(n, 0, n.label, &ir.TensorMatMul{}, []string{p, v})
	}
	y, err := b.op("context", &ir.TensorMatMul{}, p, v)
	if err != nil {
		return err
	}
	if y, err = b.op("merge_t", &ir.TensorTranspose{Perm: []int{0, 2, 1, 3}}, y); err != nil {
		return err
	}
	out := c.fullOf(y)
	return c.addTensor(n, 0, n.label, &ir.TensorReshape{Shape: []int{out[0], out[1], qh * vhead}}, []string{y})
}

// attnBuilder adds the vertices of one Attention node, named after it.
type attnBuilder struct {
	c     *converter
	label string
}

func (b *attnBuilder) op(what string, l ir.TensorOp, inputs ...string) (string, error) {
	return b.c.add(b.label+"/"+what, l, inputs, nil)
}

func (b *attnBuilder) constant(what string, shape []int, v []float32) (string, error) {
	return b.c.fixedConst(b.label+"/"+what, shape, v)
}

func (b *attnBuilder) scaled(x string, f float32, what string) (string, error) {
	if f == 1 {
		return x, nil
	}
	k, err := b.constant(what+"_factor", []int{}, []float32{f})
	if err != nil {
		return "", err
	}
	return b.op(what, &ir.TensorBinary{Op: "mul"}, x, k)
}

// repeatHeads turns [B, kvh, T, d] into [B, kvh·g, T, d], each head g
// times in a row.
func (b *attnBuilder) repeatHeads(x string, g int) (string, error) {
	s := b.c.fullOf(x)
	u, err := b.op("group", &ir.TensorReshape{Shape: []int{s[0], s[1], 1, s[2], s[3]}}, x)
	if err != nil {
		return "", err
	}
	e, err := b.op("group_repeat", &ir.TensorExpand{Shape: []int{1, 1, g, 1, 1}}, u)
	if err != nil {
		return "", err
	}
	return b.op("group_merge", &ir.TensorReshape{Shape: []int{s[0], s[1] * g, s[2], s[3]}}, e)
}
