package ir

import (
	"errors"
	"fmt"
	"strings"
)

// VertexError is a problem with one vertex.
type VertexError struct {
	Vertex string
	Err    error
}

func (e *VertexError) Error() string { return fmt.Sprintf("vertex %q: %v", e.Vertex, e.Err) }
func (e *VertexError) Unwrap() error { return e.Err }

// ValidationError lists every problem Validate found.
type ValidationError struct {
	Problems []error
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid graph: %d problem(s)", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap exposes the problems to errors.Is/As.
func (e *ValidationError) Unwrap() []error { return e.Problems }

// Validate checks the whole graph and returns every problem found (as a
// *ValidationError), or nil.
func (g *Graph) Validate() error {
	var probs []error
	add := func(v string, format string, args ...any) {
		err := fmt.Errorf(format, args...)
		if v != "" {
			probs = append(probs, &VertexError{Vertex: v, Err: err})
		} else {
			probs = append(probs, err)
		}
	}
	names := map[string]bool{}
	for _, in := range g.Inputs {
		if in.Name == "" {
			add("", "a graph input has no name")
		}
		if names[in.Name] {
			add("", "duplicate input name %q", in.Name)
		}
		names[in.Name] = true
		for _, d := range in.Shape {
			if d == 0 || d < -1 {
				add("", "input %q has a bad shape %v", in.Name, in.Shape)
				break
			}
		}
	}
	for _, v := range g.Vertices {
		if v.Name == "" {
			add("", "a vertex has no name")
		}
		if names[v.Name] {
			add(v.Name, "duplicate name")
		}
		names[v.Name] = true
		if v.Layer == nil {
			add(v.Name, "no layer config")
		}
	}
	for _, v := range g.Vertices {
		for _, in := range v.Inputs {
			if !names[in] {
				add(v.Name, "unknown input %q", in)
			}
			if in == v.Name {
				add(v.Name, "takes itself as input")
			}
		}
	}
	if len(g.Outputs) == 0 {
		add("", "the graph has no outputs")
	}
	outNames := map[string]bool{}
	for _, o := range g.Outputs {
		if g.Vertex(o.Vertex) == nil && g.Input(o.Vertex) == nil {
			add("", "output %q refers to unknown vertex %q", o.Name, o.Vertex)
		}
		if outNames[o.Name] {
			add("", "duplicate output name %q", o.Name)
		}
		outNames[o.Name] = true
	}
	if len(probs) > 0 {
		return &ValidationError{Problems: probs}
	}
	order, err := g.TopoOrder()
	if err != nil {
		return &ValidationError{Problems: []error{err}}
	}
	full := map[string][]int{}
	for _, in := range g.Inputs {
		full[in.Name] = in.FullShape()
	}
	for _, v := range order {
		out, in, err := vertexShapes(v, full)
		if err != nil {
			probs = append(probs, &VertexError{Vertex: v.Name, Err: err})
			continue
		}
		if in == nil && len(v.Inputs) > 0 {
			continue // an upstream problem is already reported
		}
		full[v.Name] = out
		want := map[string]bool{}
		for _, p := range v.Layer.Params(in) {
			want[p.Name] = true
			t, ok := v.Params[p.Name]
			if !ok || t == nil {
				add(v.Name, "missing parameter %q (shape %v)", p.Name, p.Shape)
				continue
			}
			if !SameShape(t.Shape, p.Shape) {
				add(v.Name, "parameter %q has shape %v, the layer needs %v", p.Name, t.Shape, p.Shape)
			} else if len(t.Data) != NumElements(t.Shape) {
				add(v.Name, "parameter %q holds %d values for shape %v", p.Name, len(t.Data), t.Shape)
			}
		}
		for name := range v.Params {
			if !want[name] {
				add(v.Name, "unexpected parameter %q", name)
			}
		}
	}
	if len(probs) > 0 {
		return &ValidationError{Problems: probs}
	}
	return nil
}

// Problems returns the list inside a validation error (or the error itself).
func Problems(err error) []error {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ve.Problems
	}
	if err == nil {
		return nil
	}
	return []error{err}
}
