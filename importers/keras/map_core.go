package keras

import (
	"github.com/retarget-dev/retarget/internal/layout"
	"github.com/retarget-dev/retarget/ir"
)

func init() {
	register(mapDense, "Dense")
	register(mapActivation, "Activation")
	register(mapDropout, "Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise",
		"GaussianDropout", "AlphaDropout")
	register(mapFlatten, "Flatten")
	register(mapReshape, "Reshape")
	register(mapPermute, "Permute")
	register(mapRepeatVector, "RepeatVector")
	register(mapEmbedding, "Embedding")
	register(mapMasking, "Masking")
	register(mapReLU, "ReLU")
	register(mapLeakyReLU, "LeakyReLU")
	register(mapELU, "ELU")
	register(mapThresholdedReLU, "ThresholdedReLU")
	register(mapSoftmax, "Softmax")
	register(mapPReLU, "PReLU")
	register(mapRescaling, "Rescaling")
}

// keepForm gives out the form of in (for element-wise layers).
func keepForm(out, in tensor) tensor {
	out.kind, out.pre = in.kind, in.pre
	return out
}

func mapDense(c *call) (tensor, error) {
	t, err := c.one()
	if err != nil {
		return tensor{}, err
	}
	units, err := c.l.Cfg.integer(0, "units", "output_dim")
	if err != nil || units <= 0 {
		return tensor{}, c.errf("needs a positive units, got %v", c.l.Cfg["units"])
	}
	act, err := c.activation()
	if err != nil {
		return tensor{}, err
	}
	bias := c.l.Cfg.boolean(true, "use_bias", "bias")
	flat := t.kind == formFlatCL
	switch t.kind {
	case formCL:
		if t, err = c.plain(t); err != nil {
			return tensor{}, err
		}
	}
	var params map[string]*ir.Tensor
	if c.hasWeights() {
		nIn := t.shape[len(t.shape)-1]
		var pre []int
		if flat {
			pre = t.pre
		}
		if params, err = c.denseParams(nIn, units, bias, pre); err != nil {
			return tensor{}, err
		}
	}
	return c.add(&ir.Dense{Units: units, Activation: act, NoBias: !bias}, params, t)
}

// denseParams reads a Dense kernel [in, units] and bias [units]. After a
// Flatten of a channels-last tensor (flatPre: its IR shape) the kernel rows
// are reordered: IR row i takes the Keras row of the same element.
func (c *call) denseParams(nIn, units int, bias bool, flatPre []int) (map[string]*ir.Tensor, error) {
	k, err := c.weight(0, "", "kernel", "W")
	if err != nil {
		return nil, err
	}
	if err := c.expect(k, nIn, units); err != nil {
		return nil, err
	}
	var rowPerm []int
	if flatPre != nil {
		rowPerm = layout.FlatRowPerm(flatPre) // sized by the kernel just read
	}
	W := c.b.takeWeight(k, rowPerm, units)
	params := map[string]*ir.Tensor{"W": W}
	if bias {
		b, err := c.weight(1, "", "bias", "b")
		if err != nil {
			return nil, err
		}
		if err := c.expect(b, units); err != nil {
			return nil, err
		}
		params["b"] = c.tensorOf(b)
	}
	return params, nil
}

func mapActivation(c *call) (tensor, error) {
	t, err := c.one()
	if err != nil {
		return tensor{}, err
	}
	act, err := c.activation()
	if err != nil {
		return tensor{}, err
	}
	return c.addActivation(t, act, -1)
}

// addActivation adds an ActivationLayer keeping the input's form; a
// softmax runs along Keras axis kerasAxis.
func (c *call) addActivation(t tensor, act ir.Activation, kerasAxis int) (tensor, error) {
	if act.Kind == ir.ActSoftmax || act.Kind == ir.ActLogSoftmax {
		if t.kind == formFlatCL && kerasAxis != -1 {
			var err error
			if t, err = c.plain(t); err != nil {
				return tensor{}, err
			}
		}
		if t.kind != formFlatCL {
			ax, err := irAxis(t, kerasAxis)
			if err != nil {
				return tensor{}, c.errf("%v", err)
			}
			act.Axis = ax
			if ax == len(t.shape)-1 {
				act.Axis = -1
			}
		} else {
			act.Axis = -1
		}
	}
	out, err := c.add(&ir.ActivationLayer{Activation: act}, nil, t)
	return keepForm(out, t), err
}

