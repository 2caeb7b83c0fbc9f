package onnx

import (
	"fmt"
	"math"
	"strings"

	"github.com/retarget-dev/retarget/internal/onnxpb"
	"github.com/retarget-dev/retarget/ir"
)

// findAttention recognises the subgraphs exporters write for multi-head
// attention and replaces each with one ir.MultiHeadAttention vertex:
//
//	q, k, v = projections of X: PyTorch's packed in-projection
//	          (MatMul(W_in) + b_in, then three Slices in q, k, v order) or
//	          one MatMul (+ Add bias) each (PyTorch with kdim/vdim, and our
//	          own exporter)
//	heads   = Reshape + Transpose of q, k, v
//	scores  = MatMul(q, kᵀ) scaled by 1/√d (a Div or Mul on q, on k, or on
//	          the product), optionally plus a constant causal mask
//	out     = MatMul(Softmax(scores), v) ─ Transpose ─ Reshape
//	          ─ Gemm(W_out, b_out) ─ Reshape  (PyTorch), or
//	          ─ MatMul(W_out) + Add(b_out)     (ours)
//
// Every node of such a region is skipped, and its last node becomes the
// vertex on the projected inputs. A region whose nodes feed anything
// outside, or that differs in any step, is left to the ordinary handlers.
func (c *converter) findAttention() {
	if noAttentionMatch {
		return
	}
	consumers := map[string][]*onnxpb.NodeProto{}
	for _, n := range c.nodes {
		for _, in := range n.GetInput() {
			consumers[in] = append(consumers[in], n)
		}
	}
	for _, n := range c.nodes {
		if c.skip[n] {
			continue
		}
		var m *attentionMatch
		ok := false
		switch n.GetOpType() {
		case "Softmax":
			m, ok = c.matchAttention(n, consumers)
		case "Attention":
			m, ok = c.matchAttentionOp(n, consumers)
		}
		if ok {
			for _, r := range m.region {
				c.skip[r] = true
			}
			delete(c.skip, m.exit)
			m := m
			c.macros[m.exit] = func(c *converter, n *node) error { return c.attentionVertex(n, m) }
		}
	}
}

// noAttentionMatch turns findAttention off: tests set it to import
// attention through the general tensor ops.
var noAttentionMatch bool

type attentionMatch struct {
	inputs []string // query[, value[, key]], as the projections read them
	// q, k, v projections [in, heads·dim] and biases (nil: none), or one
	// packed [in, 3·heads·dim] weight and bias split at conversion
	w, b            [3]*cval
	packed, packedB *cval
	packedName      string
	wshape          [3][2]int
	wout, bout      *cval // out-projection and bias (nil: none)
	woutName        string
	woutT           bool // wout is stored [out, in] (Gemm transB)
	heads, dim      int
	causal          bool
	region          []*onnxpb.NodeProto
	exit            *onnxpb.NodeProto
}

// projection is where a q, k or v path starts: a Slice of the packed
// projection, or its own MatMul (+ Add).
type projection struct {
	slice  *onnxpb.NodeProto
	matmul *onnxpb.NodeProto
	add    *onnxpb.NodeProto
	passed []*onnxpb.NodeProto
	scale  float64
}

