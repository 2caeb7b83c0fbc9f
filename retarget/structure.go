package retarget

import (
	"fmt"
	"strings"

	"github.com/retarget-dev/retarget/ir"
)

// Remove deletes a vertex. With keepConnections (DL4J
// removeVertexKeepConnections) its consumers and outputs keep referring to
// the name, and an Add of the same name must fill the hole (consumers
// whose input size changes are then re-initialised, listed in the notes). Without
// (removeVertexAndConnections) the vertex goes, and so does every vertex
// that depended only on it; a vertex that also has other inputs just loses
// this one, and graph outputs on removed vertices are dropped.
func (b *Builder) Remove(name string, keepConnections bool) *Builder {
	op := "remove"
	if keepConnections {
		op = "remove_keep_connections"
	}
	return b.record(op, name, phaseRemove, op, nil, func(st *state) error {
		if _, err := st.vertex(name); err != nil {
			return err
		}
		if keepConnections {
			st.holes[name] = true
			st.deleteVertices(map[string]bool{name: true})
			return nil
		}
		st.cascade(map[string]bool{name: true})
		return nil
	})
}

// RemoveOutputs drops the last n graph outputs and the vertices that only
// they used.
func (b *Builder) RemoveOutputs(n int) *Builder {
	return b.record("remove_outputs", "", phaseRemoveOutputs, "", nil, func(st *state) error {
		g := st.g
		if n <= 0 || n > len(g.Outputs) {
			return fmt.Errorf("cannot remove %d of %d outputs", n, len(g.Outputs))
		}
		if n == len(g.Outputs) {
			return fmt.Errorf("removing all %d outputs leaves nothing; use SetOutputs", n)
		}
		gone, kept := g.Outputs[len(g.Outputs)-n:], g.Outputs[:len(g.Outputs)-n]
		keep := map[string]bool{}
		for _, o := range kept {
			for a := range Ancestors(g, o.Vertex) {
				keep[a] = true
			}
		}
		drop := map[string]bool{}
		for _, o := range gone {
			for a := range Ancestors(g, o.Vertex) {
				if !keep[a] {
					drop[a] = true
				}
			}
		}
		g.Outputs = append([]ir.GraphOutput(nil), kept...)
		st.cascade(drop)
		return nil
	})
}

// cascade removes the vertices in drop and every vertex all of whose inputs
// are removed; other consumers lose the removed inputs.
func (st *state) cascade(drop map[string]bool) {
	g := st.g
	for changed := true; changed; {
		changed = false
		for _, v := range g.Vertices {
			if drop[v.Name] || len(v.Inputs) == 0 {
				continue
			}
			all := true
			for _, in := range v.Inputs {
				all = all && drop[in]
			}
			if all {
				drop[v.Name] = true
				changed = true
			}
		}
	}
	for _, v := range g.Vertices {
		if drop[v.Name] {
			continue
		}
		var ins []string
		for _, in := range v.Inputs {
			if !drop[in] {
				ins = append(ins, in)
			}
		}
		if len(ins) != len(v.Inputs) {
			st.note("%q lost input(s) removed with their vertices; it now reads %v", v.Name, ins)
			v.Inputs = ins
		}
	}
	var outs []ir.GraphOutput
	for _, o := range g.Outputs {
		if !drop[o.Vertex] {
			outs = append(outs, o)
		}
	}
	g.Outputs = outs
	st.deleteVertices(drop)
}

func (st *state) deleteVertices(drop map[string]bool) {
	var vs []*ir.Vertex
	for _, v := range st.g.Vertices {
		if !drop[v.Name] {
			vs = append(vs, v)
		}
	}
	st.g.Vertices = vs
}

// AddOptions are per-vertex settings of AddWith.
type AddOptions struct {
	Init  ir.WeightInit   // weight init; the builder's default when empty
	Train *ir.TrainConfig // training override of this vertex
}

// Add adds a vertex reading from inputs; its input sizes are inferred and
// its parameters initialised with the builder's default init.
func (b *Builder) Add(name string, layer ir.Layer, inputs ...string) *Builder {
	return b.AddWith(name, layer, AddOptions{}, inputs...)
}

// AddWith is Add with per-vertex options.
func (b *Builder) AddWith(name string, layer ir.Layer, opt AddOptions, inputs ...string) *Builder {
	inputs = append([]string(nil), inputs...)
	layer = cloneLayer(layer)
	return b.record("add", name, phaseAdd, "", inputs, func(st *state) error {
		if layer == nil {
			return fmt.Errorf("no layer given")
		}
		if err := st.checkNewName(name); err != nil {
			return err
		}
		if err := st.checkInputs(inputs); err != nil {
			return err
		}
		v := &ir.Vertex{Name: name, Layer: cloneLayer(layer), Inputs: append([]string(nil), inputs...), Train: opt.Train.Clone()}
		if opt.Train != nil {
			if err := checkTrainConfig(opt.Train); err != nil {
				return err
			}
		}
		shapes := partialShapes(st.g)
		for _, in := range inputs {
			if shapes[in] == nil {
				return fmt.Errorf("the size of input %q cannot be inferred", in)
			}
		}
		if _, err := v.Layer.OutputShape(v.InputShapes(shapes)); err != nil {
			return err
		}
		if opt.Init == ir.InitIdentity {
			if err := st.identityParams(v, shapes); err != nil {
				return err
			}
		} else if err := st.initVertex(v, shapes, opt.Init); err != nil {
			return err
		}
		st.placeVertex(v, -1)
		st.added[name] = true
		if opt.Init != ir.InitIdentity {
			st.addInit[name] = opt.Init
		}
		if st.holes[name] {
			// the hole's consumers read the new vertex: a different size
			// re-initialises them, as Insert and SetInputs do
			delete(st.holes, name)
			return st.reconcile("add " + name)
		}
		return nil
	})
}

