package keras

import (
	"fmt"
	"strings"

	"github.com/retarget-dev/retarget/ir"
)

// builder turns a parsed model into an ir.Graph.
type builder struct {
	g         *ir.Graph
	src       weightSource // nil: architecture only, no parameters
	theano    bool         // flip convolution kernels (Theano convolves)
	keras3    bool
	names     map[string]bool
	shapes    map[string][]int
	converted map[string]tensor
	warnings  []string
	shared    []string
	lossNames map[string]string // graph output name -> Keras output layer name
	// taken: the weights whose storage an IR tensor holds (takeWeight),
	// with the row order given them in place (nil: as stored)
	taken map[*float32]rowOrder
}

func newBuilder(src weightSource) *builder {
	return &builder{
		g:         &ir.Graph{Meta: map[string]string{}},
		src:       src,
		names:     map[string]bool{},
		shapes:    map[string][]int{},
		converted: map[string]tensor{},
		taken:     map[*float32]rowOrder{},
	}
}

func (b *builder) warn(format string, args ...any) {
	b.warnings = append(b.warnings, fmt.Sprintf(format, args...))
}

// unique returns name, or name with a numeric suffix if it is taken.
func (b *builder) unique(name string) string {
	if !b.names[name] {
		return name
	}
	for i := 1; ; i++ {
		n := fmt.Sprintf("%s_%d", name, i)
		if !b.names[n] {
			return n
		}
	}
}

// addVertex appends a vertex, infers its shape and checks its parameters
// against what the layer needs.
func (b *builder) addVertex(name string, l ir.Layer, in []tensor, params map[string]*ir.Tensor, frozen bool) (tensor, error) {
	name = b.unique(name)
	inShapes := make([][]int, len(in))
	inNames := make([]string, len(in))
	for i, t := range in {
		inShapes[i] = t.shape
		inNames[i] = t.name
	}
	out, err := layerOutput(l, inShapes)
	if err != nil {
		return tensor{}, fmt.Errorf("layer %q (%s): %w", name, l.Kind(), err)
	}
	if ir.IsTensorOp(l) {
		for i := range inShapes {
			inShapes[i] = ir.WithBatch(inShapes[i])
		}
	}
	if params != nil {
		want := map[string]bool{}
		for _, ps := range l.Params(inShapes) {
			want[ps.Name] = true
			t, ok := params[ps.Name]
			if !ok {
				return tensor{}, fmt.Errorf("layer %q: no weight for parameter %q (shape %v)", name, ps.Name, ps.Shape)
			}
			if !ir.SameShape(t.Shape, ps.Shape) {
				return tensor{}, fmt.Errorf("layer %q: weight %q has shape %v after layout conversion, the layer needs %v", name, ps.Name, t.Shape, ps.Shape)
			}
		}
		for p := range params {
			if !want[p] {
				return tensor{}, fmt.Errorf("layer %q: unexpected parameter %q", name, p)
			}
		}
	}
	b.names[name] = true
	b.shapes[name] = out
	b.g.Vertices = append(b.g.Vertices, &ir.Vertex{Name: name, Layer: l, Inputs: inNames, Params: params, Frozen: frozen})
	return tensor{name: name, shape: out}, nil
}

// layerOutput is a layer's output shape (without batch) for inputs
// without batch; a general tensor op sees them with the batch on axis 0
// and must keep it there (every Keras tensor has it there).
func layerOutput(l ir.Layer, in [][]int) ([]int, error) {
	if !ir.IsTensorOp(l) {
		return l.OutputShape(in)
	}
	full := make([][]int, len(in))
	for i, s := range in {
		full[i] = ir.WithBatch(s)
	}
	out, err := l.OutputShape(full)
	if err != nil {
		return nil, err
	}
	view, ok := ir.LayerView(out)
	if !ok {
		return nil, fmt.Errorf("output shape %s does not have the batch on axis 0", ir.FormatShape(out))
	}
	return view, nil
}

// addAux adds a parameterless helper vertex (a Permute or Reshape the
// layout conversion needs).
func (b *builder) addAux(name string, l ir.Layer, in ...tensor) (tensor, error) {
	return b.addVertex(name, l, in, nil, false)
}

