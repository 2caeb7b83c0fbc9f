package keras

import (
	"fmt"
	"math"

	"github.com/retarget-dev/retarget/ir"
)

// form of a tensor on the Keras side, relative to the IR tensor.
type form int

const (
	plain  form = iota // Keras layout equals the IR layout
	cl                 // Keras [d..., C], IR [C, d...]
	flatCL             // Keras flattened [d..., C], IR flattened [C, d...] (pre holds [C, d...])
)

type xt struct {
	layer string // the Keras layer producing it
	shape []int  // IR shape
	form  form
	pre   []int
}

type converter struct {
	g       *ir.Graph
	m       *kmodel
	tensors map[string]xt
	shapes  map[string][]int
	names   map[string]bool
	bad     []string
	conv    map[string]xt
	folded  map[string]bool // recurrent vertices written with return_sequences=False
}

func convert(g *ir.Graph) (*kmodel, error) {
	g = kerasNamed(g)
	shapes, err := g.Shapes()
	if err != nil {
		return nil, err
	}
	order, err := g.TopoOrder()
	if err != nil {
		return nil, err
	}
	c := &converter{g: g, m: &kmodel{name: g.Name, losses: map[string]any{}, train: g.Train},
		tensors: map[string]xt{}, shapes: shapes, names: map[string]bool{}, conv: map[string]xt{}, folded: map[string]bool{}}
	for _, v := range g.Vertices {
		c.names[v.Name] = true
	}
	for _, in := range g.Inputs {
		c.names[in.Name] = true
		t := xt{layer: in.Name, shape: in.Shape}
		ks := in.Shape
		if (in.Layout == ir.LayoutNHWC && len(in.Shape) == 3) || (in.Layout == ir.LayoutNWC && len(in.Shape) == 2) {
			t.form = cl
			ks = clShape(in.Shape)
		}
		c.m.layers = append(c.m.layers, &klayer{class: "InputLayer", name: in.Name,
			config: map[string]any{"batch_input_shape": batchShape(ks), "sparse": false}})
		c.m.inputs = append(c.m.inputs, in.Name)
		c.tensors[in.Name] = t
	}
	for _, v := range order {
		if err := c.vertex(v); err != nil {
			if _, ok := err.(unsupported); ok {
				c.bad = append(c.bad, fmt.Sprintf("%s (%s): %v", v.Name, v.Layer.Kind(), err))
				c.tensors[v.Name] = xt{layer: v.Name, shape: shapes[v.Name]}
				continue
			}
			return nil, fmt.Errorf("vertex %q: %w", v.Name, err)
		}
	}
	if len(c.bad) > 0 {
		return nil, &UnsupportedError{Vertices: c.bad}
	}
	for _, o := range g.Outputs {
		t := c.tensors[o.Vertex]
		var err error
		wantCL := (o.Layout == ir.LayoutNHWC && len(t.shape) == 3) || (o.Layout == ir.LayoutNWC && len(t.shape) == 2)
		if wantCL {
			t, err = c.toCL(t, o.Vertex)
		} else {
			t, err = c.toPlain(t, o.Vertex)
		}
		if err != nil {
			return nil, err
		}
		name := t.layer
		if v := g.Vertex(o.Vertex); v != nil && t.layer == o.Vertex && o.Name != o.Vertex && !c.names[o.Name] {
			// keep the external output name: split a merged activation off
			if act, ok := outputActivation(v.Layer); ok && !act.IsIdentity() {
				l := c.layerByName(o.Vertex)
				l.config["activation"] = "linear"
				a, err := c.activationLayer(o.Name, act, t)
				if err != nil {
					return nil, err
				}
				c.m.layers = append(c.m.layers, a)
				name = o.Name
				c.names[o.Name] = true
			}
		}
		c.m.outputs = append(c.m.outputs, name)
		if v := g.Vertex(o.Vertex); v != nil {
			if loss, ok := ir.LossOf(v.Layer); ok {
				c.m.losses[name] = kerasLoss(loss, v.Layer)
			}
		}
	}
	return c.m, nil
}

func outputActivation(l ir.Layer) (ir.Activation, bool) {
	switch o := l.(type) {
	case *ir.Output:
		return o.Activation, true
	case *ir.RnnOutput:
		return o.Activation, true
	}
	return ir.Activation{}, false
}

func (c *converter) layerByName(n string) *klayer {
	for _, l := range c.m.layers {
		if l.name == n {
			return l
		}
	}
	return nil
}

func kerasLoss(l ir.Loss, layer ir.Layer) any {
	names := map[ir.Loss]string{ir.LossMCXENT: "categorical_crossentropy", ir.LossSparseMCXENT: "sparse_categorical_crossentropy",
		ir.LossXENT: "binary_crossentropy", ir.LossMSE: "mean_squared_error", ir.LossMAE: "mean_absolute_error",
		ir.LossKLD: "kullback_leibler_divergence", ir.LossHinge: "hinge", ir.LossSquaredHinge: "squared_hinge",
		ir.LossPoisson: "poisson", ir.LossCosine: "cosine_proximity", ir.LossNLL: "categorical_crossentropy"}
	n := names[l]
	logits := false
	switch o := layer.(type) {
	case *ir.Output:
		logits = o.FromLogits
	case *ir.RnnOutput:
		logits = o.FromLogits
	}
	if logits {
		cls := map[ir.Loss]string{ir.LossMCXENT: "CategoricalCrossentropy", ir.LossSparseMCXENT: "SparseCategoricalCrossentropy", ir.LossXENT: "BinaryCrossentropy"}[l]
		if cls != "" {
			return map[string]any{"class_name": cls, "config": map[string]any{"from_logits": true}}
		}
	}
	return n
}

