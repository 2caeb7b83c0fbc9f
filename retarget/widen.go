package retarget

import (
	"fmt"
	"math/rand"

	"github.com/retarget-dev/retarget/ir"
)

// WidenMode chooses how Widen fills the weights of new units.
type WidenMode string

const (
	// WidenPreserve: new units get fresh incoming weights and zero weights
	// wherever they feed old units (recurrent connections, consumers), so
	// the outputs are unchanged until training moves them.
	WidenPreserve WidenMode = "preserve"
	// WidenNet2Net splits existing units (Net2WiderNet): each new unit copies
	// a randomly chosen unit's incoming weights (per gate for LSTM/GRU) and
	// the replicas share that unit's outgoing weights, so the outputs are
	// unchanged and the new units are already useful. Shares are 1/count
	// plus a small perturbation summing to zero over the replicas, which
	// keeps the function and lets training break the symmetry.
	WidenNet2Net WidenMode = "net2net"
	// WidenRandom gives new units fresh weights everywhere.
	WidenRandom WidenMode = "random"
)

// ParseWidenMode checks a mode name.
func ParseWidenMode(s string) (WidenMode, error) {
	switch m := WidenMode(s); m {
	case WidenPreserve, WidenNet2Net, WidenRandom:
		return m, nil
	}
	return "", fmt.Errorf("unknown widen mode %q (preserve, net2net, random)", s)
}

// Widen adds extra units to a trained Dense, Conv (groups 1), SimpleRNN,
// LSTM or GRU vertex, keeping every trained weight; consumers are followed
// as ReplaceNOut does, and their input weights extended as mode says.
// Fresh weights use the builder's default init. Where a widen cannot keep
// the outputs (a LayerNorm or softmax across the widened axis), Build
// lists it in the notes.
func (b *Builder) Widen(name string, extra int, mode WidenMode) *Builder {
	return b.record("widen", name, phaseResize, fmt.Sprint("widen", extra, mode), nil, func(st *state) error {
		v, err := st.vertex(name)
		if err != nil {
			return err
		}
		if _, err := ParseWidenMode(string(mode)); err != nil {
			return err
		}
		if extra <= 0 {
			return fmt.Errorf("extra units must be positive, got %d", extra)
		}
		var old int
		switch l := v.Layer.(type) {
		case *ir.Dense, *ir.SimpleRNN, *ir.LSTM, *ir.GRU:
			old = l.(ir.Sized).OutUnits()
		case *ir.Conv:
			if l.GroupCount() != 1 {
				return fmt.Errorf("cannot widen a grouped/depthwise convolution")
			}
			old = l.Filters
		default:
			return fmt.Errorf("widen supports Dense, Conv, SimpleRNN, LSTM and GRU, not %s", v.Layer.Kind())
		}
		src := make([]int, old+extra)
		rng := rngFor(st.seed, name, "net2net-pick")
		for i := range src {
			switch {
			case i < old:
				src[i] = i
			case mode == WidenNet2Net:
				src[i] = rng.Intn(old)
			default:
				src[i] = -1
			}
		}
		r, err := st.findRegion(map[string][]int{name: src}, "", chanMap{})
		if err != nil {
			return err
		}
		if mode != WidenRandom {
			if a := activationOf(v.Layer); a.Kind == ir.ActSoftmax || a.Kind == ir.ActLogSoftmax {
				r.lossy = append(r.lossy, fmt.Sprintf("%q applies %s across its units", name, a.Kind))
			}
			for _, why := range r.lossy {
				st.note("widen %q (%s): outputs change: %s", name, mode, why)
			}
		}
		for _, o := range st.g.Outputs {
			if _, ok := r.maps[o.Vertex]; ok {
				st.note("widen %q: graph output %q grows", name, o.Name)
			}
		}
		return st.widenRegion(r, mode)
	})
}

