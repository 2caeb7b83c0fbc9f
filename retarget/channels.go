package retarget

import (
	"fmt"
	"slices"

	"github.com/retarget-dev/retarget/ir"
)

// chanMap says how one axis of a value changes: new index i holds old
// index src[i], or a new unit when src[i] is -1.
type chanMap struct {
	axis int
	src  []int
}

func allNew(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = -1
	}
	return s
}

// consumerEdit is a vertex whose weights read the resized axis: rows
// (along axis) of each weight param change as src says.
type consumerEdit struct {
	vertex string
	params []string
	axis   int
	src    []int
}

// channelEdit is a per-channel parameter (normalisation, PReLU) to remap.
type channelEdit struct {
	vertex, param string
	axis          int
	src           []int
}

// region is everything a resize of one vertex (or graph input) reaches.
type region struct {
	producers map[string][]int   // resized vertices -> map of their units
	maps      map[string]chanMap // every value whose shape changes
	consumers []consumerEdit
	perChan   []channelEdit
	configs   []func() // shape-only config changes (Reshape targets)
	lossy     []string // why the function cannot be preserved
}

// outAxis is the feature axis of a sized layer's output.
func outAxis(l ir.Layer, out []int) int {
	switch l.(type) {
	case *ir.Conv, *ir.ConvTranspose2D, *ir.SeparableConv2D:
		return 0
	}
	return len(out) - 1
}

// unitsToOut maps a producer's unit map to its output map (a concatenating
// Bidirectional repeats it for the backward half).
func unitsToOut(l ir.Layer, units []int) []int {
	b, ok := l.(*ir.Bidirectional)
	if !ok || b.Merge != ir.BiConcat {
		return units
	}
	old := b.OutUnits()
	out := append([]int(nil), units...)
	for _, s := range units {
		if s >= 0 {
			s += old
		}
		out = append(out, s)
	}
	return out
}

// findRegion follows a resize from the producers (and, for ReplaceNIn, a
// graph input) to every consumer; merges that must stay aligned add
// producers, and the walk restarts until nothing new is added.
func (st *state) findRegion(producers map[string][]int, startValue string, start chanMap) (*region, error) {
	g := st.g
	prods := map[string][]int{}
	for k, v := range producers {
		prods[k] = v
	}
	order, err := looseTopo(g)
	if err != nil {
		return nil, err
	}
	shapes := partialShapes(g)
	for {
		r := &region{producers: prods, maps: map[string]chanMap{}}
		if startValue != "" {
			r.maps[startValue] = start
		}
		restart := false
		for _, v := range order {
			if units, ok := prods[v.Name]; ok {
				r.maps[v.Name] = chanMap{axis: outAxis(v.Layer, shapes[v.Name]), src: unitsToOut(v.Layer, units)}
			}
			affected := false
			for _, in := range v.Inputs {
				_, ok := r.maps[in]
				affected = affected || ok
			}
			if !affected {
				continue
			}
			ties, err := r.visit(g, shapes, v)
			if err != nil {
				return nil, &ir.VertexError{Vertex: v.Name, Err: err}
			}
			for p, m := range ties {
				if old, ok := prods[p]; ok {
					if !slices.Equal(old, m) {
						return nil, &ir.VertexError{Vertex: v.Name, Err: fmt.Errorf("merge needs %q resized two different ways", p)}
					}
					continue
				}
				prods[p] = m
				restart = true
			}
			if restart {
				break
			}
		}
		if !restart {
			return r, nil
		}
	}
}