// buildModel adds the layers of m. prefix is prepended to vertex names of
// a nested model; wpath is its path in the weights file; given maps the
// model's input layer names to tensors (nil for the top-level model).
func (b *builder) buildModel(m *kModel, prefix string, wpath []string, given map[string]tensor) ([]tensor, error) {
	byName := map[string]*kLayer{}
	for _, l := range m.Layers {
		if _, dup := byName[l.Name]; dup {
			return nil, fmt.Errorf("model %q has two layers named %q", m.Name, l.Name)
		}
		byName[l.Name] = l
	}
	avail := map[kRef]tensor{}
	// Graph inputs (or the tensors a nested model is called on).
	for _, ref := range m.Inputs {
		l := byName[ref.Layer]
		if l == nil {
			return nil, fmt.Errorf("model %q: input layer %q is not in the layer list", m.Name, ref.Layer)
		}
		if given != nil {
			t, ok := given[l.Name]
			if !ok {
				return nil, fmt.Errorf("nested model %q: no tensor for its input %q", m.Name, l.Name)
			}
			avail[kRef{Layer: l.Name}] = t
			continue
		}
		t, err := b.addInput(m, l)
		if err != nil {
			return nil, err
		}
		avail[kRef{Layer: l.Name}] = t
	}
	type pending struct {
		l    *kLayer
		node int
	}
	var todo []pending
	for _, l := range m.Layers {
		if l.Class == "InputLayer" {
			if _, ok := avail[kRef{Layer: l.Name}]; !ok && given == nil {
				return nil, fmt.Errorf("model %q: input layer %q is not among the model inputs", m.Name, l.Name)
			}
			continue
		}
		for k := range l.Nodes {
			todo = append(todo, pending{l, k})
		}
	}
	done := make([]bool, len(todo))
	for left := len(todo); left > 0; {
		progressed := false
		for i, p := range todo {
			if done[i] {
				continue
			}
			refs := p.l.Nodes[p.node]
			var in []tensor
			ready := true
			for _, r := range refs {
				t, ok := avail[r]
				if !ok {
					ready = false
					break
				}
				in = append(in, t)
			}
			if !ready {
				continue
			}
			outs, err := b.buildCall(p.l, p.node, prefix, wpath, in)
			if err != nil {
				return nil, err
			}
			for ti, t := range outs {
				avail[kRef{Layer: p.l.Name, Node: p.node, Tensor: ti}] = t
			}
			done[i] = true
			left--
			progressed = true
		}
		if !progressed {
			var stuck []string
			for i, p := range todo {
				if !done[i] {
					stuck = append(stuck, p.l.Name)
				}
			}
			return nil, fmt.Errorf("model %q: layers %s take inputs that no layer produces", m.Name, strings.Join(stuck, ", "))
		}
	}
	var outs []tensor
	for _, r := range m.Outputs {
		t, ok := avail[r]
		if !ok {
			return nil, fmt.Errorf("model %q: output %s (node %d, tensor %d) is not produced by any layer", m.Name, r.Layer, r.Node, r.Tensor)
		}
		if t.unsupported != "" {
			return nil, fmt.Errorf("model %q: output %s is %s", m.Name, r.Layer, t.unsupported)
		}
		outs = append(outs, t)
	}
	return outs, nil
}