func (st *state) widenRegion(r *region, mode WidenMode) error {
	g := st.g
	for p, units := range r.producers {
		g.Vertex(p).Layer.(ir.Sized).SetOutUnits(len(units))
	}
	for _, f := range r.configs {
		f()
	}
	shapes := partialShapes(g)
	for _, c := range r.consumers {
		v := g.Vertex(c.vertex)
		if c.axis < 0 {
			return &ir.VertexError{Vertex: c.vertex, Err: fmt.Errorf("widen cannot extend the weights of a %s consumer", v.Layer.Kind())}
		}
		for _, p := range c.params {
			t := v.Params[p]
			spec, ok := specOf(v, shapes, p)
			if !ok || t == nil {
				return &ir.VertexError{Vertex: c.vertex, Err: fmt.Errorf("parameter %q missing", p)}
			}
			rng := rngFor(st.seed, c.vertex, p, "widen-in")
			v.Params[p] = st.consumerRows(t, t.Shape, c.axis, c.src, mode, spec, rng)
			st.touch(c.vertex, p)
		}
	}
	for p, units := range r.producers {
		if err := st.widenProducer(g.Vertex(p), shapes, units, mode); err != nil {
			return &ir.VertexError{Vertex: p, Err: err}
		}
	}
	for _, c := range r.perChan {
		v := g.Vertex(c.vertex)
		t := v.Params[c.param]
		fresh := ir.NewTensor(t.Shape...)
		fresh.Shape[c.axis] = len(c.src)
		fresh = ir.NewTensor(fresh.Shape...)
		if c.param == "alpha" {
			fill(fresh.Data, 0.25)
		}
		if c.param == "gamma" || c.param == "var" {
			fill(fresh.Data, 1)
		}
		if _, dw := v.Layer.(*ir.Conv); dw && c.param == "W" {
			// new depthwise filters need fresh weights: zero filters
			// would get zero gradients and never learn
			spec, ok := specOf(v, shapes, "W")
			if !ok {
				return &ir.VertexError{Vertex: c.vertex, Err: fmt.Errorf("parameter W missing")}
			}
			f, err := initParam(spec, st.init, rngFor(st.seed, c.vertex, "W", "widen-dw"))
			if err != nil {
				return &ir.VertexError{Vertex: c.vertex, Err: err}
			}
			fresh = f
		}
		v.Params[c.param] = remapAxis(t, t.Shape, c.axis, c.src, nil, fresh.Data)
		st.touch(c.vertex, c.param)
	}
	return nil
}

// consumerRows remaps the rows (along axis) of a weight that reads widened
// units: kept rows stay (net2net: shared among replicas), new rows are zero
// (preserve) or fresh (random).
func (st *state) consumerRows(t *ir.Tensor, view []int, axis int, src []int, mode WidenMode, spec ir.ParamSpec, rng *rand.Rand) *ir.Tensor {
	var scale []float32
	if mode == WidenNet2Net {
		scale = shares(src, rng)
	}
	var fresh []float32
	if mode == WidenRandom {
		n := ir.NumElements(view) / view[axis] * len(src)
		fresh, _ = initValues(st.init, spec.FanIn, spec.FanOut, n, rng)
	}
	return remapAxis(t, view, axis, src, scale, fresh)
}

// shares gives each replica of an old unit its share of the outgoing
// weights: 1/count, perturbed by up to ±10% so replicas differ, with the
// shares of one unit summing to one.
func shares(src []int, rng *rand.Rand) []float32 {
	groups := map[int][]int{}
	for i, s := range src {
		if s >= 0 {
			groups[s] = append(groups[s], i)
		}
	}
	scale := make([]float32, len(src))
	for i := range scale {
		scale[i] = 1
	}
	for s := 0; s < len(src); s++ { // ordered: the draws must not depend on map order
		idx := groups[s]
		if len(idx) < 2 {
			continue
		}
		c := float64(len(idx))
		sum := 0.0
		for k, i := range idx {
			if k == len(idx)-1 {
				scale[i] = float32(1 - sum)
				break
			}
			f := (1 + (rng.Float64()*2-1)*0.1) / c
			scale[i] = float32(f)
			sum += f
		}
	}
	return scale
}

