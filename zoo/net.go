package zoo

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

// net assembles a graph vertex by vertex, inferring shapes as it goes so
// that builders can size layers from their inputs (as Keras does). The
// first error sticks; later calls are no-ops.
type net struct {
	model  string
	g      *ir.Graph
	shapes map[string][]int
	err    error
}

func newNet(model, input string, shape []int, layout ir.Layout) *net {
	n := &net{model: model, g: &ir.Graph{Name: model}, shapes: map[string][]int{}}
	n.g.Inputs = []ir.Input{{Name: input, Shape: append([]int(nil), shape...), Layout: layout}}
	n.shapes[input] = shape
	return n
}

// add appends a vertex and returns its name.
func (n *net) add(name string, l ir.Layer, inputs ...string) string {
	if n.err != nil {
		return name
	}
	in := make([][]int, len(inputs))
	for i, s := range inputs {
		sh, ok := n.shapes[s]
		if !ok {
			n.err = &BuildError{n.model, fmt.Errorf("vertex %q: unknown input %q", name, s)}
			return name
		}
		in[i] = sh
	}
	out, err := l.OutputShape(in)
	if err != nil {
		n.err = &BuildError{n.model, &ir.VertexError{Vertex: name, Err: err}}
		return name
	}
	if _, dup := n.shapes[name]; dup {
		n.err = &BuildError{n.model, fmt.Errorf("duplicate vertex name %q", name)}
		return name
	}
	n.shapes[name] = out
	n.g.Vertices = append(n.g.Vertices, &ir.Vertex{Name: name, Layer: l, Inputs: append([]string(nil), inputs...)})
	return name
}

// channels is the size of axis 0 of a vertex's output.
func (n *net) channels(name string) int {
	if s := n.shapes[name]; len(s) > 0 {
		return s[0]
	}
	return 0
}

// finish sets the graph output and allocates parameters unless shape-only.
func (n *net) finish(out string, o Options) (*ir.Graph, error) {
	if n.err != nil {
		return nil, n.err
	}
	n.g.Outputs = []ir.GraphOutput{{Name: out, Vertex: out}}
	n.g.Meta = map[string]string{"source_format": "zoo", "zoo_model": n.model}
	if o.ShapeOnly {
		return n.g, nil
	}
	if err := Allocate(n.g, o.Seed); err != nil {
		return nil, &BuildError{n.model, err}
	}
	return n.g, nil
}

// Layer constructors shared by the builders.

func conv(filters, k, stride int, pad ir.Padding, act ir.ActKind, bias bool) *ir.Conv {
	c := &ir.Conv{Rank: 2, Filters: filters, Kernel: []int{k, k}, Padding: pad, NoBias: !bias}
	if stride != 1 {
		c.Strides = []int{stride, stride}
	}
	if act != "" {
		c.Activation = ir.Act(act)
	}
	return c
}

func depthwise(channels, k, stride int, pad ir.Padding) *ir.Conv {
	c := conv(channels, k, stride, pad, "", false)
	c.Groups = channels
	return c
}

func maxPool(k, stride int, pad ir.Padding) *ir.Pool {
	return &ir.Pool{Rank: 2, Op: ir.PoolMax, Kernel: []int{k, k}, Strides: []int{stride, stride}, Padding: pad}
}

func batchNorm(eps, momentum float32) *ir.BatchNorm {
	return &ir.BatchNorm{Epsilon: eps, Momentum: momentum}
}

func activation(k ir.ActKind) *ir.ActivationLayer { return &ir.ActivationLayer{Activation: ir.Act(k)} }

// zeroPad pads top, bottom, left, right (Keras ZeroPadding2D order).
func zeroPad(top, bottom, left, right int) *ir.Pad {
	return &ir.Pad{Rank: 2, Mode: ir.PadConstant, Pads: []int{top, left, bottom, right}}
}

func globalPool(op ir.PoolOp) *ir.GlobalPool { return &ir.GlobalPool{Rank: 2, Op: op} }

func dense(units int, act ir.ActKind) *ir.Dense {
	d := &ir.Dense{Units: units}
	if act != "" {
		d.Activation = ir.Act(act)
	}
	return d
}

// pooledTop ends a headless image model the way Keras's pooling argument
// does, naming the vertex as Keras names it for that model.
func (n *net) pooledTop(x string, o Options, avgName, maxName string) string {
	switch o.Pooling {
	case "avg":
		return n.add(avgName, globalPool(ir.PoolAvg), x)
	case "max":
		return n.add(maxName, globalPool(ir.PoolMax), x)
	}
	return x
}
