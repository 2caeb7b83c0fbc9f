package keras

import (
	"fmt"
	"math"

	"github.com/retarget-dev/retarget/internal/layout"
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
	c := &converter{g: g, m: &kmodel{name: g.Name, losses: map[string]any{}, weights: map[string]float64{}, train: g.Train},
		tensors: map[string]xt{}, shapes: shapes, names: map[string]bool{}, conv: map[string]xt{}, folded: map[string]bool{}}
	for _, v := range g.Vertices {
		c.names[v.Name] = true
	}
	for _, in := range g.Inputs {
		c.names[in.Name] = true
		t := xt{layer: in.Name, shape: in.Shape}
		ks := in.Shape
		if in.Layout.ChannelsLastFor(len(in.Shape)) {
			t.form = cl
			ks = layout.CLShape(in.Shape)
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
		wantCL := o.Layout.ChannelsLastFor(len(t.shape))
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
				c.m.weights[name] = ir.LossWeightOf(v.Layer)
			}
		}
	}
	for _, w := range c.m.weights {
		if w != 1 {
			c.m.lossWeights = c.m.weights
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
		out := c.addAux(consumer, "to_channels_first", "Permute", map[string]any{"dims": permDims(layout.CFPerm(len(t.shape)))}, t)
		out.shape = t.shape
		c.conv[t.layer+"#plain"] = out
		return out, nil
	case flatCL:
		if v, ok := c.conv[t.layer+"#plain"]; ok {
			return v, nil
		}
		r := c.addAux(consumer, "unflatten", "Reshape", map[string]any{"target_shape": layout.CLShape(t.pre)}, t)
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
	out := c.addAux(consumer, "to_channels_last", "Permute", map[string]any{"dims": permDims(layout.CLPerm(len(p.shape)))}, p)
	out.shape, out.form = p.shape, cl
	c.conv[p.layer+"#cl"] = out
	return out, nil
}

// kerasAxis maps an IR axis of t (plain or cl) to a Keras axis (with batch).
func kerasAxis(t xt, ax int) int { return layout.KerasAxis(len(t.shape), ax, t.form == cl) }

func kw(name string, t *ir.Tensor) kweight {
	return kweight{name: name, shape: append([]int(nil), t.Shape...), data: t.Data}
}

func kwT(name string, t *ir.Tensor, perm []int) kweight {
	d, s := layout.Transpose(t.Data, t.Shape, perm)
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