// Insert puts a new vertex between after (a vertex or graph input) and all
// its consumers; a sized layer given without a size (Dense units, Conv
// filters 0) takes the width of after; graph outputs on after move to the
// new vertex. With init ir.InitIdentity the vertex computes the identity
// (see the package documentation for when outputs stay unchanged). Consumers whose input
// size changes are re-initialised (listed in the notes).
func (b *Builder) Insert(name string, layer ir.Layer, after string, init ir.WeightInit) *Builder {
	layer = cloneLayer(layer)
	return b.record("insert", name, phaseAdd, "", []string{after}, func(st *state) error {
		if layer == nil {
			return fmt.Errorf("no layer given")
		}
		if err := st.checkNewName(name); err != nil {
			return err
		}
		if err := st.checkInputs([]string{after}); err != nil {
			return err
		}
		g := st.g
		shapes := partialShapes(g)
		if shapes[after] == nil {
			return fmt.Errorf("the size of %q cannot be inferred", after)
		}
		v := &ir.Vertex{Name: name, Layer: cloneLayer(layer), Inputs: []string{after}}
		inferUnits(v.Layer, shapes[after])
		if _, err := v.Layer.OutputShape(v.InputShapes(shapes)); err != nil {
			return err
		}
		if init == ir.InitIdentity {
			if err := st.identityParams(v, shapes); err != nil {
				return err
			}
			st.checkIdentityPreserves(v, after)
		} else if err := st.initVertex(v, shapes, init); err != nil {
			return err
		}
		for _, c := range g.Consumers(after) {
			for i, in := range c.Inputs {
				if in == after {
					c.Inputs[i] = name
				}
			}
		}
		for i := range g.Outputs {
			if g.Outputs[i].Vertex == after {
				g.Outputs[i].Vertex = name
			}
		}
		pos := 0
		for i, u := range g.Vertices {
			if u.Name == after {
				pos = i + 1
			}
		}
		st.placeVertex(v, pos)
		st.added[name] = true
		if init != ir.InitIdentity {
			st.addInit[name] = init
		}
		return st.reconcile("insert " + name)
	})
}

// inferUnits gives a sized layer without a size (units or filters 0) the
// feature size of its input, so that an inserted layer keeps the width
// (and identity init applies).
func inferUnits(l ir.Layer, in []int) {
	sz, ok := l.(ir.Sized)
	if !ok || sz.OutUnits() != 0 || len(in) == 0 {
		return
	}
	n := in[len(in)-1]
	if outAxis(l, in) == 0 {
		n = in[0]
	}
	if n > 0 {
		sz.SetOutUnits(n)
	}
}

// SetInputs rewires a vertex to read from inputs. Vertices whose input
// size changes as a result are re-initialised (listed in the notes).
func (b *Builder) SetInputs(name string, inputs ...string) *Builder {
	inputs = append([]string(nil), inputs...)
	return b.record("set_inputs", name, phaseSetInputs, strings.Join(inputs, "\x00"), nil, func(st *state) error {
		v, err := st.vertex(name)
		if err != nil {
			return err
		}
		if err := st.checkInputs(inputs); err != nil {
			return err
		}
		v.Inputs = append([]string(nil), inputs...)
		st.touch(name)
		return st.reconcile("set_inputs " + name)
	})
}

// SetOutputs makes the named vertices (or graph inputs) the graph outputs,
// in this order; an output that already existed keeps its external name.
func (b *Builder) SetOutputs(names ...string) *Builder {
	names = append([]string(nil), names...)
	return b.record("set_outputs", "", phaseSetOutputs, strings.Join(names, "\x00"), nil, func(st *state) error {
		if len(names) == 0 {
			return fmt.Errorf("a graph needs at least one output")
		}
		if err := st.checkInputs(names); err != nil {
			return err
		}
		old := map[string]ir.GraphOutput{}
		for _, o := range st.g.Outputs {
			old[o.Vertex] = o
		}
		var outs []ir.GraphOutput
		for _, n := range names {
			o, ok := old[n]
			if !ok {
				o = ir.GraphOutput{Name: n, Vertex: n}
			}
			outs = append(outs, o)
		}
		st.g.Outputs = outs
		return nil
	})
}

func (st *state) checkNewName(name string) error {
	if name == "" {
		return fmt.Errorf("a vertex needs a name")
	}
	if st.g.Vertex(name) != nil || st.g.Input(name) != nil {
		return fmt.Errorf("a vertex or input named %q already exists", name)
	}
	return nil
}

func (st *state) checkInputs(inputs []string) error {
	var probs []error
	for _, in := range inputs {
		if st.g.Vertex(in) == nil && st.g.Input(in) == nil {
			probs = append(probs, fmt.Errorf("unknown input %q", in))
		}
	}
	if len(probs) > 0 {
		return &ir.ValidationError{Problems: probs}
	}
	return nil
}

// placeVertex inserts v at position pos (appends when pos < 0).
func (st *state) placeVertex(v *ir.Vertex, pos int) {
	g := st.g
	if pos < 0 || pos >= len(g.Vertices) {
		g.Vertices = append(g.Vertices, v)
		return
	}
	g.Vertices = append(g.Vertices[:pos], append([]*ir.Vertex{v}, g.Vertices[pos:]...)...)
}

func cloneLayer(l ir.Layer) ir.Layer {
	if l == nil {
		return nil
	}
	return ir.CloneLayer(l)
}
