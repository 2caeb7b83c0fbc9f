package keras

import (
	"fmt"
	"slices"

	"github.com/retarget-dev/retarget/ir"
)

// Keras convolutions and pools pad only "valid" or "same" (TensorFlow's:
// the extra row/column at the end). Explicit ONNX/PyTorch padding is
// written as "same" when it is exactly what "same" does for this input,
// else as a ZeroPadding layer named "<vertex>_pad" in front of a "valid"
// layer. Zero padding is exact for convolutions and for average pooling
// that counts the padding; for max pooling it is exact only on a
// non-negative input (ONNX pads max pooling with -inf).

// windowPadding decides how a sliding-window layer's padding is written:
// mode is the Keras padding, pre (begins then ends) the ZeroPadding to put
// in front, or nil.
func windowPadding(p ir.Padding, pads, in, kernel, strides, dil []int) (mode string, pre []int, err error) {
	switch p {
	case "", ir.PadValid:
		return "valid", nil, nil
	case ir.PadSame:
		return "same", nil, nil
	case ir.PadCausal:
		return "causal", nil, nil
	case ir.PadSameLow:
		b, e := ir.ResolvePads(in, kernel, strides, dil, p, nil)
		return "valid", append(b, e...), nil
	case ir.PadExplicit:
		n := len(in)
		if len(pads) != 2*n {
			return "", nil, unsup("explicit padding %v for %d spatial axes", pads, n)
		}
		zero := true
		for _, x := range pads {
			zero = zero && x == 0
		}
		if zero {
			return "valid", nil, nil
		}
		b, e := ir.ResolvePads(in, kernel, strides, dil, ir.PadSame, nil)
		if slices.Equal(append(b, e...), pads) {
			return "same", nil, nil
		}
		return "valid", append([]int(nil), pads...), nil
	}
	return "", nil, unsup("padding %s %v has no Keras equivalent", p, pads)
}

// zeroPad adds a ZeroPadding layer named "<consumer>_pad" before a
// channels-last spatial tensor t.
func (c *converter) zeroPad(consumer string, t xt, pads []int) xt {
	rank := len(t.shape) - 1
	cfg := map[string]any{"padding": pairs(pads, rank)}
	if rank >= 2 {
		cfg["data_format"] = "channels_last"
	}
	out := c.addAux(consumer, "pad", fmt.Sprintf("ZeroPadding%dD", rank), cfg, t)
	shape := append([]int(nil), t.shape...)
	for i := 0; i < rank; i++ {
		shape[1+i] += pads[i] + pads[rank+i]
	}
	out.shape, out.form = shape, cl
	return out
}

// poolPadding is windowPadding for pooling, with ceil mode and the
// semantics of the padded values checked.
func (c *converter) poolPadding(v *ir.Vertex, l *ir.Pool, in []int) (string, []int, error) {
	mode, pre, err := windowPadding(l.Padding, l.Pads, in, l.Kernel, l.Stride(), nil)
	if err != nil {
		return "", nil, err
	}
	if l.CeilMode {
		if l.Op != ir.PoolMax {
			return "", nil, unsup("average pooling in ceil mode has no Keras equivalent (the last windows' divisor differs)")
		}
		if mode == "same" {
			b, e := ir.ResolvePads(in, l.Kernel, l.Stride(), nil, ir.PadSame, nil)
			pre = append(b, e...)
		}
		if pre == nil {
			pre = make([]int, 2*len(in))
		}
		mode = "valid"
		// extra end padding makes the floor output size the ceil one
		n := len(in)
		out, err := ir.SpatialOut(l.Kind(), in, l.Kernel, l.Stride(), nil, ir.PadExplicit, pre, true)
		if err != nil {
			return "", nil, err
		}
		for i := 0; i < n; i++ {
			need := (out[i]-1)*l.Stride()[i] + l.Kernel[i] - (in[i] + pre[i] + pre[n+i])
			if need > 0 {
				pre[n+i] += need
			}
		}
		floor, err := ir.SpatialOut(l.Kind(), in, l.Kernel, l.Stride(), nil, ir.PadExplicit, pre, false)
		if err != nil || !slices.Equal(floor, out) {
			return "", nil, unsup("ceil-mode pooling: no zero padding gives the output size %v", out)
		}
		zero := true
		for _, x := range pre {
			zero = zero && x == 0
		}
		if zero {
			pre = nil
		}
	}
	if pre == nil {
		if l.Op == ir.PoolAvg && l.CountIncludePad && mode == "same" {
			b, e := ir.ResolvePads(in, l.Kernel, l.Stride(), nil, ir.PadSame, nil)
			pre, mode = append(b, e...), "valid"
		} else {
			return mode, nil, nil
		}
	}
	switch {
	case l.Op == ir.PoolAvg && !l.CountIncludePad:
		return "", nil, unsup("average pooling with padding %v that excludes the padding from the mean: Keras does that only for its own \"same\" padding", pre)
	case l.Op == ir.PoolMax && !c.nonNegative(v.Inputs[0], 0):
		return "", nil, unsup("max pooling with padding %v (ceil mode %v): Keras can only pad with zeros, which equals ONNX's -inf padding only on a non-negative input, and the input of %q is not known to be non-negative (no ReLU in front)", pre, l.CeilMode, v.Name)
	}
	return mode, pre, nil
}

// nonNegative reports whether a tensor is known to hold no negative value:
// the output of a ReLU-like activation, or of a layer that keeps that
// property (max pooling, dropout, reshapes, zero padding).
func (c *converter) nonNegative(name string, depth int) bool {
	v := c.g.Vertex(name)
	if v == nil || depth > 64 {
		return false
	}
	nonNegAct := func(a ir.Activation) bool {
		switch a.Kind {
		case ir.ActReLU, ir.ActReLU6, ir.ActSigmoid, ir.ActSoftmax:
			return true
		case ir.ActClip:
			return a.Alpha >= 0
		}
		return false
	}
	switch l := v.Layer.(type) {
	case *ir.ActivationLayer:
		return nonNegAct(l.Activation) || (l.Activation.IsIdentity() && c.nonNegative(v.Inputs[0], depth+1))
	case *ir.Conv:
		return nonNegAct(l.Activation)
	case *ir.SeparableConv2D:
		return nonNegAct(l.Activation)
	case *ir.Dense:
		return nonNegAct(l.Activation)
	case *ir.Pool:
		return c.nonNegative(v.Inputs[0], depth+1)
	case *ir.Pad:
		return l.Value >= 0 && c.nonNegative(v.Inputs[0], depth+1)
	case *ir.Dropout, *ir.Flatten, *ir.Reshape, *ir.Permute, *ir.Cropping, *ir.UpSampling:
		return c.nonNegative(v.Inputs[0], depth+1)
	}
	return false
}