func mapDropout(c *call) (tensor, error) {
	t, err := c.one()
	if err != nil {
		return tensor{}, err
	}
	d := &ir.Dropout{}
	switch c.l.Class {
	case "Dropout", "SpatialDropout1D", "SpatialDropout2D":
		r, err := c.l.Cfg.num(0, "rate", "p")
		if err != nil || r < 0 || r >= 1 {
			return tensor{}, c.errf("bad dropout rate %v", c.l.Cfg["rate"])
		}
		d.Rate = float32(r)
		d.Spatial = c.l.Class != "Dropout"
	}
	if d.Spatial {
		// spatial dropout drops whole channels: it needs channels first
		if t, err = c.cl(t); err != nil {
			return tensor{}, err
		}
	}
	out, err := c.add(d, nil, t)
	return keepForm(out, t), err
}

func mapFlatten(c *call) (tensor, error) {
	t, err := c.one()
	if err != nil {
		return tensor{}, err
	}
	if channelsFirst(c.l.Cfg) {
		// Keras moves channels last before flattening a channels_first
		// tensor, so its Keras layout reads as our channels-last form.
		if t, err = c.plain(t); err != nil {
			return tensor{}, err
		}
		if len(t.shape) >= 2 {
			t.kind = formCL
		}
	}
	out, err := c.add(&ir.Flatten{}, nil, t)
	if err != nil {
		return tensor{}, err
	}
	switch t.kind {
	case formCL:
		out.kind, out.pre = formFlatCL, append([]int(nil), t.shape...)
	case formFlatCL:
		out.kind, out.pre = formFlatCL, t.pre
	}
	return out, nil
}

func mapReshape(c *call) (tensor, error) {
	t, err := c.one()
	if err != nil {
		return tensor{}, err
	}
	target, err := c.l.Cfg.ints(0, nil, "target_shape", "dims")
	if err != nil || len(target) == 0 {
		return tensor{}, c.errf("needs a target_shape")
	}
	if t, err = c.plain(t); err != nil {
		return tensor{}, err
	}
	return c.add(&ir.Reshape{Shape: target}, nil, t)
}

func mapPermute(c *call) (tensor, error) {
	t, err := c.one()
	if err != nil {
		return tensor{}, err
	}
	dims, err := c.l.Cfg.ints(0, nil, "dims")
	if err != nil || len(dims) == 0 {
		return tensor{}, c.errf("needs dims")
	}
	if t, err = c.plain(t); err != nil {
		return tensor{}, err
	}
	perm := make([]int, len(dims))
	for i, d := range dims {
		perm[i] = d - 1 // Keras counts the batch axis as 0
	}
	return c.add(&ir.Permute{Perm: perm}, nil, t)
}

func mapRepeatVector(c *call) (tensor, error) {
	t, err := c.one()
	if err != nil {
		return tensor{}, err
	}
	n, err := c.l.Cfg.integer(0, "n")
	if err != nil {
		return tensor{}, c.errf("%v", err)
	}
	if t, err = c.plain(t); err != nil {
		return tensor{}, err
	}
	return c.add(&ir.RepeatVector{N: n}, nil, t)
}

func mapEmbedding(c *call) (tensor, error) {
	t, err := c.one()
	if err != nil {
		return tensor{}, err
	}
	if t, err = c.plain(t); err != nil {
		return tensor{}, err
	}
	inDim, err1 := c.l.Cfg.integer(0, "input_dim")
	outDim, err2 := c.l.Cfg.integer(0, "output_dim")
	if err1 != nil || err2 != nil || inDim <= 0 || outDim <= 0 {
		return tensor{}, c.errf("needs positive input_dim and output_dim")
	}
	var params map[string]*ir.Tensor
	if c.hasWeights() {
		if params, err = c.embeddingParams(inDim, outDim); err != nil {
			return tensor{}, err
		}
	}
	return c.add(&ir.Embedding{InputDim: inDim, OutputDim: outDim, MaskZero: c.l.Cfg.boolean(false, "mask_zero")}, params, t)
}

