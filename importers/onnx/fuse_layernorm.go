package onnx

import (
	"strings"

	"github.com/retarget-dev/retarget/ir"
)

// fuseLayerNorms rewrites the decomposition of layer normalisation that
// exporters write below opset 17 (exporters/onnx and PyTorch's):
//
//	μ = ReduceMean(x, axes)   c = x − μ   σ² = ReduceMean(c·c or c², axes)
//	y = c / √(σ² + ε)  [· γ]  [+ β]
//
// into one trainable ir.LayerNorm over the trailing axes, γ and β (which
// were Constant vertices) becoming its parameters. The final vertex is
// rewritten in place; when one of the matched vertices is named N and the
// final one N/… (exporters/onnx names the nodes of one layer so), the
// LayerNorm takes the name N back. Intermediate vertices must have no
// other consumer; they are left unreferenced for prune.
func fuseLayerNorms(g *ir.Graph) {
	shapes, err := g.Shapes()
	if err != nil {
		return
	}
	f := newFuser(g)
	// From the last vertex back, so that the longest form (with γ and β)
	// matches before its y = c/√(σ²+ε) part does.
	done := map[*ir.Vertex]bool{}
	for k := len(g.Vertices) - 1; k >= 0; k-- {
		v := g.Vertices[k]
		if done[v] {
			continue
		}
		m, ok := f.layerNorm(v, shapes)
		if !ok {
			continue
		}
		for _, name := range m.matched {
			done[f.byName[name]] = true
		}
		v.Layer, v.Inputs, v.Params = m.layer, []string{m.x}, m.params
		for _, name := range m.matched {
			if strings.HasPrefix(v.Name, name+"/") {
				renameVertex(g, f.byName[name], v)
				break
			}
		}
	}
}

type lnMatch struct {
	x       string
	layer   *ir.LayerNorm
	params  map[string]*ir.Tensor
	matched []string // the vertices the LayerNorm replaces, v excluded
}

func (f *fuser) layerNorm(v *ir.Vertex, shapes map[string][]int) (*lnMatch, bool) {
	m := &lnMatch{}
	cur := v
	beta, rest := f.constOperand(cur, ir.MergeAdd)
	if beta != nil {
		if cur = f.inner(rest); cur == nil {
			return nil, false
		}
		m.matched = append(m.matched, cur.Name)
	}
	gamma, rest := f.constOperand(cur, ir.MergeMultiply)
	if gamma != nil {
		if cur = f.inner(rest); cur == nil {
			return nil, false
		}
		m.matched = append(m.matched, cur.Name)
	}
	if !isMerge(cur, ir.MergeDivide) {
		return nil, false
	}
	cen, sd := cur.Inputs[0], f.inner(cur.Inputs[1])
	if sd == nil || !isUnary(sd, ir.UnarySqrt) {
		return nil, false
	}
	eps, rest := f.constOperand(f.inner(onlyInput(sd)), ir.MergeAdd)
	if eps == nil || len(eps.Data) != 1 {
		return nil, false
	}
	vr := f.inner(rest)
	axes, ok := meanAxes(vr)
	if !ok {
		return nil, false
	}
	sq := f.inner(onlyInput(vr))
	cenUses := 1
	switch {
	case sq == nil:
		return nil, false
	case isMerge(sq, ir.MergeMultiply) && sq.Inputs[0] == cen && sq.Inputs[1] == cen:
		cenUses += 2
	case isUnary(sq, ir.UnarySquare) && onlyInput(sq) == cen,
		isUnary(sq, ir.UnaryPow) && sq.Layer.(*ir.Unary).Exponent == 2 && onlyInput(sq) == cen:
		cenUses++
	default:
		return nil, false
	}
	c := f.byName[cen]
	if c == nil || f.uses[cen] != cenUses || !isMerge(c, ir.MergeSubtract) {
		return nil, false
	}
	x, mu := c.Inputs[0], f.inner(c.Inputs[1])
	if mu == nil || onlyInput(mu) != x {
		return nil, false
	}
	axes2, ok := meanAxes(mu)
	if !ok || !sameInts(axes, axes2) {
		return nil, false
	}
	xs := shapes[x]
	first := len(xs) - len(axes)
	for k, a := range axes {
		if a != first+k {
			return nil, false
		}
	}
	if first < 0 || !ir.SameShape(xs, shapes[v.Name]) {
		return nil, false
	}
	m.layer = &ir.LayerNorm{Epsilon: eps.Data[0], Axis: -len(axes), NoScale: gamma == nil, NoCenter: beta == nil}
	ns := xs[first:]
	m.params = map[string]*ir.Tensor{}
	for _, p := range []struct {
		name string
		t    *ir.Tensor
		fill float32
	}{{"gamma", gamma, 1}, {"beta", beta, 0}} {
		t, ok := spread(p.t, ns, len(xs), p.fill)
		if !ok {
			return nil, false
		}
		m.params[p.name] = t
	}
	m.x = x
	m.matched = append(m.matched, sd.Name, onlyInput(sd), vr.Name, sq.Name, cen, mu.Name)
	return m, true
}

