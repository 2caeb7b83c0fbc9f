package keras

import (
	"strings"

	"github.com/retarget-dev/retarget/internal/kerasclass"
	"github.com/retarget-dev/retarget/internal/layout"
	"github.com/retarget-dev/retarget/ir"
)

func normAct(a ir.Activation, rank int) ir.Activation {
	if (a.Kind == ir.ActSoftmax || a.Kind == ir.ActLogSoftmax) && a.Axis == rank-1 {
		a.Axis = -1
	}
	return a
}

// emit appends the Keras layer for vertex v and records its output.
func (c *converter) emit(v *ir.Vertex, class string, cfg map[string]any, in []xt, out xt, ws ...kweight) {
	if v.Frozen {
		cfg["trainable"] = false
	}
	var inb []string
	for _, t := range in {
		inb = append(inb, t.layer)
	}
	c.m.layers = append(c.m.layers, &klayer{class: class, name: v.Name, config: cfg, inbound: inb, weights: ws})
	out.layer = v.Name
	out.shape = c.shapes[v.Name]
	c.tensors[v.Name] = out
}

func (c *converter) activationLayer(name string, a ir.Activation, in xt) (*klayer, error) {
	class, cfg, err := activationConfig(a, in, len(in.shape))
	if err != nil {
		return nil, err
	}
	return &klayer{class: class, name: name, config: cfg, inbound: []string{in.layer}}, nil
}

// activationConfig maps a standalone activation to a Keras layer.
func activationConfig(a ir.Activation, in xt, rank int) (string, map[string]any, error) {
	a = normAct(a, rank)
	switch a.Kind {
	case ir.ActLeakyReLU:
		return "LeakyReLU", map[string]any{"alpha": a.Alpha}, nil
	case ir.ActELU:
		return "ELU", map[string]any{"alpha": orF(float64(a.Alpha), 1)}, nil
	case ir.ActThresholdReLU:
		return "ThresholdedReLU", map[string]any{"theta": a.Alpha}, nil
	case ir.ActReLU6:
		return "ReLU", map[string]any{"max_value": 6.0, "negative_slope": 0.0, "threshold": 0.0}, nil
	case ir.ActClip:
		if a.Alpha == 0 {
			return "ReLU", map[string]any{"max_value": a.Beta, "negative_slope": 0.0, "threshold": 0.0}, nil
		}
	case ir.ActSoftmax:
		if in.form == flatCL {
			return "Softmax", map[string]any{"axis": -1}, nil
		}
		ax := a.Axis
		if ax < 0 {
			ax += rank
		}
		return "Softmax", map[string]any{"axis": kerasAxis(in, ax)}, nil
	}
	if n, ok := activationName(a); ok {
		return "Activation", map[string]any{"activation": n}, nil
	}
	return "", nil, unsup("activation %s (alpha %g, beta %g) has no Keras equivalent", a.Kind, a.Alpha, a.Beta)
}

func (c *converter) ins(v *ir.Vertex) []xt {
	out := make([]xt, len(v.Inputs))
	for i, n := range v.Inputs {
		out[i] = c.tensors[n]
	}
	return out
}

func padding(p ir.Padding, pads []int) (string, error) {
	switch p {
	case "", ir.PadValid:
		return "valid", nil
	case ir.PadSame:
		return "same", nil
	case ir.PadCausal:
		return "causal", nil
	case ir.PadExplicit:
		zero := true
		for _, x := range pads {
			zero = zero && x == 0
		}
		if zero {
			return "valid", nil
		}
	}
	return "", unsup("padding %s %v has no Keras equivalent", p, pads)
}

func ones(n int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = 1
	}
	return o
}

func orInts(x []int, n int) []int {
	if len(x) == n {
		return x
	}
	return ones(n)
}

// vertex writes the Keras layers of one vertex with the writer its kind
// registered (kinds.go).
func (c *converter) vertex(v *ir.Vertex) error {
	w, ok := writers[v.Layer.Kind()]
	if !ok {
		if why, ok := cannot[v.Layer.Kind()]; ok {
			return unsup("%s", why)
		}
		return unsup("no Keras layer for IR kind %s (no writer is registered for it)", v.Layer.Kind())
	}
	return w(c, v, c.ins(v), v.Params)
}