// visit handles vertex v, some of whose inputs change; it returns the
// producers a merge ties to the resize.
func (r *region) visit(g *ir.Graph, shapes map[string][]int, v *ir.Vertex) (map[string][]int, error) {
	in0 := v.Inputs[0]
	m, ok0 := r.maps[in0]
	s := shapes[in0]
	if s == nil || shapes[v.Name] == nil {
		return nil, fmt.Errorf("shape cannot be inferred")
	}
	_, isProducer := r.producers[v.Name]
	pass := func(axis int, src []int) {
		if !isProducer {
			r.maps[v.Name] = chanMap{axis: axis, src: src}
		}
	}
	consume := func(axis int, params ...string) {
		r.consumers = append(r.consumers, consumerEdit{vertex: v.Name, params: params, axis: axis, src: m.src})
	}
	perChan := func(axis int, params ...string) {
		for _, p := range params {
			if v.Params[p] != nil {
				r.perChan = append(r.perChan, channelEdit{vertex: v.Name, param: p, axis: axis, src: m.src})
			}
		}
	}
	rule, ok := channelRules[v.Layer.Kind()]
	if !ok || rule.follow == nil {
		if why, ok := cannotFollow[v.Layer.Kind()]; ok {
			return nil, fmt.Errorf("cannot follow a resize through a %s vertex: %s", v.Layer.Kind(), why)
		}
		return nil, fmt.Errorf("cannot follow a resize through a %s vertex", v.Layer.Kind())
	}
	f := &follow{r: r, g: g, shapes: shapes, v: v, s: s, m: m, a: m.axis, pass: pass, consume: consume, perChan: perChan}
	if rule.anyInput {
		return rule.follow(f)
	}
	if !ok0 {
		return nil, fmt.Errorf("input %q is not the resized one", in0)
	}
	return rule.follow(f)
}

func followDense(f *follow) (map[string][]int, error) {
	s := f.s
	a := f.a
	m := f.m
	pass := f.pass
	consume := f.consume
	if a == len(s)-1 {
		consume(0, "W")
	} else {
		pass(a, m.src)
	}
	return nil, nil
}

func followConv(f *follow) (map[string][]int, error) {
	l := f.v.Layer.(*ir.Conv)
	s := f.s
	a := f.a
	m := f.m
	pass := f.pass
	consume := f.consume
	r := f.r
	v := f.v
	if a != 0 {
		return nil, fmt.Errorf("%s would read a resized spatial axis", l.Kind())
	}
	if g := l.GroupCount(); g != 1 {
		if g != s[0] {
			return nil, fmt.Errorf("grouped %s (%d groups of %d channels) reads the resized channels: not supported, remove and re-add it", l.Kind(), g, s[0]/g)
		}
		r.depthwise(v, l, m.src, pass)
		return nil, nil
	}
	consume(1, "W")
	return nil, nil
}

func followConvTranspose2D(f *follow) (map[string][]int, error) {
	l := f.v.Layer.(*ir.ConvTranspose2D)
	a := f.a
	consume := f.consume
	if l.GroupCount() != 1 || a != 0 {
		return nil, fmt.Errorf("%s can follow a resize of ungrouped channels only", l.Kind())
	}
	consume(0, "W")
	return nil, nil
}

func followSeparableConv2D(f *follow) (map[string][]int, error) {
	a := f.a
	consume := f.consume
	if a != 0 {
		return nil, fmt.Errorf("SeparableConv2D would read a resized spatial axis")
	}
	consume(-1, "DW", "PW")
	return nil, nil
}

func followRecurrent(f *follow) (map[string][]int, error) {
	a := f.a
	consume := f.consume
	if a != 1 {
		return nil, fmt.Errorf("%s would read a resized time axis", f.v.Layer.Kind())
	}
	consume(0, "W")
	return nil, nil
}

func followBidirectional(f *follow) (map[string][]int, error) {
	a := f.a
	consume := f.consume
	if a != 1 {
		return nil, fmt.Errorf("Bidirectional would read a resized time axis")
	}
	consume(0, "fw/W", "bw/W")
	return nil, nil
}

func followEmbedding(f *follow) (map[string][]int, error) {
	return nil, fmt.Errorf("Embedding reads indices, its input cannot be resized")
}

func followBatchNorm(f *follow) (map[string][]int, error) {
	l := f.v.Layer.(*ir.BatchNorm)
	a := f.a
	m := f.m
	pass := f.pass
	perChan := f.perChan
	if a == l.Axis {
		perChan(0, "gamma", "beta", "mean", "var")
	}
	pass(a, m.src)
	return nil, nil
}

func followInstanceNorm(f *follow) (map[string][]int, error) {
	if f.a == 0 {
		f.perChan(0, "gamma", "beta")
	}
	f.pass(f.a, f.m.src)
	return nil, nil
}

