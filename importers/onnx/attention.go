package onnx

import (
	"fmt"
	"math"
	"strings"

	"github.com/retarget-dev/retarget/internal/onnxpb"
	"github.com/retarget-dev/retarget/ir"
)

// findAttention recognises the subgraph PyTorch's exporter writes for
// torch.nn.MultiheadAttention (self-attention, packed in-projection, no
// mask: ViT and nn.TransformerEncoderLayer in eval mode):
//
//	X [T,N,E] ─ MatMul(W_in) ─ Add(b_in) ─ Slice ×3 (q, k, v in that order)
//	q ─ Reshape [T,N·H,d] ─ Transpose ─ Div √d ┐
//	k ─ Reshape ─ Transpose ──────────────────── MatMul ─ Softmax ┐
//	v ─ Reshape ─ Transpose ───────────────────────────────────── MatMul
//	  ─ Transpose ─ Reshape [T·N,E] ─ Gemm(W_out, b_out) ─ Reshape [T,N,E]
//
// Every node of such a region is skipped, and the final Reshape becomes one
// ir.MultiHeadAttention vertex on X. Regions whose nodes feed anything
// outside, or that differ in any step, are left to the ordinary handlers.
func (c *converter) findAttention() {
	consumers := map[string][]*onnxpb.NodeProto{}
	for _, n := range c.nodes {
		for _, in := range n.GetInput() {
			consumers[in] = append(consumers[in], n)
		}
	}
	for _, n := range c.nodes {
		if n.GetOpType() != "Softmax" || c.skip[n] {
			continue
		}
		if m, ok := c.matchAttention(n, consumers); ok {
			for _, r := range m.region {
				c.skip[r] = true
			}
			delete(c.skip, m.exit)
			m := m
			c.macros[m.exit] = func(c *converter, n *node) error { return c.attentionVertex(n, m) }
		}
	}
}

type attentionMatch struct {
	x          string // the projected input [T, N, E]
	win, bin   *cval  // [E, 3E], [3E]
	wout, bout *cval  // out-projection as MatMul weight [E, E], bias [E]
	heads, dim int
	region     []*onnxpb.NodeProto
	exit       *onnxpb.NodeProto
}

