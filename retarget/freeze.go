package retarget

import (
	"fmt"
	"strings"

	"github.com/retarget-dev/retarget/ir"
)

// FreezeThrough freezes the named vertices and everything they depend on
// (DL4J setFeatureExtractor): frozen vertices are not updated, no gradient
// is computed for them, a frozen BatchNorm uses its stored statistics, and
// the flag is saved in .rtm files.
func (b *Builder) FreezeThrough(names ...string) *Builder {
	for _, n := range names {
		n := n
		b.record("freeze_through", n, phaseFreeze, "", nil, func(st *state) error {
			st.freeze = append(st.freeze, nameAt{n, st.cur.index})
			return nil
		})
	}
	return b
}

// Unfreeze makes the named vertices and everything downstream of them
// trainable again. It is applied after every FreezeThrough.
func (b *Builder) Unfreeze(names ...string) *Builder {
	for _, n := range names {
		n := n
		b.record("unfreeze", n, phaseUnfreeze, "", nil, func(st *state) error {
			st.unfreeze = append(st.unfreeze, nameAt{n, st.cur.index})
			return nil
		})
	}
	return b
}

// applyFreezing runs at the end of Build on the final structure; problems
// are reported against the freeze edits by name.
func (st *state) applyFreezing() {
	g := st.g
	for _, f := range st.freeze {
		n := f.name
		if g.Vertex(n) == nil {
			st.problems = append(st.problems, &EditError{Index: f.index, Op: "freeze_through", Vertex: n, Err: missing(g, n)})
			continue
		}
		for a := range Ancestors(g, n) {
			g.Vertex(a).Frozen = true
		}
	}
	for _, f := range st.unfreeze {
		n := f.name
		if g.Vertex(n) == nil {
			st.problems = append(st.problems, &EditError{Index: f.index, Op: "unfreeze", Vertex: n, Err: missing(g, n)})
			continue
		}
		for d := range Descendants(g, n) {
			g.Vertex(d).Frozen = false
		}
	}
}

type nameAt struct {
	name  string
	index int
}

func missing(g *ir.Graph, n string) error {
	if g.Input(n) != nil {
		return fmt.Errorf("%q is a graph input, not a vertex", n)
	}
	return fmt.Errorf("no vertex %q in the graph (vertices: %s)", n, strings.Join(vertexNames(g), ", "))
}

func vertexNames(g *ir.Graph) []string {
	out := make([]string, 0, len(g.Vertices))
	for _, v := range g.Vertices {
		out = append(out, v.Name)
	}
	return out
}

// Ancestors returns name and every vertex it depends on (graph inputs
// excluded).
func Ancestors(g *ir.Graph, name string) map[string]bool {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(n string) {
		v := g.Vertex(n)
		if v == nil || seen[n] {
			return
		}
		seen[n] = true
		for _, in := range v.Inputs {
			walk(in)
		}
	}
	walk(name)
	return seen
}

// Descendants returns name and every vertex that depends on it.
func Descendants(g *ir.Graph, name string) map[string]bool {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(n string) {
		if seen[n] {
			return
		}
		if g.Vertex(n) != nil {
			seen[n] = true
		}
		for _, c := range g.Consumers(n) {
			walk(c.Name)
		}
	}
	walk(name)
	return seen
}