func (c *call) embeddingParams(inDim, outDim int) (map[string]*ir.Tensor, error) {
	w, err := c.weight(0, "", "embeddings", "W")
	if err != nil {
		return nil, err
	}
	if err := c.expect(w, inDim, outDim); err != nil {
		return nil, err
	}
	return map[string]*ir.Tensor{"W": c.tensorOf(w)}, nil
}

func mapMasking(c *call) (tensor, error) {
	t, err := c.one()
	if err != nil {
		return tensor{}, err
	}
	if t, err = c.plain(t); err != nil {
		return tensor{}, err
	}
	v, err := c.l.Cfg.num(0, "mask_value")
	if err != nil {
		return tensor{}, c.errf("%v", err)
	}
	return c.add(&ir.Masking{Value: float32(v)}, nil, t)
}

// mapReLU: Keras ReLU(max_value M, negative_slope a, threshold θ) is
// f(x) = min(x, M) for x > θ (x ≥ θ), a·(x − θ) below. The common cases are
// one activation; the general one is built from parts:
// clip(thresholded(x), M) + (−a)·relu(θ − x).
func mapReLU(c *call) (tensor, error) {
	t, err := c.one()
	if err != nil {
		return tensor{}, err
	}
	cf := c.l.Cfg
	slope, err := cf.num(0, "negative_slope", "alpha")
	if err != nil {
		return tensor{}, c.errf("%v", err)
	}
	theta, err := cf.num(0, "threshold")
	if err != nil {
		return tensor{}, c.errf("%v", err)
	}
	hasMax := cf.has("max_value")
	maxV, err := cf.num(0, "max_value")
	if err != nil {
		return tensor{}, c.errf("%v", err)
	}
	switch {
	case slope == 0 && theta == 0 && !hasMax:
		return c.addActivation(t, ir.Act(ir.ActReLU), -1)
	case slope == 0 && theta == 0 && maxV == 6:
		return c.addActivation(t, ir.Act(ir.ActReLU6), -1)
	case slope == 0 && theta == 0:
		return c.addActivation(t, ir.Activation{Kind: ir.ActClip, Alpha: 0, Beta: float32(maxV)}, -1)
	case theta == 0 && !hasMax:
		return c.addActivation(t, ir.Activation{Kind: ir.ActLeakyReLU, Alpha: float32(slope)}, -1)
	case slope == 0 && !hasMax:
		return c.addActivation(t, ir.Activation{Kind: ir.ActThresholdReLU, Alpha: float32(theta)}, -1)
	}
	// positive part
	var pos tensor
	if theta != 0 {
		pos, err = c.aux("positive", &ir.ActivationLayer{Activation: ir.Activation{Kind: ir.ActThresholdReLU, Alpha: float32(theta)}}, t)
	} else {
		pos, err = c.aux("positive", &ir.ActivationLayer{Activation: ir.Act(ir.ActReLU)}, t)
	}
	if err != nil {
		return tensor{}, err
	}
	if hasMax {
		pos, err = c.aux("clip", &ir.ActivationLayer{Activation: ir.Activation{Kind: ir.ActClip, Alpha: 0, Beta: float32(maxV)}}, pos)
		if err != nil {
			return tensor{}, err
		}
	}
	if slope == 0 {
		out, err := c.add(&ir.ActivationLayer{Activation: ir.Act(ir.ActIdentity)}, nil, pos)
		return keepForm(out, t), err
	}
	neg, err := c.aux("shifted", &ir.Rescaling{Scale: -1, Offset: float32(theta)}, t)
	if err != nil {
		return tensor{}, err
	}
	if neg, err = c.aux("negative", &ir.ActivationLayer{Activation: ir.Act(ir.ActReLU)}, neg); err != nil {
		return tensor{}, err
	}
	if neg, err = c.aux("slope", &ir.Rescaling{Scale: float32(-slope)}, neg); err != nil {
		return tensor{}, err
	}
	out, err := c.add(&ir.Merge{Op: ir.MergeAdd}, nil, pos, neg)
	return keepForm(out, t), err
}