// buildCall maps call node of layer l on inputs in.
func (b *builder) buildCall(l *kLayer, node int, prefix string, wpath []string, in []tensor) ([]tensor, error) {
	name := prefix + l.Name
	if node > 0 {
		name = fmt.Sprintf("%s_%d", name, node)
	}
	if l.Model != nil {
		given := map[string]tensor{}
		if len(in) != len(l.Model.Inputs) {
			return nil, fmt.Errorf("nested model %q takes %d inputs, is called on %d", l.Name, len(l.Model.Inputs), len(in))
		}
		for i, r := range l.Model.Inputs {
			given[r.Layer] = in[i]
		}
		return b.buildModel(l.Model, name+".", append(append([]string(nil), wpath...), l.Name), given)
	}
	if len(l.Nodes) > 1 && node == 0 {
		var names []string
		for k := range l.Nodes {
			if k == 0 {
				names = append(names, prefix+l.Name)
			} else {
				names = append(names, fmt.Sprintf("%s%s_%d", prefix, l.Name, k))
			}
		}
		b.shared = append(b.shared, fmt.Sprintf("%s%s -> %s", prefix, l.Name, strings.Join(names, ", ")))
	}
	m := lookupMapper(l)
	if m == nil {
		return nil, fmt.Errorf("layer %q: class %s is not supported", l.Name, l.Class)
	}
	for _, t := range in {
		if t.unsupported != "" {
			return nil, fmt.Errorf("layer %q reads %s", l.Name, t.unsupported)
		}
	}
	c := &call{b: b, l: l, name: name, in: in, wpath: append(append([]string(nil), wpath...), l.Name), frozen: !l.Cfg.boolean(true, "trainable")}
	if node < len(l.Kwargs) {
		c.kwargs = l.Kwargs[node]
	}
	out, err := m(c)
	if err != nil {
		return nil, err
	}
	if err := c.checkAllWeightsUsed(); err != nil {
		return nil, err
	}
	return append([]tensor{out}, c.extra...), nil
}

// addInput creates the graph input for an InputLayer, in channels-first
// form when the layers reading it are channels-last image layers.
func (b *builder) addInput(m *kModel, l *kLayer) (tensor, error) {
	shape, err := inputLayerShape(l)
	if err != nil {
		return tensor{}, err
	}
	if len(shape) < 2 {
		return tensor{}, fmt.Errorf("input layer %q: shape %v has no dimension besides the batch", l.Name, shape)
	}
	s := shape[1:]
	n := 1
	for _, d := range s {
		if d > 0 {
			n *= d
		}
		if n > 1<<40 {
			return tensor{}, fmt.Errorf("input layer %q: shape %v is too large", l.Name, shape)
		}
	}
	t := tensor{name: l.Name, shape: s}
	in := ir.Input{Name: l.Name, Shape: s}
	if len(s) >= 2 && len(s) <= 4 && inputWantsCL(m, l.Name, len(s)) {
		t.shape = append([]int{s[len(s)-1]}, s[:len(s)-1]...)
		t.kind = formCL
		in.Shape = t.shape
		in.Layout = ir.ChannelsLastLayout(len(s) - 1)
	}
	if b.names[l.Name] {
		return tensor{}, fmt.Errorf("input %q: name used twice", l.Name)
	}
	b.names[l.Name] = true
	b.shapes[l.Name] = t.shape
	b.g.Inputs = append(b.g.Inputs, in)
	return t, nil
}

// inputWantsCL reports whether every layer reading an input (looking
// through layout-agnostic layers) is a channels-last spatial layer of the
// input's rank, so the graph input can take NHWC/NWC data directly.
func inputWantsCL(m *kModel, input string, rank int) bool {
	consumers := func(name string) []*kLayer {
		var out []*kLayer
		for _, l := range m.Layers {
			for _, n := range l.Nodes {
				for _, r := range n {
					if r.Layer == name {
						out = append(out, l)
					}
				}
			}
		}
		return out
	}
	seen := map[string]bool{}
	queue := []string{input}
	votes := 0
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, c := range consumers(n) {
			if seen[c.Name] {
				continue
			}
			seen[c.Name] = true
			switch {
			case layoutAgnostic[c.Class]:
				queue = append(queue, c.Name)
			case spatialRank(c) == rank-1 && !channelsFirst(c.Cfg):
				votes++
			default:
				return false
			}
		}
	}
	return votes > 0
}

// layoutAgnostic layers work element-wise, so they take a tensor in
// whatever form it comes.
var layoutAgnostic = map[string]bool{
	"Activation": true, "Dropout": true, "SpatialDropout1D": true, "SpatialDropout2D": true,
	"GaussianNoise": true, "GaussianDropout": true, "AlphaDropout": true, "ReLU": true,
	"LeakyReLU": true, "ELU": true, "ThresholdedReLU": true, "Rescaling": true,
	"BatchNormalization": true,
}