func (c *converter) matchAttention(sm *onnxpb.NodeProto, consumers map[string][]*onnxpb.NodeProto) (*attentionMatch, bool) {
	var region []*onnxpb.NodeProto
	take := func(ns ...*onnxpb.NodeProto) { region = append(region, ns...) }
	if a := c.attrInt(sm, "axis", -1); a != -1 && a != 2 {
		return nil, false
	}
	scores := c.producer[sm.GetInput()[0]]
	if scores == nil || scores.GetOpType() != "MatMul" {
		return nil, false
	}
	next := consumers[sm.GetOutput()[0]]
	if len(next) != 1 || next[0].GetOpType() != "MatMul" || next[0].GetInput()[0] != sm.GetOutput()[0] {
		return nil, false
	}
	mix := next[0]
	take(sm, scores, mix)
	q, qn, qscale, ok := c.backToSlice(scores.GetInput()[0])
	if !ok {
		return nil, false
	}
	k, kn, kscale, ok := c.backToSlice(scores.GetInput()[1])
	if !ok {
		return nil, false
	}
	v, vn, vscale, ok := c.backToSlice(mix.GetInput()[1])
	if !ok || vscale != 1 {
		return nil, false
	}
	take(qn...)
	take(kn...)
	take(vn...)
	// the three slices cut one tensor into q, k, v, chained end to start
	p := q.GetInput()[0]
	if k.GetInput()[0] != p || v.GetInput()[0] != p || len(q.GetInput()) < 3 || len(k.GetInput()) < 3 || len(v.GetInput()) < 3 {
		return nil, false
	}
	if q.GetInput()[2] != k.GetInput()[1] || k.GetInput()[2] != v.GetInput()[1] {
		return nil, false
	}
	if s := c.staticConst(q.GetInput()[1]); s == nil || s.size() != 1 || s.ints()[0] != 0 {
		return nil, false
	}
	add := c.producer[p]
	if add == nil || add.GetOpType() != "Add" {
		return nil, false
	}
	mm, bin := c.producer[add.GetInput()[0]], c.staticConst(add.GetInput()[1])
	if mm == nil || mm.GetOpType() != "MatMul" {
		mm, bin = c.producer[add.GetInput()[1]], c.staticConst(add.GetInput()[0])
	}
	if mm == nil || mm.GetOpType() != "MatMul" || bin == nil {
		return nil, false
	}
	win := c.staticConst(mm.GetInput()[1])
	if win == nil || len(win.shape) != 2 || win.shape[1]%3 != 0 || bin.size() != win.shape[1] {
		return nil, false
	}
	take(q, k, v, add, mm)
	e := win.shape[1] / 3
	// the scale is 1/√d, on q or split between q and k
	scale := qscale * kscale
	d := int(math.Round(1 / (scale * scale)))
	if d <= 0 || e%d != 0 || math.Abs(scale*math.Sqrt(float64(d))-1) > 1e-4 {
		return nil, false
	}
	// forward to the out-projection and the Reshape back to [T, N, E]
	cur := mix
	for {
		data := dataConsumers(consumers[cur.GetOutput()[0]])
		if len(data) != 1 {
			return nil, false
		}
		cur = data[0]
		if op := cur.GetOpType(); op != "Transpose" && op != "Reshape" {
			break
		}
		take(cur)
	}
	var wout, bout *cval
	switch cur.GetOpType() {
	case "Gemm":
		if len(cur.GetInput()) < 3 || c.attrFloat(cur, "alpha", 1) != 1 || c.attrFloat(cur, "beta", 1) != 1 || c.attrInt(cur, "transA", 0) != 0 {
			return nil, false
		}
		w, b := c.staticConst(cur.GetInput()[1]), c.staticConst(cur.GetInput()[2])
		if w == nil || b == nil || len(w.shape) != 2 {
			return nil, false
		}
		if c.attrInt(cur, "transB", 0) != 0 {
			w = transposeC(w, []int{1, 0})
		}
		wout, bout = w, b
		take(cur)
	default:
		return nil, false
	}
	if wout.shape[0] != e || bout.size() != wout.shape[1] {
		return nil, false
	}
	outs := dataConsumers(consumers[cur.GetOutput()[0]])
	if len(outs) != 1 || outs[0].GetOpType() != "Reshape" || outs[0].GetInput()[0] != cur.GetOutput()[0] {
		return nil, false
	}
	exit := outs[0]
	take(exit)
	m := &attentionMatch{x: mm.GetInput()[0], win: win, bin: bin, wout: wout, bout: bout, heads: e / d, dim: d, exit: exit}
	// the region also holds the shape arithmetic on its values; nothing in
	// it but the exit may feed a node outside
	in := map[*onnxpb.NodeProto]bool{}
	for _, r := range region {
		in[r] = true
	}
	for grew := true; grew; {
		grew = false
		for _, n := range c.nodes {
			if in[n] {
				continue
			}
			for _, i := range n.GetInput() {
				if p := c.producer[i]; p != nil && in[p] && p != exit {
					in[n], grew = true, true
					region = append(region, n)
					break
				}
			}
		}
	}
	for _, r := range region {
		if r == exit {
			continue
		}
		for _, o := range r.GetOutput() {
			for _, u := range consumers[o] {
				if !in[u] {
					return nil, false
				}
			}
			if c.isGraphOutput(o) {
				return nil, false
			}
		}
	}
	m.region = region
	return m, true
}

// dataConsumers drops the Shape nodes from a value's consumers (the shape
// arithmetic of the Reshapes around it).
func dataConsumers(ns []*onnxpb.NodeProto) []*onnxpb.NodeProto {
	var out []*onnxpb.NodeProto
	for _, n := range ns {
		if n.GetOpType() != "Shape" {
			out = append(out, n)
		}
	}
	return out
}

