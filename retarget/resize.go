package retarget

import (
	"fmt"
	"sort"
	"strings"

	"github.com/retarget-dev/retarget/ir"
)

// ReplaceNOut gives a sized vertex (Dense, Output, Conv, recurrent, …) n
// output units (DL4J nOutReplace; for an Output vertex: the class count).
// The vertex is re-initialised with init, and every vertex that reads the
// resized axis is resized: per-channel parameters (BatchNorm, LayerNorm,
// PReLU) are re-initialised, shape-only vertices followed, element-wise
// merges keep their inputs aligned by resizing the other producers too, and
// the next weighted consumers are re-initialised with fanOutInit (a
// consumer made by Add or Insert with its own init). Empty inits mean the
// builder's default.
func (b *Builder) ReplaceNOut(name string, n int, init, fanOutInit ir.WeightInit) *Builder {
	return b.record("replace_nout", name, phaseResize, fmt.Sprint("nout", n, init, fanOutInit), nil, func(st *state) error {
		v, err := st.vertex(name)
		if err != nil {
			return err
		}
		if n <= 0 {
			return fmt.Errorf("new size must be positive, got %d", n)
		}
		if _, ok := v.Layer.(ir.Sized); !ok {
			return fmt.Errorf("%s has no output size to replace", v.Layer.Kind())
		}
		r, err := st.findRegion(map[string][]int{name: allNew(n)}, "", chanMap{})
		if err != nil {
			return err
		}
		return st.reinitRegion(r, init, fanOutInit)
	})
}

// ReplaceNIn changes the input size of a vertex that reads a graph input
// (possibly through per-channel vertices such as Rescaling): the input's
// feature axis becomes n, and every vertex reading it is re-initialised
// with init (DL4J nInReplace).
func (b *Builder) ReplaceNIn(name string, n int, init ir.WeightInit) *Builder {
	return b.record("replace_nin", name, phaseResize, fmt.Sprint("nin", n, init), nil, func(st *state) error {
		v, err := st.vertex(name)
		if err != nil {
			return err
		}
		if n <= 0 {
			return fmt.Errorf("new size must be positive, got %d", n)
		}
		if len(v.Inputs) != 1 {
			return fmt.Errorf("needs a vertex with one input, %q has %d", name, len(v.Inputs))
		}
		shapes := partialShapes(st.g)
		s := shapes[v.Inputs[0]]
		if s == nil {
			return fmt.Errorf("the shape of input %q cannot be inferred", v.Inputs[0])
		}
		axis := len(s) - 1
		switch v.Layer.(type) {
		case *ir.Conv, *ir.ConvTranspose2D, *ir.SeparableConv2D:
			axis = 0
		case *ir.Dense, *ir.Output, *ir.RnnOutput, *ir.SimpleRNN, *ir.LSTM, *ir.GRU, *ir.Bidirectional:
		default:
			return fmt.Errorf("%s has no input size to replace", v.Layer.Kind())
		}
		in, err := graphInputBehind(st.g, v.Inputs[0])
		if err != nil {
			return err
		}
		gi := st.g.Input(in)
		if ia := axis + len(gi.Shape) - len(s); ia < 0 || ia >= len(gi.Shape) || len(gi.Shape) != len(s) {
			return fmt.Errorf("graph input %q of shape %v cannot be resized on axis %d", in, gi.Shape, axis)
		}
		r, err := st.findRegion(nil, in, chanMap{axis: axis, src: allNew(n)})
		if err != nil {
			return err
		}
		gi.Shape = append([]int(nil), gi.Shape...)
		gi.Shape[axis] = n
		st.note("replace_nin %q: graph input %q now has shape %v", name, in, gi.Shape)
		return st.reinitRegion(r, init, init)
	})
}

// graphInputBehind walks back through per-channel vertices to a graph input.
func graphInputBehind(g *ir.Graph, name string) (string, error) {
	for {
		if g.Input(name) != nil {
			return name, nil
		}
		v := g.Vertex(name)
		if v == nil {
			return "", fmt.Errorf("unknown input %q", name)
		}
		switch v.Layer.(type) {
		case *ir.Dropout, *ir.ActivationLayer, *ir.BatchNorm, *ir.Rescaling, *ir.Unary, *ir.Masking, *ir.PReLU:
			name = v.Inputs[0]
		default:
			return "", fmt.Errorf("its input comes from %q (%s), not a graph input: use replace_nout on that vertex", name, v.Layer.Kind())
		}
	}
}

// reinitRegion applies a ReplaceNOut/ReplaceNIn region: every resized
// vertex gets fresh parameters.
func (st *state) reinitRegion(r *region, init, fanOutInit ir.WeightInit) error {
	g := st.g
	for p, units := range r.producers {
		g.Vertex(p).Layer.(ir.Sized).SetOutUnits(len(units))
	}
	for _, f := range r.configs {
		f()
	}
	shapes := partialShapes(g)
	var probs []error
	redo := func(name string, w ir.WeightInit, params ...string) {
		v := g.Vertex(name)
		if err := st.initVertex(v, shapes, w, params...); err != nil {
			probs = append(probs, &ir.VertexError{Vertex: name, Err: err})
		}
		if len(params) == 0 {
			st.touch(name, "*")
		}
	}
	var resized []string
	for p := range r.producers {
		redo(p, init)
		resized = append(resized, p)
	}
	for _, c := range r.consumers {
		if _, ok := r.producers[c.vertex]; !ok {
			w := fanOutInit
			if ai, added := st.addInit[c.vertex]; added {
				w = ai
			}
			redo(c.vertex, w)
			resized = append(resized, c.vertex)
		}
	}
	for _, c := range r.perChan {
		redo(c.vertex, init, c.param)
	}
	var also []string
	for _, r := range sortedUnique(resized) {
		if r != st.cur.target {
			also = append(also, r)
		}
	}
	if len(also) > 0 {
		st.note("%s %q also resized %s", st.cur.op, st.cur.target, strings.Join(also, ", "))
	}
	if len(probs) > 0 {
		return &ir.ValidationError{Problems: probs}
	}
	return nil
}

func sortedUnique(xs []string) []string {
	m := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !m[x] {
			m[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}