func writeDense(c *converter, v *ir.Vertex, in []xt, P map[string]*ir.Tensor) error {
	return c.dense(v, in[0])
}

func writeActivationLayer(c *converter, v *ir.Vertex, in []xt, P map[string]*ir.Tensor) error {
	l := v.Layer.(*ir.ActivationLayer)
	t := in[0]
	class, cfg, err := activationConfig(l.Activation, t, len(t.shape))
	if err != nil {
		return err
	}
	c.emit(v, class, cfg, in, xt{form: t.form, pre: t.pre})
	return nil
}

func writeDropout(c *converter, v *ir.Vertex, in []xt, P map[string]*ir.Tensor) error {
	l := v.Layer.(*ir.Dropout)
	t := in[0]
	class := "Dropout"
	if l.Spatial && len(t.shape) >= 2 && len(t.shape) <= 3 {
		var err error
		if t, err = c.toCL(t, v.Name); err != nil {
			return err
		}
		class = map[int]string{2: "SpatialDropout1D", 3: "SpatialDropout2D"}[len(t.shape)]
	}
	c.emit(v, class, map[string]any{"rate": l.Rate}, []xt{t}, xt{form: t.form, pre: t.pre})
	return nil
}

func writeFlatten(c *converter, v *ir.Vertex, in []xt, P map[string]*ir.Tensor) error {
	t := in[0]
	if t.form == cl {
		c.emit(v, "Flatten", map[string]any{"data_format": "channels_last"}, in, xt{form: flatCL, pre: t.shape})
		return nil
	}
	c.emit(v, "Flatten", map[string]any{"data_format": "channels_last"}, in, xt{form: t.form, pre: t.pre})
	return nil
}

func writeReshape(c *converter, v *ir.Vertex, in []xt, P map[string]*ir.Tensor) error {
	t, err := c.toPlain(in[0], v.Name)
	if err != nil {
		return err
	}
	c.emit(v, "Reshape", map[string]any{"target_shape": c.shapes[v.Name]}, []xt{t}, xt{})
	return nil
}

func writePermute(c *converter, v *ir.Vertex, in []xt, P map[string]*ir.Tensor) error {
	l := v.Layer.(*ir.Permute)
	t := in[0]
	r := len(l.Perm)
	if t.form == plain && ir.SameShape(l.Perm, layout.CFPerm(r)) && r >= 2 {
		// the Keras tensor already is the channels-last view of the output
		c.tensors[v.Name] = xt{layer: t.layer, shape: c.shapes[v.Name], form: cl}
		return nil
	}
	if t.form == cl && ir.SameShape(l.Perm, layout.CLPerm(r)) {
		c.tensors[v.Name] = xt{layer: t.layer, shape: c.shapes[v.Name], form: plain}
		return nil
	}
	t, err := c.toPlain(t, v.Name)
	if err != nil {
		return err
	}
	c.emit(v, "Permute", map[string]any{"dims": permDims(l.Perm)}, []xt{t}, xt{})
	return nil
}

func writeRepeatVector(c *converter, v *ir.Vertex, in []xt, P map[string]*ir.Tensor) error {
	l := v.Layer.(*ir.RepeatVector)
	t, err := c.toPlain(in[0], v.Name)
	if err != nil {
		return err
	}
	c.emit(v, "RepeatVector", map[string]any{"n": l.N}, []xt{t}, xt{})
	return nil
}

func writeEmbedding(c *converter, v *ir.Vertex, in []xt, P map[string]*ir.Tensor) error {
	l := v.Layer.(*ir.Embedding)
	t, err := c.toPlain(in[0], v.Name)
	if err != nil {
		return err
	}
	c.emit(v, c.class(v), map[string]any{"input_dim": l.InputDim, "output_dim": l.OutputDim, "mask_zero": l.MaskZero},
		[]xt{t}, xt{}, kw("embeddings:0", P["W"]))
	return nil
}