// backToSlice walks from a value back through Transpose, Reshape and
// multiplications or divisions by a scalar constant to a Slice; it returns
// the Slice, the nodes passed and the product of the scalars.
func (c *converter) backToSlice(name string) (*onnxpb.NodeProto, []*onnxpb.NodeProto, float64, bool) {
	var passed []*onnxpb.NodeProto
	scale := 1.0
	for steps := 0; steps < 8; steps++ {
		n := c.producer[name]
		if n == nil {
			return nil, nil, 0, false
		}
		switch n.GetOpType() {
		case "Slice":
			return n, passed, scale, true
		case "Transpose", "Reshape":
			name = n.GetInput()[0]
		case "Div", "Mul":
			s := c.staticConst(n.GetInput()[1])
			if s == nil || s.size() != 1 || s.floats()[0] == 0 {
				return nil, nil, 0, false
			}
			if n.GetOpType() == "Div" {
				scale /= s.floats()[0]
			} else {
				scale *= s.floats()[0]
			}
			name = n.GetInput()[0]
		default:
			return nil, nil, 0, false
		}
		passed = append(passed, n)
	}
	return nil, nil, 0, false
}

// staticConst is an initializer or the value of a Constant node (through
// Identity nodes, which PyTorch writes for shared weights), known before
// any node is converted; nil otherwise.
func (c *converter) staticConst(name string) *cval {
	for steps := 0; steps < 8; steps++ {
		if v := c.consts[name]; v != nil {
			return v
		}
		n := c.producer[name]
		if n == nil || n.GetOpType() != "Identity" {
			break
		}
		name = n.GetInput()[0]
	}
	n := c.producer[name]
	if n == nil || n.GetOpType() != "Constant" {
		return nil
	}
	for _, a := range n.GetAttribute() {
		if a.GetName() == "value" && a.GetT() != nil {
			v, err := c.rd.decode(a.GetT())
			if err == nil {
				return v
			}
		}
	}
	return nil
}

func (c *converter) attrInt(n *onnxpb.NodeProto, name string, def int64) int64 {
	return (&node{NodeProto: n}).int(name, def)
}

func (c *converter) attrFloat(n *onnxpb.NodeProto, name string, def float32) float32 {
	return (&node{NodeProto: n}).float(name, def)
}

func (c *converter) isGraphOutput(name string) bool {
	for _, o := range c.graphOutputs {
		if o == name {
			return true
		}
	}
	return false
}

// attentionVertex adds the MultiHeadAttention of a matched region on its
// input, in place of the region's final Reshape.
func (c *converter) attentionVertex(n *node, m *attentionMatch) error {
	d, err := c.dynIn(&node{NodeProto: &onnxpb.NodeProto{Input: []string{m.x}}}, 0)
	if err != nil {
		return err
	}
	if len(d.shape) != 3 || d.batch == 2 {
		return fmt.Errorf("attention input %q has shape %v with the batch on axis %d; want [time, batch, features] or [batch, time, features]", m.x, d.shape, d.batch)
	}
	x, err := c.mat(d)
	if err != nil {
		return err
	}
	e := m.win.shape[0]
	hd := m.heads * m.dim
	if m.win.shape[1] != 3*hd {
		return fmt.Errorf("in-projection %v does not hold q, k and v of %d heads × %d", m.win.shape, m.heads, m.dim)
	}
	w := m.win.float32s()
	b := m.bin.float32s()
	cols := func(k int) *ir.Tensor {
		t := ir.NewTensor(e, hd)
		for r := 0; r < e; r++ {
			copy(t.Data[r*hd:(r+1)*hd], w[r*3*hd+k*hd:r*3*hd+(k+1)*hd])
		}
		return t
	}
	part := func(k int) *ir.Tensor { return tensorOf([]int{hd}, append([]float32(nil), b[k*hd:(k+1)*hd]...)) }
	out := m.wout.shape[1]
	params := map[string]*ir.Tensor{
		"Wq": cols(0), "Wk": cols(1), "Wv": cols(2),
		"bq": part(0), "bk": part(1), "bv": part(2),
		"Wo": tensorOf([]int{hd, out}, m.wout.float32Copy()),
		"bo": tensorOf([]int{out}, m.bout.float32Copy()),
	}
	l := &ir.MultiHeadAttention{Heads: m.heads, KeyDim: m.dim}
	if out != e {
		l.OutputDim = out
	}
	// named after the module: the exit node's name without its last part
	name := n.label
	if i := strings.LastIndexByte(n.GetName(), '/'); i > 0 {
		name = n.GetName()[:i]
	}
	v, err := c.add(name, l, []string{x}, params)
	if err != nil {
		return err
	}
	shape := append([]int(nil), d.shape...)
	shape[2] = out
	c.vals[n.out(0)] = &dyn{v: v, shape: shape, batch: d.batch}
	return nil
}