func followLayerNorm(f *follow) (map[string][]int, error) {
	l := f.v.Layer.(*ir.LayerNorm)
	s := f.s
	a := f.a
	m := f.m
	pass := f.pass
	perChan := f.perChan
	r := f.r
	v := f.v
	ns := l.NormShape(s)
	start := len(s) - len(ns)
	if a >= start {
		perChan(a-start, "gamma", "beta")
		r.lossy = append(r.lossy, fmt.Sprintf("LayerNorm %q normalises across the resized axis", v.Name))
	}
	pass(a, m.src)
	return nil, nil
}

func followPReLU(f *follow) (map[string][]int, error) {
	l := f.v.Layer.(*ir.PReLU)
	s := f.s
	a := f.a
	m := f.m
	pass := f.pass
	perChan := f.perChan
	if l.AlphaShape(s)[a] != 1 {
		perChan(a, "alpha")
	}
	pass(a, m.src)
	return nil, nil
}

func followElementwise(f *follow) (map[string][]int, error) {
	a := f.a
	m := f.m
	pass := f.pass
	pass(a, m.src)
	return nil, nil
}

func followActivationLayer(f *follow) (map[string][]int, error) {
	l := f.v.Layer.(*ir.ActivationLayer)
	s := f.s
	a := f.a
	m := f.m
	pass := f.pass
	r := f.r
	v := f.v
	if k := l.Activation.Kind; k == ir.ActSoftmax || k == ir.ActLogSoftmax {
		ax := l.Activation.Axis
		if ax < 0 {
			ax += len(s)
		}
		if ax == a {
			r.lossy = append(r.lossy, fmt.Sprintf("%q applies %s across the resized axis", v.Name, k))
		}
	}
	pass(a, m.src)
	return nil, nil
}

func followPool(f *follow) (map[string][]int, error) {
	a := f.a
	m := f.m
	pass := f.pass
	if a != 0 {
		return nil, fmt.Errorf("%s would pool over the resized axis", f.v.Layer.Kind())
	}
	pass(0, m.src)
	return nil, nil
}

func followPad(f *follow) (map[string][]int, error) {
	l := f.v.Layer.(*ir.Pad)
	s := f.s
	a := f.a
	m := f.m
	pass := f.pass
	if a >= len(s)-l.Rank {
		return nil, fmt.Errorf("Pad works on the resized axis")
	}
	pass(a, m.src)
	return nil, nil
}

func followCropping(f *follow) (map[string][]int, error) {
	l := f.v.Layer.(*ir.Cropping)
	s := f.s
	a := f.a
	m := f.m
	pass := f.pass
	if a >= len(s)-l.Rank {
		return nil, fmt.Errorf("Cropping works on the resized axis")
	}
	pass(a, m.src)
	return nil, nil
}

func followUpSampling(f *follow) (map[string][]int, error) {
	l := f.v.Layer.(*ir.UpSampling)
	s := f.s
	a := f.a
	m := f.m
	pass := f.pass
	if a >= len(s)-l.Rank {
		return nil, fmt.Errorf("UpSampling works on the resized axis")
	}
	pass(a, m.src)
	return nil, nil
}

func followLastTimeStep(f *follow) (map[string][]int, error) {
	a := f.a
	m := f.m
	pass := f.pass
	if a == 0 {
		return nil, fmt.Errorf("LastTimeStep would drop the resized axis")
	}
	pass(a-1, m.src)
	return nil, nil
}

func followRepeatVector(f *follow) (map[string][]int, error) {
	a := f.a
	m := f.m
	pass := f.pass
	pass(a+1, m.src)
	return nil, nil
}

func followPermute(f *follow) (map[string][]int, error) {
	l := f.v.Layer.(*ir.Permute)
	a := f.a
	m := f.m
	pass := f.pass
	pass(slices.Index(l.Perm, a), m.src)
	return nil, nil
}

func followFlatten(f *follow) (map[string][]int, error) {
	s := f.s
	m := f.m
	pass := f.pass
	src, err := flatMap(s, m)
	if err != nil {
		return nil, err
	}
	pass(0, src)
	return nil, nil
}