func writeMasking(c *converter, v *ir.Vertex, in []xt, P map[string]*ir.Tensor) error {
	l := v.Layer.(*ir.Masking)
	t, err := c.toPlain(in[0], v.Name)
	if err != nil {
		return err
	}
	c.emit(v, "Masking", map[string]any{"mask_value": l.Value}, []xt{t}, xt{})
	return nil
}

func writeRescaling(c *converter, v *ir.Vertex, in []xt, P map[string]*ir.Tensor) error {
	l := v.Layer.(*ir.Rescaling)
	c.emit(v, "Rescaling", map[string]any{"scale": l.Scale, "offset": l.Offset}, in, xt{form: in[0].form, pre: in[0].pre})
	return nil
}

func writePReLU(c *converter, v *ir.Vertex, in []xt, P map[string]*ir.Tensor) error {
	l := v.Layer.(*ir.PReLU)
	t, err := c.plainIfFlat(in[0], v.Name)
	if err != nil {
		return err
	}
	var shared []any
	for _, a := range l.SharedAxes {
		shared = append(shared, kerasAxis(t, a))
	}
	alpha := kw("alpha:0", P["alpha"])
	if t.form == cl {
		alpha = kwT("alpha:0", P["alpha"], layout.CLPerm(len(t.shape)))
	}
	c.emit(v, c.class(v), map[string]any{"shared_axes": shared}, []xt{t}, xt{form: t.form}, alpha)
	return nil
}

func writeSpatial(c *converter, v *ir.Vertex, in []xt, P map[string]*ir.Tensor) error {
	return c.spatial(v, in[0])
}

func writeBatchNorm(c *converter, v *ir.Vertex, in []xt, P map[string]*ir.Tensor) error {
	l := v.Layer.(*ir.BatchNorm)
	t, err := c.plainIfFlat(in[0], v.Name)
	if err != nil {
		return err
	}
	var ws []kweight
	if !l.NoScale {
		ws = append(ws, kw("gamma:0", P["gamma"]))
	}
	if !l.NoCenter {
		ws = append(ws, kw("beta:0", P["beta"]))
	}
	ws = append(ws, kw("moving_mean:0", P["mean"]), kw("moving_variance:0", P["var"]))
	c.emit(v, c.class(v), map[string]any{"axis": kerasAxis(t, l.Axis), "epsilon": l.Epsilon,
		"momentum": l.Momentum, "scale": !l.NoScale, "center": !l.NoCenter}, []xt{t}, xt{form: t.form}, ws...)
	return nil
}

func writeLayerNorm(c *converter, v *ir.Vertex, in []xt, P map[string]*ir.Tensor) error {
	l := v.Layer.(*ir.LayerNorm)
	t, err := c.toPlain(in[0], v.Name)
	if err != nil {
		return err
	}
	r := len(t.shape)
	a := l.Axis
	if a < 0 {
		a += r
	}
	var axes []any
	for i := a; i < r; i++ {
		axes = append(axes, i+1)
	}
	c.emit(v, c.class(v), map[string]any{"axis": axes, "epsilon": l.Epsilon, "scale": !l.NoScale,
		"center": !l.NoCenter}, []xt{t}, xt{}, kw("gamma:0", P["gamma"]), kw("beta:0", P["beta"]))
	return nil
}

func writeMerge(c *converter, v *ir.Vertex, in []xt, P map[string]*ir.Tensor) error {
	l := v.Layer.(*ir.Merge)
	cls := map[ir.MergeOp]string{ir.MergeAdd: "Add", ir.MergeSubtract: "Subtract", ir.MergeMultiply: "Multiply",
		ir.MergeAverage: "Average", ir.MergeMaximum: "Maximum", ir.MergeMinimum: "Minimum"}[l.Op]
	if cls == "" {
		return unsup("merge %s has no Keras layer (Keras merges with Add, Subtract, Multiply, Average, Maximum, Minimum); export to ONNX or .rtm instead", l.Op)
	}
	ts, err := c.sameForm(in, v.Name)
	if err != nil {
		return err
	}
	c.emit(v, cls, map[string]any{}, ts, xt{form: ts[0].form, pre: ts[0].pre})
	return nil
}