func (c *converter) matchAttention(sm *onnxpb.NodeProto, consumers map[string][]*onnxpb.NodeProto) (*attentionMatch, bool) {
	var region []*onnxpb.NodeProto
	take := func(ns ...*onnxpb.NodeProto) { region = append(region, ns...) }
	if a := c.attrInt(sm, "axis", -1); a != -1 && a != 2 && a != 3 {
		return nil, false
	}
	take(sm)
	m := &attentionMatch{}
	scale := 1.0
	name := sm.GetInput()[0]
	var scores *onnxpb.NodeProto
	for steps := 0; scores == nil; steps++ {
		p := c.producer[name]
		if p == nil || steps > 4 {
			return nil, false
		}
		take(p)
		switch p.GetOpType() {
		case "MatMul":
			scores = p
		case "Mul", "Div":
			x, f, ok := c.scalarFactor(p)
			if !ok {
				return nil, false
			}
			scale *= f
			name = x
		case "Add":
			x, ok := c.causalMask(p)
			if !ok || m.causal {
				return nil, false
			}
			m.causal = true
			name = x
		default:
			return nil, false
		}
	}
	next := dataConsumers(consumers[sm.GetOutput()[0]])
	if len(next) != 1 || next[0].GetOpType() != "MatMul" || next[0].GetInput()[0] != sm.GetOutput()[0] {
		return nil, false
	}
	mix := next[0]
	take(mix)
	pr, ok := c.qkvProjections([3]string{scores.GetInput()[0], scores.GetInput()[1], mix.GetInput()[1]}, take)
	if !ok {
		return nil, false
	}
	scale *= pr[0].scale * pr[1].scale
	xs, ok := c.attentionProjections(m, pr, take)
	if !ok {
		return nil, false
	}
	d := int(math.Round(1 / (scale * scale)))
	hk := m.wshape[0][1]
	if d <= 0 || hk%d != 0 || math.Abs(scale*math.Sqrt(float64(d))-1) > 1e-4 || m.wshape[1][1] != hk || m.wshape[2][1]%(hk/d) != 0 {
		return nil, false
	}
	m.dim, m.heads = d, hk/d
	if !c.attentionOutput(m, mix, consumers, take) {
		return nil, false
	}
	return c.closeAttention(m, xs, region, consumers)
}

// attentionProjections reads where the q, k and v paths start (one packed
// projection cut by three Slices, or three MatMul (+ Add)) into m and
// returns the inputs the projections read.
func (c *converter) attentionProjections(m *attentionMatch, pr [3]*projection, take func(...*onnxpb.NodeProto)) ([3]string, bool) {
	var xs [3]string
	if pr[0].slice != nil {
		// packed: the three slices cut one projection, chained end to start
		q, k, v := pr[0].slice, pr[1].slice, pr[2].slice
		if k == nil || v == nil || len(q.GetInput()) < 3 || len(k.GetInput()) < 3 || len(v.GetInput()) < 3 {
			return xs, false
		}
		p := q.GetInput()[0]
		if k.GetInput()[0] != p || v.GetInput()[0] != p || q.GetInput()[2] != k.GetInput()[1] || k.GetInput()[2] != v.GetInput()[1] {
			return xs, false
		}
		if s := c.staticConst(q.GetInput()[1]); s == nil || s.size() != 1 || s.ints()[0] != 0 {
			return xs, false
		}
		take(q, k, v)
		whole, ok := c.projectionAt(p)
		if !ok || len(whole.w.shape) != 2 || whole.w.shape[1]%3 != 0 {
			return xs, false
		}
		take(whole.nodes...)
		m.packed, m.packedB, m.packedName = whole.w, whole.b, whole.wName
		for i := 0; i < 3; i++ {
			m.wshape[i] = [2]int{whole.w.shape[0], whole.w.shape[1] / 3}
			xs[i] = whole.x
		}
	} else {
		for i, p := range pr {
			if p.slice != nil {
				return xs, false
			}
			one, ok := c.projectionAt(p.top())
			if !ok {
				return xs, false
			}
			take(one.nodes...)
			m.w[i], m.b[i], xs[i] = one.w, one.b, one.x
			m.wshape[i] = [2]int{one.w.shape[0], one.w.shape[1]}
		}
		if (m.b[0] == nil) != (m.b[1] == nil) || (m.b[0] == nil) != (m.b[2] == nil) {
			return xs, false
		}
	}
	return xs, true
}

