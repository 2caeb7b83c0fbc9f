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

// phases of the canonical order (see the package documentation):
// structural edits first, then resizes on the final topology, then
// freezing.
const (
	phaseFineTune = iota
	phaseRemoveOutputs
	phaseRemove
	phaseAdd
	phaseSetInputs
	phaseSetOutputs
	phaseResize
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
	// a FineTune seed governs initialisation too (the last one set wins)
	for _, e := range b.edits {
		if e.cfg != nil && e.cfg.Seed != 0 {
			st.seed = e.cfg.Seed
		}
	}
	es := b.canonical()
	for i := 0; i < len(es); {
		j := i
		for j < len(es) && es[j].phase == es[i].phase {
			j++
		}
		switch es[i].phase {
		case phaseAdd:
			st.applyAdds(es[i:j])
		case phaseResize:
			st.applyAll(byTopo(st.g, es[i:j]))
		default:
			st.applyAll(es[i:j])
		}
		i = j
	}
	st.cur = nil
	st.finish(b.src)
	if len(st.problems) > 0 {
		return nil, st.notes, &BuildError{Problems: st.problems}
	}
	return st.g, st.notes, nil
}

// canonical sorts edits by phase; within a phase by target and key (call
// order only for FineTune, where the last call wins). Adds and resizes are
// ordered again when they run, on the graph as it is then.
func (b *Builder) canonical() []*edit {
	es := append([]*edit(nil), b.edits...)
	sort.SliceStable(es, func(i, j int) bool {
		a, c := es[i], es[j]
		if a.phase != c.phase {
			return a.phase < c.phase
		}
		if a.phase == phaseFineTune {
			return a.index < c.index
		}
		if a.target != c.target {
			return a.target < c.target
		}
		return a.key < c.key
	})
	return es
}

func (st *state) applyAll(es []*edit) {
	for _, e := range es {
		st.apply(e)
	}
}

func (st *state) apply(e *edit) {
	st.cur = e
	if err := e.apply(st); err != nil {
		for _, p := range ir.Problems(err) {
			st.problems = append(st.problems, &EditError{Index: e.index, Op: e.op, Vertex: e.target, Err: p})
		}
	}
}

// applyAdds runs Add and Insert edits, each once every vertex it reads
// from exists and has a known shape (so an edit reading a hole left by
// Remove with keepConnections waits for the Add that fills it); among
// ready edits the canonical order decides. Edits that never become ready
// run last and report why.
func (st *state) applyAdds(es []*edit) {
	pending := append([]*edit(nil), es...)
	for len(pending) > 0 {
		shapes := partialShapes(st.g)
		next := 0
		for i, e := range pending {
			ready := true
			for _, d := range e.deps {
				ready = ready && shapes[d] != nil
			}
			if ready {
				next = i
				break
			}
		}
		st.apply(pending[next])
		pending = append(pending[:next], pending[next+1:]...)
	}
}

// byTopo orders resize edits by the position of their targets in the
// graph after the structural edits, so an upstream resize never undoes a
// downstream one whatever order they were given in.
func byTopo(g *ir.Graph, es []*edit) []*edit {
	pos := map[string]int{}
	order, _ := looseTopo(g)
	for i, v := range order {
		pos[v.Name] = i
	}
	out := append([]*edit(nil), es...)
	sort.SliceStable(out, func(i, j int) bool {
		pa, oka := pos[out[i].target]
		pc, okc := pos[out[j].target]
		if oka != okc {
			return oka // unknown targets (errors) last
		}
		return pa < pc
	})
	return out
}