func followReshape(f *follow) (map[string][]int, error) {
	l := f.v.Layer.(*ir.Reshape)
	s := f.s
	m := f.m
	pass := f.pass
	r := f.r
	v := f.v
	shapes := f.shapes
	return nil, r.reshape(l, s, shapes[v.Name], m, pass)
}

func followSlice(f *follow) (map[string][]int, error) {
	l := f.v.Layer.(*ir.Slice)
	s := f.s
	a := f.a
	m := f.m
	pass := f.pass
	for _, ax := range l.Axes {
		if ax == a || ax+len(s) == a {
			return nil, fmt.Errorf("Slice cuts the resized axis")
		}
	}
	pass(a, m.src)
	return nil, nil
}

func followReduce(f *follow) (map[string][]int, error) {
	l := f.v.Layer.(*ir.Reduce)
	s := f.s
	a := f.a
	m := f.m
	pass := f.pass
	shift := 0
	for _, ax := range l.Axes {
		if ax < 0 {
			ax += len(s)
		}
		if ax == a {
			return nil, fmt.Errorf("Reduce %s over the resized axis", l.Op)
		}
		if ax < a && !l.KeepDims {
			shift++
		}
	}
	pass(a-shift, m.src)
	return nil, nil
}

// depthwise follows the channel axis through a depthwise convolution (one
// group per input channel, Filters/Groups filters each): its filters and
// biases are per-channel parameters, and its group and filter counts follow
// the channel count.
func (r *region) depthwise(v *ir.Vertex, l *ir.Conv, src []int, pass func(int, []int)) {
	mult := l.Filters / l.GroupCount()
	out := make([]int, 0, len(src)*mult)
	for _, c := range src {
		for j := 0; j < mult; j++ {
			if c < 0 {
				out = append(out, -1)
			} else {
				out = append(out, c*mult+j)
			}
		}
	}
	for _, p := range []string{"W", "b"} {
		if v.Params[p] != nil {
			r.perChan = append(r.perChan, channelEdit{vertex: v.Name, param: p, axis: 0, src: out})
		}
	}
	r.configs = append(r.configs, func() {
		l.Groups = len(src)
		l.Filters = len(out)
	})
	pass(0, out)
}

// flatMap maps a resized axis of shape s to the flattened vector.
func flatMap(s []int, m chanMap) ([]int, error) {
	for _, d := range s {
		if d <= 0 {
			return nil, fmt.Errorf("flattening needs a known shape, got %v", s)
		}
	}
	a := m.axis
	outer, inner := ir.NumElements(s[:a]), ir.NumElements(s[a+1:])
	oldN, newN := s[a], len(m.src)
	out := make([]int, 0, outer*newN*inner)
	for o := 0; o < outer; o++ {
		for c := 0; c < newN; c++ {
			sc := m.src[c]
			for k := 0; k < inner; k++ {
				if sc < 0 {
					out = append(out, -1)
				} else {
					out = append(out, (o*oldN+sc)*inner+k)
				}
			}
		}
	}
	return out, nil
}

// reshape follows the axis through a Reshape that keeps it as an axis, or
// that flattens it with everything after it into the last axis.
func (r *region) reshape(l *ir.Reshape, s, out []int, m chanMap, pass func(int, []int)) error {
	a := m.axis
	for _, d := range s {
		if d <= 0 {
			return fmt.Errorf("Reshape of a shape with unknown sizes %v", s)
		}
	}
	pre, suf := ir.NumElements(s[:a]), ir.NumElements(s[a+1:])
	newN := len(m.src)
	for j := range out {
		if ir.NumElements(out[:j]) != pre {
			continue
		}
		if out[j] == s[a] && ir.NumElements(out[j+1:]) == suf {
			r.configs = append(r.configs, func() {
				if l.Shape[j] != -1 {
					l.Shape[j] = newN
				}
			})
			pass(j, m.src)
			return nil
		}
		if j == len(out)-1 && out[j] == s[a]*suf {
			src, err := flatMap(s[a:], chanMap{axis: 0, src: m.src})
			if err != nil {
				return err
			}
			r.configs = append(r.configs, func() {
				if l.Shape[j] != -1 {
					l.Shape[j] = newN * suf
				}
			})
			pass(j, src)
			return nil
		}
	}
	return fmt.Errorf("Reshape %v to %v does not keep the resized axis %d; edit it by hand", s, out, a)
}