// attentionOutput follows the attention's output from node from through
// Transpose and Reshape to the out-projection (Gemm + Reshape, or MatMul
// (+ Add)), which it reads into m; m.exit is the region's last node.
func (c *converter) attentionOutput(m *attentionMatch, from *onnxpb.NodeProto, consumers map[string][]*onnxpb.NodeProto, take func(...*onnxpb.NodeProto)) bool {
	cur := from
	for {
		data := dataConsumers(consumers[cur.GetOutput()[0]])
		if len(data) != 1 {
			return false
		}
		cur = data[0]
		if op := cur.GetOpType(); op != "Transpose" && op != "Reshape" {
			break
		}
		take(cur)
	}
	switch cur.GetOpType() {
	case "Gemm":
		if c.attrFloat(cur, "alpha", 1) != 1 || c.attrFloat(cur, "beta", 1) != 1 || c.attrInt(cur, "transA", 0) != 0 {
			return false
		}
		m.woutName, m.wout = c.staticConstName(cur.GetInput()[1])
		if len(cur.GetInput()) > 2 && cur.GetInput()[2] != "" {
			if m.bout = c.staticConst(cur.GetInput()[2]); m.bout == nil {
				return false
			}
		}
		if m.wout == nil || len(m.wout.shape) != 2 {
			return false
		}
		m.woutT = c.attrInt(cur, "transB", 0) != 0
		take(cur)
		// the Gemm works on [T·N, E]: a Reshape restores the sequence
		outs := dataConsumers(consumers[cur.GetOutput()[0]])
		if len(outs) != 1 || outs[0].GetOpType() != "Reshape" || outs[0].GetInput()[0] != cur.GetOutput()[0] {
			return false
		}
		m.exit = outs[0]
	case "MatMul":
		one, ok := c.projectionFrom(cur, consumers)
		if !ok {
			return false
		}
		m.wout, m.bout, m.woutName = one.w, one.b, one.wName
		m.exit = one.nodes[len(one.nodes)-1]
	default:
		return false
	}
	take(m.exit)
	woutIn, woutOut := m.wout.shape[0], m.wout.shape[1]
	if m.woutT {
		woutIn, woutOut = woutOut, woutIn
	}
	if woutIn != m.wshape[2][1] || (m.bout != nil && m.bout.size() != woutOut) {
		return false
	}
	return true
}

// closeAttention checks the out-projection against the value width, sets
// the vertex's inputs and closes the region.
func (c *converter) closeAttention(m *attentionMatch, xs [3]string, region []*onnxpb.NodeProto, consumers map[string][]*onnxpb.NodeProto) (*attentionMatch, bool) {
	m.inputs = []string{xs[0]}
	if xs[2] != xs[0] || xs[1] != xs[0] {
		m.inputs = append(m.inputs, xs[2])
		if xs[1] != xs[2] {
			m.inputs = append(m.inputs, xs[1])
		}
	}
	if !c.closeRegion(&region, m.exit, consumers) {
		return nil, false
	}
	m.region = region
	return m, true
}

// matchAttentionOp recognises ONNX's Attention operator on 3-D inputs
// between projections (MatMul (+ Add) with constant weights, or one packed
// projection cut by Slices) and an out-projection. Masks, caches, grouped
// key/value heads, softcap, a scale other than 1/√dim and the 4-D form
// are left to the general tensor ops (ops_attention_op.go).
func (c *converter) matchAttentionOp(at *onnxpb.NodeProto, consumers map[string][]*onnxpb.NodeProto) (*attentionMatch, bool) {
	var region []*onnxpb.NodeProto
	take := func(ns ...*onnxpb.NodeProto) { region = append(region, ns...) }
	ins, outs := at.GetInput(), at.GetOutput()
	if len(ins) < 3 || len(outs) < 1 {
		return nil, false
	}
	for _, in := range ins[3:] {
		if in != "" {
			return nil, false
		}
	}
	for _, o := range outs[1:] {
		if o != "" && (len(consumers[o]) > 0 || c.isGraphOutput(o)) {
			return nil, false
		}
	}
	heads := int(c.attrInt(at, "q_num_heads", 0))
	if heads <= 0 || int(c.attrInt(at, "kv_num_heads", 0)) != heads || c.attrFloat(at, "softcap", 0) != 0 {
		return nil, false
	}
	take(at)
	m := &attentionMatch{causal: c.attrInt(at, "is_causal", 0) != 0}
	pr, ok := c.qkvProjections([3]string{ins[0], ins[1], ins[2]}, take)
	if !ok {
		return nil, false
	}
	xs, ok := c.attentionProjections(m, pr, take)
	if !ok {
		return nil, false
	}
	hk := m.wshape[0][1]
	if hk%heads != 0 || m.wshape[1][1] != hk || m.wshape[2][1]%heads != 0 {
		return nil, false
	}
	d := hk / heads
	scale := pr[0].scale * pr[1].scale * float64(c.attrFloat(at, "scale", float32(1/math.Sqrt(float64(d)))))
	if math.Abs(scale*math.Sqrt(float64(d))-1) > 1e-4 {
		return nil, false
	}
	m.dim, m.heads = d, heads
	if !c.attentionOutput(m, at, consumers, take) {
		return nil, false
	}
	return c.closeAttention(m, xs, region, consumers)
}