// widenProducer extends a producer's own units: kept units keep their
// weights, replicated ones (net2net) copy them, new ones are fresh.
func (st *state) widenProducer(v *ir.Vertex, shapes map[string][]int, units []int, mode WidenMode) error {
	specs := map[string]ir.ParamSpec{}
	for _, s := range v.Layer.Params(v.InputShapes(shapes)) {
		specs[s.Name] = s
	}
	newU := len(units)
	fresh := func(p string) (*ir.Tensor, error) {
		t, err := initParam(specs[p], st.init, rngFor(st.seed, v.Name, p, "widen-out"))
		if err == nil {
			forgetBias(v.Layer, p, t)
		}
		return t, err
	}
	// cols remaps the units axis of param p seen as view (the old units on
	// axis), filling new units from a fresh tensor of the final shape.
	cols := func(p string, view []int, axis int) error {
		t := v.Params[p]
		if t == nil {
			return nil
		}
		f, err := fresh(p)
		if err != nil {
			return err
		}
		out := remapAxis(t, view, axis, units, nil, f.Data)
		out.Shape = append([]int(nil), specs[p].Shape...)
		v.Params[p] = out
		st.touch(v.Name, p)
		return nil
	}
	shapeOf := func(p string) []int {
		if t := v.Params[p]; t != nil {
			return t.Shape
		}
		return nil
	}
	gates := 0
	switch v.Layer.(type) {
	case *ir.Dense:
		if err := cols("W", shapeOf("W"), 1); err != nil {
			return err
		}
		return cols("b", shapeOf("b"), 0)
	case *ir.Conv:
		if err := cols("W", shapeOf("W"), 0); err != nil {
			return err
		}
		return cols("b", shapeOf("b"), 0)
	case *ir.SimpleRNN:
		gates = 1
	case *ir.LSTM:
		gates = 4
	case *ir.GRU:
		gates = 3
	default:
		return fmt.Errorf("cannot widen a %s", v.Layer.Kind())
	}
	w := v.Params["W"]
	oldU := w.Shape[1] / gates
	if l, ok := v.Layer.(*ir.LSTM); ok && l.Peephole {
		if err := cols("P", []int{3, oldU}, 1); err != nil {
			return err
		}
	}
	if err := cols("W", []int{w.Shape[0], gates, oldU}, 2); err != nil {
		return err
	}
	// R: rows are the (widened) hidden units read recurrently, columns the
	// gates' units
	r := v.Params["R"]
	v.Params["R"] = st.consumerRows(r, r.Shape, 0, units, mode, specs["R"], rngFor(st.seed, v.Name, "R", "widen-in"))
	if err := cols("R", []int{newU, gates, oldU}, 2); err != nil {
		return err
	}
	if b := v.Params["b"]; b != nil {
		if len(b.Shape) == 2 {
			return cols("b", []int{2, gates, oldU}, 2)
		}
		return cols("b", []int{gates, oldU}, 1)
	}
	return nil
}

// specOf finds the spec of param p for the current shapes.
func specOf(v *ir.Vertex, shapes map[string][]int, p string) (ir.ParamSpec, bool) {
	for _, s := range v.Layer.Params(v.InputShapes(shapes)) {
		if s.Name == p {
			return s, true
		}
	}
	return ir.ParamSpec{}, false
}

// remapAxis builds a tensor from t (seen as view) whose axis holds
// len(src) entries: entry i is old entry src[i] (times scale[i] when
// scale is given), or when src[i] < 0 the entry i of fresh (zeros when
// fresh is nil). fresh is laid out like the result.
func remapAxis(t *ir.Tensor, view []int, axis int, src []int, scale []float32, fresh []float32) *ir.Tensor {
	outer, inner := ir.NumElements(view[:axis]), ir.NumElements(view[axis+1:])
	oldN, newN := view[axis], len(src)
	out := make([]float32, outer*newN*inner)
	for o := 0; o < outer; o++ {
		for i, s := range src {
			dst := out[(o*newN+i)*inner : (o*newN+i+1)*inner]
			switch {
			case s >= 0:
				copy(dst, t.Data[(o*oldN+s)*inner:(o*oldN+s+1)*inner])
				if scale != nil {
					for k := range dst {
						dst[k] *= scale[i]
					}
				}
			case fresh != nil:
				copy(dst, fresh[(o*newN+i)*inner:(o*newN+i+1)*inner])
			}
		}
	}
	shape := append([]int(nil), view...)
	shape[axis] = newN
	return &ir.Tensor{Shape: shape, Data: out}
}