func writeConcat(c *converter, v *ir.Vertex, in []xt, P map[string]*ir.Tensor) error {
	l := v.Layer.(*ir.Concat)
	ts, err := c.sameForm(in, v.Name)
	if err != nil {
		return err
	}
	for i := range ts {
		if ts[i], err = c.plainIfFlat(ts[i], v.Name); err != nil {
			return err
		}
	}
	ax := l.ResolvedAxis(len(ts[0].shape))
	c.emit(v, "Concatenate", map[string]any{"axis": kerasAxis(ts[0], ax)}, ts, xt{form: ts[0].form})
	return nil
}

func writeMultiHeadAttention(c *converter, v *ir.Vertex, in []xt, P map[string]*ir.Tensor) error {
	l := v.Layer.(*ir.MultiHeadAttention)
	return c.attention(v, l, in)
}

// writeAttention writes Keras Attention (dot or concat scores) or
// AdditiveAttention called on [query, value(, key)]; a causal mask is the
// call's use_causal_mask.
func writeAttention(c *converter, v *ir.Vertex, in []xt, P map[string]*ir.Tensor) error {
	l := v.Layer.(*ir.Attention)
	ts := make([]xt, len(in))
	for i, t := range in {
		p, err := c.toPlain(t, v.Name)
		if err != nil {
			return err
		}
		ts[i] = p
	}
	class, cfg := "Attention", map[string]any{"use_scale": l.UseScale, "score_mode": l.Score, "dropout": l.Dropout}
	var ws []kweight
	if l.UseScale {
		shape := []int{}
		if l.Score == ir.ScoreAdditive {
			shape = []int{l.Dim}
		}
		ws = append(ws, kweight{name: "scale:0", shape: shape, data: P["scale"].Data})
	}
	if l.Score == ir.ScoreConcat {
		ws = append(ws, kweight{name: "concat_score_weight:0", shape: []int{}, data: P["weight"].Data})
	}
	if l.Score == ir.ScoreAdditive {
		class = "AdditiveAttention"
		delete(cfg, "score_mode")
	}
	c.emit(v, class, cfg, ts, xt{}, ws...)
	if l.Causal {
		c.m.layers[len(c.m.layers)-1].callKwargs = map[string]any{"use_causal_mask": true}
	}
	return nil
}

func writeRecurrent(c *converter, v *ir.Vertex, in []xt, P map[string]*ir.Tensor) error {
	t, err := c.toPlain(in[0], v.Name)
	if err != nil {
		return err
	}
	class, cfg, ws, err := rnnConfig(v.Layer, P, "", "")
	if err != nil {
		return err
	}
	if c.foldLastStep(v) {
		cfg["return_sequences"] = false
	}
	c.emit(v, class, cfg, []xt{t}, xt{}, ws...)
	return nil
}

func writeLastTimeStep(c *converter, v *ir.Vertex, in []xt, P map[string]*ir.Tensor) error {
	return c.lastTimeStep(v, in[0])
}

func writeBidirectional(c *converter, v *ir.Vertex, in []xt, P map[string]*ir.Tensor) error {
	l := v.Layer.(*ir.Bidirectional)
	t, err := c.toPlain(in[0], v.Name)
	if err != nil {
		return err
	}
	inner := strings.ToLower(l.Layer.Kind())
	class, cfg, fw, err := rnnConfig(l.Layer, P, "fw/", "forward_"+inner+"/")
	if err != nil {
		return err
	}
	_, _, bw, err := rnnConfig(l.Layer, P, "bw/", "backward_"+inner+"/")
	if err != nil {
		return err
	}
	cfg["name"] = inner
	mode := map[ir.BiMerge]string{ir.BiConcat: "concat", ir.BiSum: "sum", ir.BiMul: "mul", ir.BiAverage: "ave"}[l.Merge]
	c.emit(v, c.class(v), map[string]any{"layer": map[string]any{"class_name": class, "config": cfg},
		"merge_mode": mode}, []xt{t}, xt{}, append(fw, bw...)...)
	return nil
}