type unsupported struct{ msg string }

func (u unsupported) Error() string { return u.msg }

func unsup(format string, args ...any) error { return unsupported{fmt.Sprintf(format, args...)} }

func batchShape(s []int) []any {
	out := []any{nil}
	for _, d := range s {
		if d < 0 {
			out = append(out, nil)
		} else {
			out = append(out, d)
		}
	}
	return out
}

func clShape(s []int) []int {
	if len(s) < 2 {
		return append([]int(nil), s...)
	}
	return append(append([]int(nil), s[1:]...), s[0])
}

func (c *converter) unique(n string) string {
	if !c.names[n] {
		c.names[n] = true
		return n
	}
	for i := 1; ; i++ {
		m := fmt.Sprintf("%s_%d", n, i)
		if !c.names[m] {
			c.names[m] = true
			return m
		}
	}
}

// add appends a Keras layer for consumer, reading in.
func (c *converter) addAux(consumer, suffix, class string, cfg map[string]any, in xt) xt {
	name := c.unique(consumer + "_" + suffix)
	c.m.layers = append(c.m.layers, &klayer{class: class, name: name, config: cfg, inbound: []string{in.layer}})
	return xt{layer: name}
}

func permDims(perm []int) []any {
	out := make([]any, len(perm))
	for i, p := range perm {
		out[i] = p + 1
	}
	return out
}

// toPlain returns t with the Keras layout equal to the IR layout.
func (c *converter) toPlain(t xt, consumer string) (xt, error) {
	switch t.form {
	case plain:
		return t, nil
	case cl:
		if v, ok := c.conv[t.layer+"#plain"]; ok {
			return v, nil
		}
		r := len(t.shape)
		perm := []int{r - 1}
		for i := 0; i < r-1; i++ {
			perm = append(perm, i)
		}
		out := c.addAux(consumer, "to_channels_first", "Permute", map[string]any{"dims": permDims(perm)}, t)
		out.shape = t.shape
		c.conv[t.layer+"#plain"] = out
		return out, nil
	case flatCL:
		if v, ok := c.conv[t.layer+"#plain"]; ok {
			return v, nil
		}
		r := c.addAux(consumer, "unflatten", "Reshape", map[string]any{"target_shape": clShape(t.pre)}, t)
		r.shape, r.form = t.pre, cl
		p, _ := c.toPlain(r, consumer)
		out := c.addAux(consumer, "flatten", "Flatten", map[string]any{"data_format": "channels_last"}, p)
		out.shape = t.shape
		c.conv[t.layer+"#plain"] = out
		return out, nil
	}
	return xt{}, fmt.Errorf("unknown form")
}

// toCL returns t with a channels-last Keras layout.
func (c *converter) toCL(t xt, consumer string) (xt, error) {
	if t.form == cl {
		return t, nil
	}
	p, err := c.toPlain(t, consumer)
	if err != nil {
		return xt{}, err
	}
	if v, ok := c.conv[p.layer+"#cl"]; ok {
		return v, nil
	}
	r := len(p.shape)
	var perm []int
	for i := 1; i < r; i++ {
		perm = append(perm, i)
	}
	perm = append(perm, 0)
	out := c.addAux(consumer, "to_channels_last", "Permute", map[string]any{"dims": permDims(perm)}, p)
	out.shape, out.form = p.shape, cl
	c.conv[p.layer+"#cl"] = out
	return out, nil
}

// kerasAxis maps an IR axis of t (plain or cl) to a Keras axis (with batch).
func kerasAxis(t xt, ax int) int {
	r := len(t.shape)
	if ax < 0 {
		ax += r
	}
	if t.form == cl {
		if ax == 0 {
			return r
		}
		return ax
	}
	return ax + 1
}

func transpose(data []float32, shape []int, perm []int) ([]float32, []int) {
	n := len(shape)
	out := make([]int, n)
	for i, p := range perm {
		out[i] = shape[p]
	}
	inStride := make([]int, n)
	s := 1
	for i := n - 1; i >= 0; i-- {
		inStride[i] = s
		s *= shape[i]
	}
	res := make([]float32, len(data))
	idx := make([]int, n)
	for o := range res {
		off := 0
		for i := 0; i < n; i++ {
			off += idx[i] * inStride[perm[i]]
		}
		res[o] = data[off]
		for i := n - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < out[i] {
				break
			}
			idx[i] = 0
		}
	}
	return res, out
}

func kw(name string, t *ir.Tensor) kweight {
	return kweight{name: name, shape: append([]int(nil), t.Shape...), data: t.Data}
}

func kwT(name string, t *ir.Tensor, perm []int) kweight {
	d, s := transpose(t.Data, t.Shape, perm)
	return kweight{name: name, shape: s, data: d}
}

// activationName maps an IR activation to a Keras activation string.
func activationName(a ir.Activation) (string, bool) {
	switch a.Kind {
	case "", ir.ActIdentity:
		return "linear", true
	case ir.ActReLU, ir.ActSigmoid, ir.ActTanh, ir.ActSoftplus, ir.ActSoftsign, ir.ActSELU, ir.ActSwish, ir.ActGELU:
		if a.Kind == ir.ActSwish {
			return "swish", true
		}
		return string(a.Kind), true
	case ir.ActSoftmax:
		return "softmax", a.Axis == -1
	case ir.ActELU:
		return "elu", a.Alpha == 0 || a.Alpha == 1
	case ir.ActHardSigmoid:
		return "hard_sigmoid", (a.Alpha == 0 && a.Beta == 0) || (near(a.Alpha, 0.2) && near(a.Beta, 0.5))
	}
	return "", false
}

func near(a float32, b float64) bool { return math.Abs(float64(a)-b) < 1e-6 }
