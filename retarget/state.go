package retarget

import (
	"fmt"
	"sort"
	"strings"

	"github.com/retarget-dev/retarget/ir"
)

// state is the graph being edited during Build and what the edits did.
type state struct {
	g    *ir.Graph
	seed int64
	init ir.WeightInit
	cur  *edit

	// touched[vertex][param]: parameters re-initialised or resized, whose
	// updater state is dropped ("*" = every parameter).
	touched map[string]map[string]bool
	added   map[string]bool
	// addInit is the weight init an Add or Insert (not identity) gave its
	// vertex; a later resize reaching the vertex re-initialises it with
	// that, as if it had been added after the resize.
	addInit map[string]ir.WeightInit
	// holes are vertices removed with keepConnections, to be filled by Add.
	holes    map[string]bool
	freeze   []nameAt
	unfreeze []nameAt
	// updaterOf is every source vertex's effective updater kind before edits.
	updaterOf map[string]ir.Updater

	notes    []string
	problems []error
}

func newState(g *ir.Graph, seed int64, init ir.WeightInit) *state {
	st := &state{g: g, seed: seed, init: init, touched: map[string]map[string]bool{},
		added: map[string]bool{}, addInit: map[string]ir.WeightInit{}, holes: map[string]bool{}, updaterOf: map[string]ir.Updater{}}
	for _, v := range g.Vertices {
		st.updaterOf[v.Name] = updaterOf(g, v)
	}
	return st
}

func (st *state) note(format string, args ...any) {
	st.notes = append(st.notes, fmt.Sprintf(format, args...))
}

func (st *state) touch(vertex string, params ...string) {
	m := st.touched[vertex]
	if m == nil {
		m = map[string]bool{}
		st.touched[vertex] = m
	}
	for _, p := range params {
		m[p] = true
	}
}

// shapes infers the current graph's shapes.
func (st *state) shapes() (map[string][]int, error) { return st.g.Shapes() }

func (st *state) vertex(name string) (*ir.Vertex, error) {
	if v := st.g.Vertex(name); v != nil {
		return v, nil
	}
	if st.g.Input(name) != nil {
		return nil, fmt.Errorf("%q is a graph input, not a vertex", name)
	}
	return nil, fmt.Errorf("no vertex %q in the graph", name)
}

// initVertex (re)creates the parameters of v for its current input shapes
// with weight init w; only the names in which, when given.
func (st *state) initVertex(v *ir.Vertex, shapes map[string][]int, w ir.WeightInit, which ...string) error {
	if w == "" {
		w = st.init
	}
	specs := v.Layer.Params(v.InputShapes(shapes))
	only := map[string]bool{}
	for _, n := range which {
		only[n] = true
	}
	if v.Params == nil {
		v.Params = map[string]*ir.Tensor{}
	}
	for _, s := range specs {
		if len(only) > 0 && !only[s.Name] {
			continue
		}
		t, err := initParam(s, w, rngFor(st.seed, v.Name, s.Name, "init"))
		if err != nil {
			return err
		}
		forgetBias(v.Layer, s.Name, t)
		v.Params[s.Name] = t
		st.touch(v.Name, s.Name)
	}
	return nil
}

// forgetBias sets an LSTM's forget-gate bias to one (Keras unit_forget_bias).
func forgetBias(l ir.Layer, param string, t *ir.Tensor) {
	lstm, ok := l.(*ir.LSTM)
	if !ok {
		if bi, isBi := l.(*ir.Bidirectional); isBi {
			lstm, ok = bi.Layer.(*ir.LSTM)
			param = strings.TrimPrefix(strings.TrimPrefix(param, "fw/"), "bw/")
		}
	}
	if !ok || !lstm.UnitForgetBias || param != "b" || lstm.NoBias {
		return
	}
	u := lstm.Units
	for i := u; i < 2*u && i < len(t.Data); i++ {
		t.Data[i] = 1
	}
}

// finish applies freezing, drops stale updater state and validates.
func (st *state) finish(src *ir.Graph) {
	g := st.g
	for h := range st.holes {
		if g.Vertex(h) == nil {
			var users []string
			for _, c := range g.Consumers(h) {
				users = append(users, c.Name)
			}
			for _, o := range g.Outputs {
				if o.Vertex == h {
					users = append(users, "output "+o.Name)
				}
			}
			if len(users) > 0 {
				st.problems = append(st.problems, &ir.VertexError{Vertex: h, Err: fmt.Errorf(
					"removed with keepConnections but nothing was added in its place (used by %s): add a vertex named %q",
					strings.Join(users, ", "), h)})
			}
		}
	}
	st.applyFreezing()
	for _, v := range g.Vertices {
		if v.State == nil {
			continue
		}
		if old, ok := st.updaterOf[v.Name]; ok && old != updaterOf(g, v) {
			v.State = nil
			continue
		}
		t := st.touched[v.Name]
		for k := range v.State {
			param := k
			if i := strings.LastIndexByte(k, '/'); i >= 0 {
				param = k[:i]
			}
			if t["*"] || t[param] || v.Params[param] == nil {
				delete(v.State, k)
			}
		}
		if len(v.State) == 0 {
			v.State = nil
		}
	}
	// edit problems in the order the edits were given, graph problems after
	sort.SliceStable(st.problems, func(i, j int) bool { return editIndex(st.problems[i]) < editIndex(st.problems[j]) })
	if err := g.Validate(); err != nil {
		st.problems = append(st.problems, ir.Problems(err)...)
	}
	sort.Strings(st.notes)
}

// updaterOf is the updater kind a vertex trains with.
func updaterOf(g *ir.Graph, v *ir.Vertex) ir.Updater {
	if c := v.Train.Merged(g.Train); c != nil {
		return c.Updater
	}
	return ""
}

func editIndex(err error) int {
	if e, ok := err.(*EditError); ok {
		return e.Index
	}
	return 1 << 30
}