// plainIfFlat undoes a channels-last Flatten for layers that read their
// input with its structure.
func (c *converter) plainIfFlat(t xt, consumer string) (xt, error) {
	if t.form == flatCL {
		return c.toPlain(t, consumer)
	}
	return t, nil
}

func (c *converter) sameForm(in []xt, consumer string) ([]xt, error) {
	agree := true
	for _, t := range in[1:] {
		if t.form != in[0].form || (t.form == flatCL && !ir.SameShape(t.pre, in[0].pre)) {
			agree = false
		}
	}
	if agree {
		return in, nil
	}
	out := make([]xt, len(in))
	for i, t := range in {
		p, err := c.toPlain(t, consumer)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

func (c *converter) dense(v *ir.Vertex, t xt) error {
	var units int
	var act ir.Activation
	var noBias bool
	switch l := v.Layer.(type) {
	case *ir.Dense:
		units, act, noBias = l.Units, l.Activation, l.NoBias
	case *ir.Output:
		units, act, noBias = l.Units, l.Activation, l.NoBias
		act.Axis = -1 // the engine applies it across the units
	case *ir.RnnOutput:
		units, act, noBias = l.Units, l.Activation, l.NoBias
		act.Axis = -1
	}
	var err error
	var rowPerm []int
	switch t.form {
	case flatCL:
		rowPerm = layout.FlatRowPerm(t.pre)
	case cl:
		if t, err = c.toPlain(t, v.Name); err != nil {
			return err
		}
	}
	act = normAct(act, len(t.shape))
	name, ok := activationName(act)
	var after *klayer
	if !ok {
		// write Dense(linear) followed by an activation layer
		class, cfg, err := activationConfig(act, xt{shape: c.shapes[v.Name]}, len(c.shapes[v.Name]))
		if err != nil {
			return err
		}
		an := c.outputName(v.Name)
		after = &klayer{class: class, name: an, config: cfg, inbound: []string{v.Name}}
		name = "linear"
	}
	W := v.Params["W"]
	k := kweight{name: "kernel:0", shape: append([]int(nil), W.Shape...), data: W.Data}
	if rowPerm != nil {
		d := make([]float32, len(W.Data))
		for i, r := range rowPerm {
			copy(d[r*units:(r+1)*units], W.Data[i*units:(i+1)*units])
		}
		k.data = d
	}
	ws := []kweight{k}
	if !noBias {
		ws = append(ws, kw("bias:0", v.Params["b"]))
	}
	c.emit(v, c.class(v), map[string]any{"units": units, "activation": name, "use_bias": !noBias}, []xt{t}, xt{}, ws...)
	if after != nil {
		c.m.layers = append(c.m.layers, after)
		c.tensors[v.Name] = xt{layer: after.name, shape: c.shapes[v.Name]}
	}
	return nil
}

// outputName names the activation layer split off vertex v: the external
// output name when v is a graph output called differently, else v_activation.
func (c *converter) outputName(v string) string {
	for _, o := range c.g.Outputs {
		if o.Vertex == v && o.Name != v && !c.names[o.Name] {
			c.names[o.Name] = true
			return o.Name
		}
	}
	return c.unique(v + "_activation")
}

func rnnConfig(l ir.Layer, P map[string]*ir.Tensor, pprefix, wprefix string) (string, map[string]any, []kweight, error) {
	cfg := map[string]any{"stateful": false, "return_state": false, "unroll": false, "dropout": 0.0, "recurrent_dropout": 0.0}
	var class string
	var act, rec ir.Activation
	hasRec := true
	var noBias bool
	switch r := l.(type) {
	case *ir.SimpleRNN:
		class, act, hasRec, noBias = kerasclass.Of(r, nil), r.Activation, false, r.NoBias
		cfg["units"], cfg["return_sequences"], cfg["go_backwards"] = r.Units, r.ReturnSequences, r.GoBackwards
	case *ir.LSTM:
		if r.Peephole {
			return "", nil, nil, unsup("a peephole LSTM has no Keras layer")
		}
		class, act, rec, noBias = kerasclass.Of(r, nil), r.Activation, r.RecurrentActivation, r.NoBias
		cfg["units"], cfg["return_sequences"], cfg["go_backwards"] = r.Units, r.ReturnSequences, r.GoBackwards
		cfg["unit_forget_bias"], cfg["implementation"] = r.UnitForgetBias, 1
	case *ir.GRU:
		class, act, rec, noBias = kerasclass.Of(r, nil), r.Activation, r.RecurrentActivation, r.NoBias
		cfg["units"], cfg["return_sequences"], cfg["go_backwards"] = r.Units, r.ReturnSequences, r.GoBackwards
		cfg["reset_after"], cfg["implementation"] = r.ResetAfter, 1
	default:
		return "", nil, nil, unsup("Bidirectional around %s", l.Kind())
	}
	a, ok := activationName(act)
	if !ok || a == "softmax" {
		return "", nil, nil, unsup("recurrent activation %s has no Keras name", act.Kind)
	}
	cfg["activation"] = a
	if hasRec {
		ra, ok := activationName(rec)
		if !ok {
			return "", nil, nil, unsup("recurrent activation %s has no Keras name", rec.Kind)
		}
		cfg["recurrent_activation"] = ra
	}
	cfg["use_bias"] = !noBias
	ws := []kweight{kw(wprefix+"kernel:0", P[pprefix+"W"]), kw(wprefix+"recurrent_kernel:0", P[pprefix+"R"])}
	if !noBias {
		ws = append(ws, kw(wprefix+"bias:0", P[pprefix+"b"]))
	}
	return class, cfg, ws, nil
}

func (c *converter) spatial(v *ir.Vertex, t xt) error {
	t, err := c.plainIfFlat(t, v.Name)
	if err != nil {
		return err
	}
	rank := len(t.shape) - 1
	if rank < 1 || rank > 3 {
		return unsup("%d spatial axes (Keras layers here are 1-D, 2-D or 3-D)", rank)
	}
	if rank == 3 {
		switch v.Layer.(type) {
		case *ir.UpSampling, *ir.SeparableConv2D:
			return unsup("3-D %s is not written to Keras", v.Layer.Kind())
		}
	}
	if t, err = c.toCL(t, v.Name); err != nil {
		return err
	}
	P := v.Params
	d := "D"
	n := map[int]string{1: "1" + d, 2: "2" + d, 3: "3" + d}[rank]
	// IR kernels [out, in, k...] (transposed: [in, out, k...]) to Keras [k..., in, out]
	kperm := []int{}
	for i := 0; i < rank; i++ {
		kperm = append(kperm, i+2)
	}
	kperm = append(kperm, 1, 0)
	df := "channels_last"
	switch l := v.Layer.(type) {
	case *ir.Conv:
		pad, pre, err := windowPadding(l.Padding, l.Pads, t.shape[1:], l.Kernel, l.Strides, l.Dilations)
		if err != nil {
			return err
		}
		if pre != nil {
			t = c.zeroPad(v.Name, t, pre)
		}
		act := normAct(l.Activation, len(t.shape))
		an, ok := activationName(act)
		if !ok {
			return unsup("activation %s has no Keras name", act.Kind)
		}
		cin := t.shape[0]
		g := l.GroupCount()
		cfg := map[string]any{"kernel_size": l.Kernel, "strides": orInts(l.Strides, rank), "padding": pad,
			"data_format": df, "dilation_rate": orInts(l.Dilations, rank), "activation": an, "use_bias": !l.NoBias}
		var ws []kweight
		class := c.class(v)
		if class == "DepthwiseConv2D" {
			mult := l.Filters / cin
			cfg["depth_multiplier"] = mult
			W := P["W"]
			d, _ := layout.Transpose(W.Data, []int{cin, mult, l.Kernel[0], l.Kernel[1]}, []int{2, 3, 0, 1})
			ws = append(ws, kweight{name: "depthwise_kernel:0", shape: []int{l.Kernel[0], l.Kernel[1], cin, mult}, data: d})
		} else {
			cfg["filters"] = l.Filters
			if g > 1 {
				cfg["groups"] = g
			}
			ws = append(ws, kwT("kernel:0", P["W"], kperm))
		}
		if !l.NoBias {
			ws = append(ws, kw("bias:0", P["b"]))
		}
		c.emit(v, class, cfg, []xt{t}, xt{form: cl}, ws...)
	case *ir.SeparableConv2D:
		pad, pre, err := windowPadding(l.Padding, l.Pads, t.shape[1:], l.Kernel, l.Strides, l.Dilations)
		if err != nil {
			return err
		}
		if pre != nil {
			t = c.zeroPad(v.Name, t, pre)
		}
		an, ok := activationName(l.Activation)
		if !ok {
			return unsup("activation %s has no Keras name", l.Activation.Kind)
		}
		cin := t.shape[0]
		mult := max(l.DepthMultiplier, 1)
		d, _ := layout.Transpose(P["DW"].Data, []int{cin, mult, l.Kernel[0], l.Kernel[1]}, []int{2, 3, 0, 1})
		ws := []kweight{{name: "depthwise_kernel:0", shape: []int{l.Kernel[0], l.Kernel[1], cin, mult}, data: d},
			kwT("pointwise_kernel:0", P["PW"], []int{2, 3, 1, 0})}
		if !l.NoBias {
			ws = append(ws, kw("bias:0", P["b"]))
		}
		c.emit(v, c.class(v), map[string]any{"filters": l.Filters, "kernel_size": l.Kernel,
			"strides": orInts(l.Strides, 2), "padding": pad, "data_format": df, "dilation_rate": orInts(l.Dilations, 2),
			"depth_multiplier": mult, "activation": an, "use_bias": !l.NoBias}, []xt{t}, xt{form: cl}, ws...)
	case *ir.ConvTranspose2D:
		pad, err := padding(l.Padding, l.Pads)
		if err != nil || l.GroupCount() != 1 {
			return unsup("transposed convolution with padding %s and %d groups", l.Padding, l.GroupCount())
		}
		an, ok := activationName(l.Activation)
		if !ok {
			return unsup("activation %s has no Keras name", l.Activation.Kind)
		}
		ws := []kweight{kwT("kernel:0", P["W"], kperm)}
		if !l.NoBias {
			ws = append(ws, kw("bias:0", P["b"]))
		}
		cfg := map[string]any{"filters": l.Filters, "kernel_size": l.Kernel, "strides": orInts(l.Strides, rank),
			"padding": pad, "data_format": df, "dilation_rate": orInts(l.Dilations, rank), "activation": an, "use_bias": !l.NoBias}
		if len(l.OutputPadding) == rank {
			cfg["output_padding"] = l.OutputPadding
		}
		c.emit(v, "Conv"+n+"Transpose", cfg, []xt{t}, xt{form: cl}, ws...)
	case *ir.Pool:
		if l.Dilated() {
			return unsup("dilated pooling (dilations %v) has no Keras layer", l.Dilations)
		}
		pad, pre, err := c.poolPadding(v, l, t.shape[1:])
		if err != nil {
			return err
		}
		if pre != nil {
			t = c.zeroPad(v.Name, t, pre)
		}
		class := map[ir.PoolOp]string{ir.PoolMax: "MaxPooling", ir.PoolAvg: "AveragePooling"}[l.Op] + n
		c.emit(v, class, map[string]any{"pool_size": l.Kernel, "strides": l.Stride(), "padding": pad, "data_format": df},
			[]xt{t}, xt{form: cl})
	case *ir.GlobalPool:
		class := map[ir.PoolOp]string{ir.PoolMax: "GlobalMaxPooling", ir.PoolAvg: "GlobalAveragePooling"}[l.Op] + n
		cfg := map[string]any{"data_format": df}
		out := xt{}
		if l.KeepDims {
			cfg["keepdims"] = true
			out.form = cl
		}
		c.emit(v, class, cfg, []xt{t}, out)
	case *ir.Pad:
		if l.Rank != rank || (l.Mode != ir.PadConstant && l.Mode != "") || l.Value != 0 {
			return unsup("padding mode %s value %g (Keras pads with zeros)", l.Mode, l.Value)
		}
		cfg := map[string]any{"padding": pairs(l.Pads, rank)}
		if rank >= 2 {
			cfg["data_format"] = df
		}
		c.emit(v, "ZeroPadding"+n, cfg, []xt{t}, xt{form: cl})
	case *ir.Cropping:
		if l.Rank != rank {
			return unsup("cropping of %d axes", l.Rank)
		}
		c.emit(v, "Cropping"+n, map[string]any{"cropping": pairs(l.Crops, rank), "data_format": df}, []xt{t}, xt{form: cl})
	case *ir.UpSampling:
		if l.Rank != rank {
			return unsup("upsampling of %d axes", l.Rank)
		}
		cfg := map[string]any{"size": l.Size, "data_format": df}
		if rank == 1 {
			cfg = map[string]any{"size": l.Size[0]}
		} else if l.Mode == "linear" {
			cfg["interpolation"] = "bilinear"
		}
		if rank == 1 && l.Mode != "nearest" {
			return unsup("linear 1-D upsampling")
		}
		c.emit(v, "UpSampling"+n, cfg, []xt{t}, xt{form: cl})
	}
	return nil
}

func pairs(p []int, n int) []any {
	if n == 1 {
		return []any{p[0], p[1]}
	}
	out := []any{}
	for i := 0; i < n; i++ {
		out = append(out, []int{p[i], p[n+i]})
	}
	return out
}

// attention writes a MultiHeadAttention called as Keras 2 serialises it:
// the query positional, value and key as keyword arguments. Its weights are
// the EinsumDense kernels (E, heads, dim), (heads, dim, out) and biases
// (heads, dim), (out): the IR's matrices reshaped.
func (c *converter) attention(v *ir.Vertex, l *ir.MultiHeadAttention, in []xt) error {
	ts := make([]xt, len(in))
	for i, t := range in {
		p, err := c.toPlain(t, v.Name)
		if err != nil {
			return err
		}
		ts[i] = p
	}
	P := v.Params
	dv := l.ValueDim
	if dv == 0 {
		dv = l.KeyDim
	}
	h := l.Heads
	shaped := func(name string, t *ir.Tensor, shape ...int) kweight {
		return kweight{name: name, shape: shape, data: t.Data}
	}
	eq, ev, ek := ts[0].shape[1], ts[0].shape[1], ts[0].shape[1]
	if len(ts) > 1 {
		ev, ek = ts[1].shape[1], ts[1].shape[1]
	}
	if len(ts) > 2 {
		ek = ts[2].shape[1]
	}
	out := P["Wo"].Shape[1]
	ws := []kweight{
		shaped("query/kernel:0", P["Wq"], eq, h, l.KeyDim),
		shaped("key/kernel:0", P["Wk"], ek, h, l.KeyDim),
		shaped("value/kernel:0", P["Wv"], ev, h, dv),
		shaped("attention_output/kernel:0", P["Wo"], h, dv, out),
	}
	if !l.NoBias {
		// Keras orders each EinsumDense's kernel then bias
		ws = []kweight{
			ws[0], shaped("query/bias:0", P["bq"], h, l.KeyDim),
			ws[1], shaped("key/bias:0", P["bk"], h, l.KeyDim),
			ws[2], shaped("value/bias:0", P["bv"], h, dv),
			ws[3], shaped("attention_output/bias:0", P["bo"], out),
		}
	}
	cfg := map[string]any{"num_heads": h, "key_dim": l.KeyDim, "value_dim": dv, "dropout": l.Dropout,
		"use_bias": !l.NoBias, "output_shape": nil, "attention_axes": []any{1}}
	if l.OutputDim > 0 {
		cfg["output_shape"] = []any{l.OutputDim}
	}
	kwIn := map[string]string{"value": ts[0].layer}
	if len(ts) > 1 {
		kwIn["value"] = ts[1].layer
	}
	if len(ts) > 2 {
		kwIn["key"] = ts[2].layer
	}
	c.emit(v, c.class(v), cfg, ts[:1], xt{}, ws...)
	c.m.layers[len(c.m.layers)-1].kwInbound = kwIn
	if l.Causal {
		c.m.layers[len(c.m.layers)-1].callKwargs = map[string]any{"use_causal_mask": true}
	}
	return nil
}
