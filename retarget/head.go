package retarget

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

// Boundary returns the frozen vertices whose outputs the trainable part
// reads: where Featurize stops and the head starts.
func Boundary(g *ir.Graph) []string {
	var out []string
	for _, v := range g.Vertices {
		if !v.Frozen {
			continue
		}
		for _, c := range g.Consumers(v.Name) {
			if !c.Frozen {
				out = append(out, v.Name)
				break
			}
		}
	}
	return out
}

// FrozenGraph is the part of g up to and including the boundary vertices,
// whose outputs are the boundary values (internal layout). Featurize runs it.
func FrozenGraph(g *ir.Graph, boundary []string) (*ir.Graph, error) {
	if len(boundary) == 0 {
		return nil, fmt.Errorf("no boundary: freeze part of the graph first (FreezeThrough)")
	}
	keep := map[string]bool{}
	for _, b := range boundary {
		if g.Vertex(b) == nil {
			return nil, fmt.Errorf("boundary %q is not a vertex", b)
		}
		for a := range Ancestors(g, b) {
			keep[a] = true
		}
	}
	f := &ir.Graph{Name: g.Name, Train: g.Train.Clone(), Step: g.Step}
	used := map[string]bool{}
	for _, v := range g.Vertices {
		if keep[v.Name] {
			f.Vertices = append(f.Vertices, v.Clone())
			for _, in := range v.Inputs {
				used[in] = true
			}
		}
	}
	for _, in := range g.Inputs {
		if used[in.Name] {
			in.Shape = append([]int(nil), in.Shape...)
			f.Inputs = append(f.Inputs, in)
		}
	}
	for _, b := range boundary {
		f.Outputs = append(f.Outputs, ir.GraphOutput{Name: b, Vertex: b})
	}
	return f, f.Validate()
}

// HeadGraph extracts the part of g after the boundary (default: Boundary(g))
// as a graph of its own: each boundary vertex becomes a graph input of the
// same name and shape (internal layout), original inputs the head reads
// directly stay inputs, and the outputs are g's. Train it, then MergeHead.
func HeadGraph(g *ir.Graph, boundary ...string) (*ir.Graph, error) {
	return headGraph(g, false, boundary)
}

// headGraph is HeadGraph; with share its vertices are g's own, not copies
// (for a caller that only reads the head's inputs: a VGG16's head holds
// 470 MB of weights).
func headGraph(g *ir.Graph, share bool, boundary []string) (*ir.Graph, error) {
	if len(boundary) == 0 {
		boundary = Boundary(g)
	}
	if len(boundary) == 0 {
		return nil, fmt.Errorf("no boundary: nothing in the graph is frozen")
	}
	shapes, err := g.Shapes()
	if err != nil {
		return nil, err
	}
	upstream := map[string]bool{}
	isBoundary := map[string]bool{}
	for _, b := range boundary {
		if g.Vertex(b) == nil {
			return nil, fmt.Errorf("boundary %q is not a vertex", b)
		}
		isBoundary[b] = true
		for a := range Ancestors(g, b) {
			upstream[a] = true
		}
	}
	needed := map[string]bool{}
	var walk func(string)
	walk = func(n string) {
		if needed[n] || upstream[n] || g.Vertex(n) == nil {
			return
		}
		needed[n] = true
		for _, in := range g.Vertex(n).Inputs {
			walk(in)
		}
	}
	for _, o := range g.Outputs {
		if upstream[o.Vertex] {
			return nil, fmt.Errorf("output %q is computed before the boundary", o.Name)
		}
		walk(o.Vertex)
	}
	h := &ir.Graph{Name: g.Name, Train: g.Train.Clone(), Step: g.Step, Outputs: append([]ir.GraphOutput(nil), g.Outputs...)}
	if g.Meta != nil {
		h.Meta = map[string]string{}
		for k, v := range g.Meta {
			h.Meta[k] = v
		}
	}
	readsInput := map[string]bool{}
	var probs []error
	for _, v := range g.Vertices {
		if !needed[v.Name] {
			continue
		}
		for _, in := range v.Inputs {
			switch {
			case isBoundary[in]:
			case g.Input(in) != nil:
				readsInput[in] = true
			case upstream[in]:
				probs = append(probs, &ir.VertexError{Vertex: v.Name, Err: fmt.Errorf("reads %q, which is before the boundary: add it to the boundary", in)})
			}
		}
		if !share {
			v = v.Clone()
		}
		h.Vertices = append(h.Vertices, v)
	}
	if len(probs) > 0 {
		return nil, &ir.ValidationError{Problems: probs}
	}
	for _, b := range boundary {
		h.Inputs = append(h.Inputs, ir.Input{Name: b, Shape: append([]int(nil), shapes[b]...)})
	}
	for _, in := range g.Inputs {
		if readsInput[in.Name] {
			in.Shape = append([]int(nil), in.Shape...)
			h.Inputs = append(h.Inputs, in)
		}
	}
	return h, h.Validate()
}

// MergeHead copies the parameters, updater state and frozen flags of a
// trained head (from HeadGraph) back into g, and its step count.
func MergeHead(g, head *ir.Graph) error {
	var probs []error
	for _, hv := range head.Vertices {
		v := g.Vertex(hv.Name)
		if v == nil {
			probs = append(probs, fmt.Errorf("head vertex %q is not in the graph", hv.Name))
			continue
		}
		for k, t := range hv.Params {
			if old := v.Params[k]; old == nil || !ir.SameShape(old.Shape, t.Shape) {
				probs = append(probs, &ir.VertexError{Vertex: hv.Name, Err: fmt.Errorf("parameter %q does not match the graph's", k)})
			}
		}
	}
	if len(probs) > 0 {
		return &ir.ValidationError{Problems: probs}
	}
	for _, hv := range head.Vertices {
		c := hv.Clone()
		v := g.Vertex(hv.Name)
		v.Params, v.State, v.Frozen = c.Params, c.State, c.Frozen
	}
	g.Step = head.Step
	return nil
}