func mapLeakyReLU(c *call) (tensor, error) {
	t, err := c.one()
	if err != nil {
		return tensor{}, err
	}
	a, err := c.l.Cfg.num(0.3, "alpha", "negative_slope")
	if err != nil {
		return tensor{}, c.errf("%v", err)
	}
	return c.addActivation(t, ir.Activation{Kind: ir.ActLeakyReLU, Alpha: float32(a)}, -1)
}

func mapELU(c *call) (tensor, error) {
	t, err := c.one()
	if err != nil {
		return tensor{}, err
	}
	a, err := c.l.Cfg.num(1, "alpha")
	if err != nil {
		return tensor{}, c.errf("%v", err)
	}
	return c.addActivation(t, ir.Activation{Kind: ir.ActELU, Alpha: float32(a)}, -1)
}

func mapThresholdedReLU(c *call) (tensor, error) {
	t, err := c.one()
	if err != nil {
		return tensor{}, err
	}
	th, err := c.l.Cfg.num(1, "theta")
	if err != nil {
		return tensor{}, c.errf("%v", err)
	}
	return c.addActivation(t, ir.Activation{Kind: ir.ActThresholdReLU, Alpha: float32(th)}, -1)
}

func mapSoftmax(c *call) (tensor, error) {
	t, err := c.one()
	if err != nil {
		return tensor{}, err
	}
	ax, err := c.l.Cfg.integer(-1, "axis")
	if err != nil {
		return tensor{}, c.errf("%v", err)
	}
	return c.addActivation(t, ir.Activation{Kind: ir.ActSoftmax}, ax)
}

func mapPReLU(c *call) (tensor, error) {
	t, err := c.one()
	if err != nil {
		return tensor{}, err
	}
	if t.kind == formFlatCL {
		if t, err = c.plain(t); err != nil {
			return tensor{}, err
		}
	}
	shared, err := c.l.Cfg.ints(0, nil, "shared_axes")
	if err != nil {
		return tensor{}, c.errf("%v", err)
	}
	l := &ir.PReLU{}
	for _, a := range shared {
		ax, err := irAxis(t, a)
		if err != nil {
			return tensor{}, c.errf("shared_axes: %v", err)
		}
		l.SharedAxes = append(l.SharedAxes, ax)
	}
	var params map[string]*ir.Tensor
	if c.hasWeights() {
		if params, err = c.preluParams(t, shared); err != nil {
			return tensor{}, err
		}
	}
	out, err := c.add(l, params, t)
	return keepForm(out, t), err
}

// preluParams reads alpha for input t (plain or formCL); shared lists the
// Keras shared axes (counting the batch axis).
func (c *call) preluParams(t tensor, shared []int) (map[string]*ir.Tensor, error) {
	w, err := c.weight(0, "", "alpha", "alphas")
	if err != nil {
		return nil, err
	}
	want := append([]int(nil), t.kerasShape()...)
	for _, a := range shared {
		if a > 0 && a <= len(want) {
			want[a-1] = 1
		}
	}
	if err := c.expect(w, want...); err != nil {
		return nil, err
	}
	a := c.tensorOf(w)
	if t.kind == formCL {
		d, s := layout.Transpose(w.data, w.shape, layout.CFPerm(len(w.shape)))
		a = ir.FromData(d, s...)
	}
	return map[string]*ir.Tensor{"alpha": a}, nil
}

func mapRescaling(c *call) (tensor, error) {
	t, err := c.one()
	if err != nil {
		return tensor{}, err
	}
	s, err := c.l.Cfg.num(1, "scale")
	if err != nil {
		return tensor{}, c.errf("scale: %v (only a single number is supported)", err)
	}
	o, err := c.l.Cfg.num(0, "offset")
	if err != nil {
		return tensor{}, c.errf("offset: %v (only a single number is supported)", err)
	}
	out, err := c.add(&ir.Rescaling{Scale: float32(s), Offset: float32(o)}, nil, t)
	return keepForm(out, t), err
}
