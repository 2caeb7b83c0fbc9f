package ir

import (
	"fmt"
	"sort"
	"strings"
)

// Input is a named graph input. Shape excludes the batch dimension and is in
// the internal layout (NCHW for images); Layout records the layout the source
// model took data in, so callers can feed data the same way.
type Input struct {
	Name   string `json:"name"`
	Shape  []int  `json:"shape"`
	Layout Layout `json:"layout,omitempty"`
	// NoBatch is an input without a batch axis: Shape is its whole runtime
	// shape (an operand of general tensor ops, e.g. a matrix fed per call).
	NoBatch bool `json:"no_batch,omitempty"`
}

// GraphOutput names a vertex whose value is a graph output. Name is the external
// name (an ONNX output name; defaults to the vertex name); Layout as Input.
type GraphOutput struct {
	Name   string `json:"name"`
	Vertex string `json:"vertex"`
	Layout Layout `json:"layout,omitempty"`
}

// Vertex is one layer of the graph.
type Vertex struct {
	Name   string             `json:"name"`
	Layer  Layer              `json:"-"`
	Inputs []string           `json:"inputs"` // names of vertices or graph inputs
	Frozen bool               `json:"frozen,omitempty"`
	Params map[string]*Tensor `json:"-"`
	// State holds updater state per parameter ("<param>/<slot>", e.g.
	// "W/m"), so a resumed fit continues where it stopped.
	State map[string]*Tensor `json:"-"`
	// Train overrides the graph's training configuration for this vertex.
	Train *TrainConfig `json:"train,omitempty"`
}

// Graph is the intermediate representation every importer produces.
type Graph struct {
	Name     string            `json:"name,omitempty"`
	Inputs   []Input           `json:"inputs"`
	Vertices []*Vertex         `json:"vertices"`
	Outputs  []GraphOutput     `json:"outputs"`
	Meta     map[string]string `json:"meta,omitempty"` // e.g. "source_format", "source_file"
	Train    *TrainConfig      `json:"train,omitempty"`
	// Step counts updater steps taken (for schedules and bias correction).
	Step int64 `json:"step,omitempty"`
}

// Vertex returns the vertex with a name, or nil.
func (g *Graph) Vertex(name string) *Vertex {
	for _, v := range g.Vertices {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// Input returns the graph input with a name, or nil.
func (g *Graph) Input(name string) *Input {
	for i := range g.Inputs {
		if g.Inputs[i].Name == name {
			return &g.Inputs[i]
		}
	}
	return nil
}

// OutputVertices lists the vertex names of the graph outputs.
func (g *Graph) OutputVertices() []string {
	out := make([]string, len(g.Outputs))
	for i, o := range g.Outputs {
		out[i] = o.Vertex
	}
	return out
}

// Consumers lists the vertices that take name as an input, in graph order.
func (g *Graph) Consumers(name string) []*Vertex {
	var out []*Vertex
	for _, v := range g.Vertices {
		for _, in := range v.Inputs {
			if in == name {
				out = append(out, v)
				break
			}
		}
	}
	return out
}

// Clone deep-copies the graph: configs, tensors, state and metadata.
func (g *Graph) Clone() *Graph {
	c := &Graph{Name: g.Name, Step: g.Step}
	for _, in := range g.Inputs {
		in.Shape = append([]int(nil), in.Shape...)
		c.Inputs = append(c.Inputs, in)
	}
	c.Outputs = append([]GraphOutput(nil), g.Outputs...)
	if g.Meta != nil {
		c.Meta = make(map[string]string, len(g.Meta))
		for k, v := range g.Meta {
			c.Meta[k] = v
		}
	}
	c.Train = g.Train.Clone()
	for _, v := range g.Vertices {
		c.Vertices = append(c.Vertices, v.Clone())
	}
	return c
}

// Clone deep-copies a vertex.
func (v *Vertex) Clone() *Vertex {
	c := &Vertex{Name: v.Name, Inputs: append([]string(nil), v.Inputs...), Frozen: v.Frozen, Train: v.Train.Clone()}
	if v.Layer != nil {
		c.Layer = CloneLayer(v.Layer)
	}
	c.Params = cloneTensors(v.Params)
	c.State = cloneTensors(v.State)
	return c
}

func cloneTensors(m map[string]*Tensor) map[string]*Tensor {
	if m == nil {
		return nil
	}
	out := make(map[string]*Tensor, len(m))
	for k, t := range m {
		out[k] = t.Clone()
	}
	return out
}

// ParamNames lists a vertex's parameter names in sorted order.
func (v *Vertex) ParamNames() []string {
	var out []string
	for k := range v.Params {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TopoOrder returns the vertices so that every vertex comes after its
// inputs; ties keep graph order. It fails on a cycle or unknown input.
func (g *Graph) TopoOrder() ([]*Vertex, error) {
	known := map[string]bool{}
	for _, in := range g.Inputs {
		known[in.Name] = true
	}
	byName := map[string]*Vertex{}
	for _, v := range g.Vertices {
		byName[v.Name] = v
	}
	done := map[string]bool{}
	var order []*Vertex
	for len(order) < len(g.Vertices) {
		progressed := false
		for _, v := range g.Vertices {
			if done[v.Name] {
				continue
			}
			ready := true
			for _, in := range v.Inputs {
				if known[in] {
					continue
				}
				if _, ok := byName[in]; !ok {
					return nil, fmt.Errorf("vertex %q: unknown input %q", v.Name, in)
				}
				if !done[in] {
					ready = false
					break
				}
			}
			if ready {
				done[v.Name] = true
				order = append(order, v)
				progressed = true
			}
		}
		if !progressed {
			var stuck []string
			for _, v := range g.Vertices {
				if !done[v.Name] {
					stuck = append(stuck, v.Name)
				}
			}
			return nil, fmt.Errorf("cycle among vertices %s", strings.Join(stuck, ", "))
		}
	}
	return order, nil
}

// Shapes infers the shape of every vertex and graph input without the
// batch. A value of a general tensor op whose batch is not on axis 0 (or
// that has none) keeps its full shape (see FullShapes).
func (g *Graph) Shapes() (map[string][]int, error) {
	full, err := g.FullShapes()
	if err != nil {
		return nil, err
	}
	shapes := make(map[string][]int, len(full))
	for name, s := range full {
		if view, ok := LayerView(s); ok {
			s = view
		}
		shapes[name] = s
	}
	for _, in := range g.Inputs {
		shapes[in.Name] = in.Shape
	}
	return shapes, nil
}

// InputShapes returns the shapes feeding a vertex, given Shapes' result.
func (v *Vertex) InputShapes(shapes map[string][]int) [][]int {
	in := make([][]int, len(v.Inputs))
	for i, n := range v.Inputs {
		in[i] = shapes[n]
	}
	return in
}

// ParamCount is the number of parameter values a vertex holds.
func (v *Vertex) ParamCount() int {
	n := 0
	for _, t := range v.Params {
		n += t.Len()
	}
	return n
}
