package retarget

import (
	"fmt"
	"sort"

	"github.com/retarget-dev/retarget/ir"
)

// Builder records edits to a source graph; Build applies them to a copy.
// Methods return the builder so calls chain; problems are reported by Build.
type Builder struct {
	src   *ir.Graph
	seed  int64
	init  ir.WeightInit
	edits []*edit
}

// New starts a builder on src, which is never modified.
func New(src *ir.Graph) *Builder {
	return &Builder{src: src, seed: 12345, init: ir.InitXavierUniform}
}

// Seed sets the seed of every random initialisation (default 12345; a
// FineTune seed, when set, takes precedence).
func (b *Builder) Seed(s int64) *Builder { b.seed = s; return b }

// DefaultInit sets the weight init of added and re-initialised layers
// where an edit names none (default xavier_uniform).
func (b *Builder) DefaultInit(w ir.WeightInit) *Builder { b.init = w; return b }

// Edits is the number of edits recorded so far; the next edit's index.
func (b *Builder) Edits() int { return len(b.edits) }

// phases of the canonical order (see the package documentation).
const (
	phaseFineTune = iota
	phaseRemoveOutputs
	phaseRemove
	phaseResizeSource
	phaseAdd
	phaseSetInputs
	phaseSetOutputs
	phaseResizeAdded
	phaseFreeze
	phaseUnfreeze
)

type edit struct {
	index  int
	op     string
	target string
	phase  int
	key    string // orders edits within a phase independently of call order
	deps   []string
	cfg    *ir.TrainConfig // FineTune only
	apply  func(st *state) error
}

func (b *Builder) record(op, target string, phase int, key string, deps []string, apply func(*state) error) *Builder {
	b.edits = append(b.edits, &edit{index: len(b.edits), op: op, target: target, phase: phase, key: key, deps: deps, apply: apply})
	return b
}

// Build applies the edits to a deep copy of the source graph, validates the
// result and returns it, or a *BuildError listing every problem found.
func (b *Builder) Build() (*ir.Graph, error) {
	g, _, err := b.build()
	return g, err
}

// BuildNotes is Build that also returns notes: edits that are valid but do
// not do what one may assume (an identity insert whose activation changes
// the outputs, a widen that cannot keep outputs unchanged).
func (b *Builder) BuildNotes() (*ir.Graph, []string, error) { return b.build() }

func (b *Builder) build() (*ir.Graph, []string, error) {
	if b.src == nil {
		return nil, nil, &BuildError{Problems: []error{fmt.Errorf("no source graph")}}
	}
	st := newState(b.src.Clone(), b.seed, b.init)
	if err := b.src.Validate(); err != nil {
		for _, p := range ir.Problems(err) {
			st.problems = append(st.problems, fmt.Errorf("source graph: %w", p))
		}
		return nil, nil, &BuildError{Problems: st.problems}
	}
	srcNames := map[string]bool{}
	for _, v := range b.src.Vertices {
		srcNames[v.Name] = true
	}
	// a FineTune seed governs initialisation too (the last one set wins)
	for _, e := range b.edits {
		if e.cfg != nil && e.cfg.Seed != 0 {
			st.seed = e.cfg.Seed
		}
	}
	ordered := b.canonical(srcNames)
	for _, e := range ordered {
		st.cur = e
		if err := e.apply(st); err != nil {
			for _, p := range ir.Problems(err) {
				st.problems = append(st.problems, &EditError{Index: e.index, Op: e.op, Vertex: e.target, Err: p})
			}
		}
	}
	st.cur = nil
	st.finish(b.src)
	if len(st.problems) > 0 {
		return nil, st.notes, &BuildError{Problems: st.problems}
	}
	return st.g, st.notes, nil
}

// canonical sorts edits into the documented order.
func (b *Builder) canonical(srcNames map[string]bool) []*edit {
	topo := map[string]int{}
	if order, err := b.src.TopoOrder(); err == nil {
		for i, v := range order {
			topo[v.Name] = i
		}
	}
	added := map[string]bool{}
	for _, e := range b.edits {
		if e.phase == phaseAdd {
			added[e.target] = true
		}
	}
	var es []*edit
	for _, e := range b.edits {
		c := *e
		if c.phase == phaseResizeSource && (!srcNames[c.target] || added[c.target]) {
			c.phase = phaseResizeAdded
		}
		es = append(es, &c)
	}
	sort.SliceStable(es, func(i, j int) bool {
		a, c := es[i], es[j]
		if a.phase != c.phase {
			return a.phase < c.phase
		}
		switch a.phase {
		case phaseFineTune:
			return a.index < c.index
		case phaseResizeSource:
			if topo[a.target] != topo[c.target] {
				return topo[a.target] < topo[c.target]
			}
		}
		if a.target != c.target {
			return a.target < c.target
		}
		return a.key < c.key
	})
	return orderAdds(es)
}

// orderAdds puts each Add/Insert after the adds it reads from, keeping the
// name order otherwise; cycles are left for validation to report.
func orderAdds(es []*edit) []*edit {
	var adds []*edit
	start := -1
	for i, e := range es {
		if e.phase == phaseAdd {
			if start < 0 {
				start = i
			}
			adds = append(adds, e)
		}
	}
	if len(adds) < 2 {
		return es
	}
	added := map[string]bool{}
	for _, e := range adds {
		added[e.target] = true
	}
	var out []*edit
	done := map[*edit]bool{}
	placed := map[string]bool{}
	for len(out) < len(adds) {
		progress := false
		for _, e := range adds {
			if done[e] {
				continue
			}
			ready := true
			for _, d := range e.deps {
				if added[d] && !placed[d] && d != e.target {
					ready = false
				}
			}
			if ready {
				done[e], placed[e.target] = true, true
				out = append(out, e)
				progress = true
			}
		}
		if !progress {
			for _, e := range adds {
				if !done[e] {
					done[e] = true
					out = append(out, e)
				}
			}
		}
	}
	res := append([]*edit(nil), es[:start]...)
	res = append(res, out...)
	return append(res, es[start+len(adds):]...)
}