// closeRegion adds the shape arithmetic on the region's values to it and
// reports whether nothing in it but the exit feeds a node outside.
func (c *converter) closeRegion(region *[]*onnxpb.NodeProto, exit *onnxpb.NodeProto, consumers map[string][]*onnxpb.NodeProto) bool {
	in := map[*onnxpb.NodeProto]bool{}
	for _, r := range *region {
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
					*region = append(*region, n)
					break
				}
			}
		}
	}
	for _, r := range *region {
		if r == exit {
			continue
		}
		for _, o := range r.GetOutput() {
			for _, u := range consumers[o] {
				if !in[u] {
					return false
				}
			}
			if c.isGraphOutput(o) {
				return false
			}
		}
	}
	return true
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

// scalarFactor reads a Mul or Div by a scalar constant: the other input and
// the factor it applies.
func (c *converter) scalarFactor(n *onnxpb.NodeProto) (string, float64, bool) {
	in := n.GetInput()
	if len(in) != 2 {
		return "", 0, false
	}
	x, k := in[0], c.staticConst(in[1])
	if k == nil && n.GetOpType() == "Mul" {
		x, k = in[1], c.staticConst(in[0])
	}
	if k == nil || k.size() != 1 || k.floats()[0] == 0 {
		return "", 0, false
	}
	if n.GetOpType() == "Div" {
		return x, 1 / k.floats()[0], true
	}
	return x, k.floats()[0], true
}

// causalMask reads Add(scores, M) with M a constant [.., T, T] that is 0 on
// and below the diagonal and very negative above it; it returns the scores.
func (c *converter) causalMask(n *onnxpb.NodeProto) (string, bool) {
	in := n.GetInput()
	if len(in) != 2 {
		return "", false
	}
	for k := 0; k < 2; k++ {
		mk := c.staticConst(in[1-k])
		if mk == nil || mk.isInt || len(mk.shape) < 2 {
			continue
		}
		r := len(mk.shape)
		t := mk.shape[r-1]
		if mk.shape[r-2] != t || mk.size() != t*t {
			continue
		}
		f := mk.floats()
		ok := true
		for i := 0; i < t && ok; i++ {
			for j := 0; j < t; j++ {
				if v := f[i*t+j]; (j <= i && v != 0) || (j > i && v > -1e4) {
					ok = false
					break
				}
			}
		}
		if ok {
			return in[k], true
		}
	}
	return "", false
}

// top is the node a separate projection's value comes from.
func (p *projection) top() string {
	if p.add != nil {
		return p.add.GetOutput()[0]
	}
	return p.matmul.GetOutput()[0]
}

// qkvProjections finds the query, key and value projections behind three
// values (taking the nodes passed on the way); the value's may not be
// scaled.
func (c *converter) qkvProjections(from [3]string, take func(...*onnxpb.NodeProto)) ([3]*projection, bool) {
	var pr [3]*projection
	for i, name := range from {
		p, ok := c.backToProjection(name)
		if !ok {
			return pr, false
		}
		pr[i] = p
		take(p.passed...)
	}
	return pr, pr[2].scale == 1
}

// backToProjection walks from a value back through Transpose, Reshape and
// scalings by a constant to where q, k or v starts: a Slice, or a MatMul
// with a constant weight (or the Add of its bias).
func (c *converter) backToProjection(name string) (*projection, bool) {
	p := &projection{scale: 1}
	for steps := 0; steps < 8; steps++ {
		n := c.producer[name]
		if n == nil {
			return nil, false
		}
		switch n.GetOpType() {
		case "Slice":
			p.slice = n
			return p, true
		case "Add":
			p.add = n
			return p, true
		case "MatMul":
			p.matmul = n
			return p, true
		case "Transpose", "Reshape":
			name = n.GetInput()[0]
		case "Div", "Mul":
			x, f, ok := c.scalarFactor(n)
			if !ok {
				return nil, false
			}
			p.scale *= f
			name = x
		default:
			return nil, false
		}
		p.passed = append(p.passed, n)
	}
	return nil, false
}

