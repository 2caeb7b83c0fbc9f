package retarget

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

// partialShapes infers the shape of every vertex whose inputs can be
// inferred, skipping the rest; edits use it while the graph is incomplete.
func partialShapes(g *ir.Graph) map[string][]int {
	shapes, full := map[string][]int{}, map[string][]int{}
	for _, in := range g.Inputs {
		full[in.Name] = in.FullShape()
	}
	done := map[string]bool{}
	for progress := true; progress; {
		progress = false
		for _, v := range g.Vertices {
			if done[v.Name] || v.Layer == nil {
				continue
			}
			ready := true
			for _, in := range v.Inputs {
				if _, ok := full[in]; !ok {
					ready = false
					break
				}
			}
			if !ready {
				continue
			}
			done[v.Name] = true
			progress = true
			// a general tensor op takes full shapes (the batch anywhere),
			// a layer the shapes without the batch
			in := v.FullInputShapes(full)
			tensor := ir.IsTensorOp(v.Layer)
			if !tensor {
				ok := true
				for i, s := range in {
					if in[i], ok = ir.LayerView(s); !ok {
						break
					}
				}
				if !ok {
					continue
				}
			}
			if s, err := v.Layer.OutputShape(in); err == nil {
				if !tensor {
					s = ir.WithBatch(s)
				}
				full[v.Name] = s
			}
		}
	}
	for n, s := range full {
		if view, ok := ir.LayerView(s); ok {
			shapes[n] = view
		} else {
			shapes[n] = s
		}
	}
	return shapes
}

// paramsFit reports whether v's parameters match its layer for the shapes.
func paramsFit(v *ir.Vertex, shapes map[string][]int) bool {
	for _, in := range v.Inputs {
		if shapes[in] == nil {
			return true // nothing to compare with; validation reports it
		}
	}
	specs := v.Layer.Params(v.InputShapes(shapes))
	if len(specs) != len(v.Params) {
		return false
	}
	for _, s := range specs {
		t := v.Params[s.Name]
		if t == nil || !ir.SameShape(t.Shape, s.Shape) {
			return false
		}
	}
	return true
}

// reconcile re-initialises every vertex whose parameters no longer fit its
// inputs after a structural edit, and notes it.
func (st *state) reconcile(why string) error {
	for {
		shapes := partialShapes(st.g)
		changed := false
		for _, v := range st.g.Vertices {
			if v.Layer == nil || paramsFit(v, shapes) {
				continue
			}
			if _, ok := shapes[v.Name]; !ok {
				continue
			}
			if err := st.initVertex(v, shapes, ""); err != nil {
				return &ir.VertexError{Vertex: v.Name, Err: err}
			}
			for k := range v.Params {
				if !hasSpec(v, shapes, k) {
					delete(v.Params, k)
				}
			}
			st.touch(v.Name, "*")
			st.note("%s: %q re-initialised because its input size changed", why, v.Name)
			changed = true
		}
		if !changed {
			return nil
		}
	}
}

func hasSpec(v *ir.Vertex, shapes map[string][]int, name string) bool {
	for _, s := range v.Layer.Params(v.InputShapes(shapes)) {
		if s.Name == name {
			return true
		}
	}
	return false
}

// looseTopo is ir.Graph.TopoOrder that treats inputs naming nothing (the
// holes of Remove with keepConnections) as known, so that edits can run
// while a hole is open; it fails only on a cycle.
func looseTopo(g *ir.Graph) ([]*ir.Vertex, error) {
	pending := map[string]bool{}
	for _, v := range g.Vertices {
		pending[v.Name] = true
	}
	var order []*ir.Vertex
	for len(order) < len(g.Vertices) {
		progressed := false
		for _, v := range g.Vertices {
			if !pending[v.Name] {
				continue
			}
			ready := true
			for _, in := range v.Inputs {
				ready = ready && !pending[in]
			}
			if ready {
				delete(pending, v.Name)
				order = append(order, v)
				progressed = true
			}
		}
		if !progressed {
			return order, fmt.Errorf("the graph has a cycle")
		}
	}
	return order, nil
}