// tie handles a merge (concatAxis < 0: element-wise) or a Concat: inputs
// that must keep the resized size too name their producers.
func (r *region) tie(g *ir.Graph, shapes map[string][]int, v *ir.Vertex, concatAxis int) (map[string][]int, error) {
	rank := len(shapes[v.Name])
	var first *chanMap
	outAxis := -1
	for _, in := range v.Inputs {
		if m, ok := r.maps[in]; ok {
			a := m.axis + rank - len(shapes[in])
			if first == nil {
				mm := m
				first, outAxis = &mm, a
			} else if a != outAxis {
				return nil, fmt.Errorf("inputs resized on different axes")
			}
		}
	}
	if concatAxis >= 0 && outAxis == concatAxis {
		var src []int
		off := 0
		for _, in := range v.Inputs {
			if len(shapes[in]) != rank {
				return nil, fmt.Errorf("Concat input %q has an unknown or different rank", in)
			}
			n := shapes[in][concatAxis]
			if m, ok := r.maps[in]; ok {
				for _, k := range m.src {
					if k >= 0 {
						k += off
					}
					src = append(src, k)
				}
			} else {
				for k := 0; k < n; k++ {
					src = append(src, off+k)
				}
			}
			off += n
		}
		r.maps[v.Name] = chanMap{axis: outAxis, src: src}
		return nil, nil
	}
	ties := map[string][]int{}
	for _, in := range v.Inputs {
		s := shapes[in]
		if s == nil {
			return nil, fmt.Errorf("the shape of input %q cannot be inferred", in)
		}
		ai := outAxis - (rank - len(s))
		if m, ok := r.maps[in]; ok {
			if !slices.Equal(m.src, first.src) {
				return nil, fmt.Errorf("inputs resized differently (%q)", in)
			}
			continue
		}
		if ai < 0 || s[ai] == 1 {
			continue // broadcast
		}
		if err := findProducers(g, shapes, in, ai, first.src, ties); err != nil {
			return nil, fmt.Errorf("input %q must change size to stay aligned: %w", in, err)
		}
	}
	r.maps[v.Name] = chanMap{axis: outAxis, src: first.src}
	return ties, nil
}

// findProducers walks back from a value through per-channel vertices to the
// sized layers that produce it.
func findProducers(g *ir.Graph, shapes map[string][]int, name string, axis int, src []int, out map[string][]int) error {
	v := g.Vertex(name)
	if v == nil {
		return fmt.Errorf("graph input %q would have to change size", name)
	}
	s := shapes[name]
	switch l := v.Layer.(type) {
	case *ir.Dense, *ir.Conv, *ir.SimpleRNN, *ir.LSTM, *ir.GRU, *ir.ConvTranspose2D, *ir.SeparableConv2D, *ir.Embedding:
		if c, ok := l.(*ir.Conv); ok && c.GroupCount() != 1 {
			return fmt.Errorf("grouped convolution %q cannot be resized", name)
		}
		if axis != outAxis(l, s) {
			return fmt.Errorf("%q is resized on axis %d, not its feature axis", name, axis)
		}
		out[name] = src
		return nil
	case *ir.Dropout, *ir.ActivationLayer, *ir.BatchNorm, *ir.Pool, *ir.GlobalPool, *ir.PReLU, *ir.Rescaling, *ir.Unary, *ir.Masking:
		return findProducers(g, shapes, v.Inputs[0], axis, src, out)
	case *ir.Merge:
		for _, in := range v.Inputs {
			si := shapes[in]
			ai := axis - (len(s) - len(si))
			if si == nil || ai >= len(si) {
				return fmt.Errorf("the shape of %q cannot be inferred", in)
			}
			if ai < 0 || si[ai] == 1 {
				continue
			}
			if err := findProducers(g, shapes, in, ai, src, out); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("%q (%s) cannot be resized to match", name, v.Layer.Kind())
}