// affine is x·w (+ b) with w [in, out] and b [out] constant.
type affine struct {
	x, wName string
	w, b     *cval
	nodes    []*onnxpb.NodeProto
}

// projectionAt reads the MatMul (+ Add) that produces a value.
func (c *converter) projectionAt(name string) (*affine, bool) {
	n := c.producer[name]
	if n == nil {
		return nil, false
	}
	a := &affine{}
	if n.GetOpType() == "Add" {
		in := n.GetInput()
		mm, b := c.producer[in[0]], c.staticConst(in[1])
		if mm == nil || mm.GetOpType() != "MatMul" {
			mm, b = c.producer[in[1]], c.staticConst(in[0])
		}
		if mm == nil || mm.GetOpType() != "MatMul" || b == nil || b.isInt {
			return nil, false
		}
		a.b = b
		a.nodes = append(a.nodes, n)
		n = mm
	}
	if n.GetOpType() != "MatMul" {
		return nil, false
	}
	wName, w := c.staticConstName(n.GetInput()[1])
	if w == nil || w.isInt || len(w.shape) != 2 || (a.b != nil && a.b.size() != w.shape[1]) {
		return nil, false
	}
	a.x, a.w, a.wName = n.GetInput()[0], w, wName
	a.nodes = append([]*onnxpb.NodeProto{n}, a.nodes...)
	return a, true
}

// projectionFrom reads a MatMul with a constant weight and the Add of its
// bias that may follow it; the last node is the affine's output.
func (c *converter) projectionFrom(mm *onnxpb.NodeProto, consumers map[string][]*onnxpb.NodeProto) (*affine, bool) {
	out := mm.GetOutput()[0]
	if next := dataConsumers(consumers[out]); len(next) == 1 && next[0].GetOpType() == "Add" {
		if a, ok := c.projectionAt(next[0].GetOutput()[0]); ok && a.nodes[0] == mm {
			return a, true
		}
	}
	return c.projectionAt(out)
}

// staticConst is an initializer or the value of a Constant node (through
// Identity nodes, which PyTorch writes for shared weights), known before
// any node is converted; nil otherwise.
func (c *converter) staticConst(name string) *cval {
	_, v := c.staticConstName(name)
	return v
}

// staticConstName is staticConst with the name the value is stored under.
func (c *converter) staticConstName(name string) (string, *cval) {
	for steps := 0; steps < 8; steps++ {
		if v := c.consts[name]; v != nil {
			return name, v
		}
		n := c.producer[name]
		if n == nil || n.GetOpType() != "Identity" {
			break
		}
		name = n.GetInput()[0]
	}
	n := c.producer[name]
	if n == nil || n.GetOpType() != "Constant" {
		return "", nil
	}
	for _, a := range n.GetAttribute() {
		if a.GetName() == "value" && a.GetT() != nil {
			v, err := c.rd.decode(a.GetT())
			if err == nil {
				return "", v
			}
		}
	}
	return "", nil
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
// inputs, in place of the region's last node.
func (c *converter) attentionVertex(n *node, m *attentionMatch) error {
	var ins []string
	var ref *dyn
	for _, name := range m.inputs {
		d, ok, err := c.lazyVal(name)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("attention input %q is not a computed value", name)
		}
		if len(d.shape) != 3 || d.batch == 2 {
			return fmt.Errorf("attention input %q has shape %v with the batch on axis %d; want [time, batch, features] or [batch, time, features]", name, d.shape, d.batch)
		}
		if ref == nil {
			ref = d
		}
		x, err := c.mat(d)
		if err != nil {
			return err
		}
		ins = append(ins, x)
	}
	f32 := func(x *cval) *ir.Tensor { return tensorOf(append([]int(nil), x.shape...), x.float32Copy()) }
	params := map[string]*ir.Tensor{}
	names := []string{"q", "k", "v"}
	if m.packed != nil {
		for i, part := range c.splitColumns(m.packed, m.packedName, 3) {
			params["W"+names[i]] = tensorOf(m.wshape[i][:], part)
		}
		if m.packedB != nil {
			all := m.packedB.float32Copy()
			k := len(all) / 3
			for i := range names {
				params["b"+names[i]] = tensorOf([]int{k}, all[i*k:(i+1)*k:(i+1)*k])
			}
		}
	} else {
		for i, k := range names {
			params["W"+k] = f32(m.w[i])
			if m.b[i] != nil {
				params["b"+k] = f32(m.b[i])
			}
		}
	}
	wo := m.wout
	if m.woutT {
		params["Wo"] = tensorOf([]int{wo.shape[1], wo.shape[0]}, c.transposed(wo, m.woutName))
	} else {
		params["Wo"] = f32(wo)
	}
	out := params["Wo"].Shape[1]
	hasBias := params["bq"] != nil
	if m.bout != nil {
		params["bo"] = f32(m.bout)
	} else if hasBias {
		params["bo"] = ir.NewTensor(out)
	}
	if !hasBias && m.bout != nil {
		// the vertex has all biases or none: zero ones for q, k and v
		for i, k := range names {
			params["b"+k] = ir.NewTensor(m.wshape[i][1])
		}
		hasBias = true
	}
	l := &ir.MultiHeadAttention{Heads: m.heads, KeyDim: m.dim, NoBias: !hasBias, Causal: m.causal}
	if dv := m.wshape[2][1] / m.heads; dv != m.dim {
		l.ValueDim = dv
	}
	if out != ref.shape[2] {
		l.OutputDim = out
	}
	// named after the module: PyTorch's last node is "<module>/Reshape_4"
	// (drop the op part); ours carries the vertex name
	name := n.label
	if i := strings.LastIndexByte(n.GetName(), '/'); i > 0 {
		if last := n.GetName()[i+1:]; last == n.GetOpType() || strings.HasPrefix(last, n.GetOpType()+"_") {
			name = n.GetName()[:i]
		}
	}
	v, err := c.add(name, l, ins, params)
	if err != nil {
		return err
	}
	shape := append([]int(nil), ref.shape...)
	shape[2] = out
	c.vals[n.out(0)] = &dyn{v: v, shape: shape, batch: ref.batch}
	return nil
}