// constOperand returns the value of v's Constant operand and its other
// operand when v is a two-input op Merge, nil otherwise.
func (f *fuser) constOperand(v *ir.Vertex, op ir.MergeOp) (*ir.Tensor, string) {
	if v == nil || !isMerge(v, op) {
		return nil, ""
	}
	for k := 0; k < 2; k++ {
		if cv := f.byName[v.Inputs[k]]; cv != nil {
			if kc, ok := cv.Layer.(*ir.Constant); ok && kc.Batch == 0 && cv.Params["value"] != nil {
				return cv.Params["value"], v.Inputs[1-k]
			}
		}
	}
	return nil, ""
}

// spread gives a γ or β constant the normalised shape ns; it may
// broadcast over the normalised axes only. A nil t is filled with fill.
func spread(t *ir.Tensor, ns []int, rank int, fill float32) (*ir.Tensor, bool) {
	if t == nil {
		d := make([]float32, prod(ns))
		for k := range d {
			d[k] = fill
		}
		return tensorOf(ns, d), true
	}
	s := t.Shape
	if len(s) > rank {
		return nil, false
	}
	for len(s) > len(ns) {
		if s[0] != 1 {
			return nil, false
		}
		s = s[1:]
	}
	out, err := bcast(s, ns)
	if err != nil || !ir.SameShape(out, ns) {
		return nil, false
	}
	pick := bpick(s, ns)
	d := make([]float32, prod(ns))
	for k := range d {
		d[k] = t.Data[pick(k)]
	}
	return tensorOf(ns, d), true
}

func meanAxes(v *ir.Vertex) ([]int, bool) {
	if v == nil {
		return nil, false
	}
	r, ok := v.Layer.(*ir.Reduce)
	if !ok || r.Op != "mean" || !r.KeepDims || len(v.Inputs) != 1 {
		return nil, false
	}
	return r.Axes, true
}

func isMerge(v *ir.Vertex, op ir.MergeOp) bool {
	m, ok := v.Layer.(*ir.Merge)
	return ok && m.Op == op && len(v.Inputs) == 2
}

func isUnary(v *ir.Vertex, op ir.UnaryOp) bool {
	u, ok := v.Layer.(*ir.Unary)
	return ok && u.Op == op && len(v.Inputs) == 1
}

func sameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if a[k] != b[k] {
			return false
		}
	}
	return true
}

// renameVertex gives v the name of the replaced vertex dead, which takes
// v's old name, and points v's consumers and graph outputs at it.
func renameVertex(g *ir.Graph, dead, v *ir.Vertex) {
	old := v.Name
	v.Name, dead.Name = dead.Name, old+"/replaced"
	for _, u := range g.Vertices {
		for k, in := range u.Inputs {
			if in == old {
				u.Inputs[k] = v.Name
			}
		}
	}
	for k := range g.Outputs {
		if g.Outputs[k].Vertex == old {
			g.Outputs[k].Vertex = v.Name
		}
	}
}