// owned reports whether an initializer's float32 values may be rearranged
// in place: this region is its only reader and no tensor holds them yet.
func (c *converter) owned(x *cval, name string) bool {
	return name != "" && c.inits[name] && c.uses[name] == 1 && x.f32 != nil && !x.lent && !x.shared
}

// splitColumns cuts a [rows, parts·k] weight into parts [rows, k]
// matrices. An initializer only this region reads is rearranged in its own
// memory (one scratch copy at a time), so the parts are views of the model
// file's buffer and a large model is not held twice.
func (c *converter) splitColumns(x *cval, name string, parts int) [][]float32 {
	rows, cols := x.shape[0], x.shape[1]
	k := cols / parts
	src, dst := c.workspace(x, name)
	for p := 0; p < parts; p++ {
		for r := 0; r < rows; r++ {
			copy(dst[p*rows*k+r*k:p*rows*k+(r+1)*k], src[r*cols+p*k:r*cols+(p+1)*k])
		}
	}
	out := make([][]float32, parts)
	for p := range out {
		out[p] = dst[p*rows*k : (p+1)*rows*k : (p+1)*rows*k]
	}
	return out
}

// transposed returns a [rows, cols] weight as [cols, rows], in the
// initializer's own memory when only this region reads it.
func (c *converter) transposed(x *cval, name string) []float32 {
	rows, cols := x.shape[0], x.shape[1]
	src, dst := c.workspace(x, name)
	for r := 0; r < rows; r++ {
		for j := 0; j < cols; j++ {
			dst[j*rows+r] = src[r*cols+j]
		}
	}
	return dst
}

// workspace returns the values of a weight about to be rearranged (src)
// and where to write them (dst): for an owned initializer, a reused scratch
// copy and the initializer's own memory; otherwise the values and a new
// slice.
func (c *converter) workspace(x *cval, name string) (src, dst []float32) {
	if !c.owned(x, name) {
		if src = x.f32; src == nil {
			src = x.float32Copy()
		}
		return src, make([]float32, len(src))
	}
	if cap(c.scratch) < len(x.f32) {
		c.scratch = make([]float32, len(x.f32))
	}
	src = c.scratch[:len(x.f32)]
	copy(src, x.f32)
	x.lent = true
	return src, x.f32
}
