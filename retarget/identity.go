package retarget

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

// identityParams gives v parameters that make it compute the identity
// (before its activation): Dense a square identity matrix and zero bias,
// Conv a Dirac kernel, BatchNorm gamma 1, beta 0, mean 0, var 1-eps.
func (st *state) identityParams(v *ir.Vertex, shapes map[string][]int) error {
	in := v.InputShapes(shapes)
	out, err := v.Layer.OutputShape(in)
	if err != nil {
		return err
	}
	v.Params = map[string]*ir.Tensor{}
	for _, s := range v.Layer.Params(in) {
		v.Params[s.Name] = ir.NewTensor(s.Shape...)
	}
	switch l := v.Layer.(type) {
	case *ir.Dense:
		n := l.Units
		if lastDim(in[0]) != n {
			return fmt.Errorf("identity init needs a square Dense: %d inputs, %d units", lastDim(in[0]), n)
		}
		w := v.Params["W"]
		for i := 0; i < n; i++ {
			w.Data[i*n+i] = 1
		}
	case *ir.Conv:
		if l.GroupCount() != 1 || in[0][0] != l.Filters || !ir.SameShape(in[0], out) {
			return fmt.Errorf("identity init needs a Conv with groups 1, as many filters as input channels (%d) and an output of the input's size, got %d filters and output %v for input %v",
				in[0][0], l.Filters, out, in[0])
		}
		begin, _ := ir.ResolvePads(in[0][1:], l.Kernel, l.Strides, l.Dilations, l.Padding, l.Pads)
		centre := make([]int, len(l.Kernel))
		for i := range l.Kernel {
			d := 1
			if i < len(l.Dilations) && l.Dilations[i] > 0 {
				d = l.Dilations[i]
			}
			if i < len(l.Strides) && l.Strides[i] > 1 || begin[i]%d != 0 || begin[i]/d >= l.Kernel[i] {
				return fmt.Errorf("identity init: the padding of this Conv does not centre a kernel tap (kernel %v, padding %s)", l.Kernel, l.Padding)
			}
			centre[i] = begin[i] / d
		}
		w := v.Params["W"]
		rf := ir.NumElements(l.Kernel)
		off := 0
		for i := range l.Kernel {
			off = off*l.Kernel[i] + centre[i]
		}
		for c := 0; c < l.Filters; c++ {
			w.Data[(c*l.Filters+c)*rf+off] = 1
		}
	case *ir.BatchNorm:
		fill(v.Params["gamma"].Data, 1)
		fill(v.Params["var"].Data, 1-l.Epsilon)
	default:
		if len(v.Params) > 0 {
			return fmt.Errorf("identity init is defined for Dense, Conv and BatchNorm, not %s", v.Layer.Kind())
		}
	}
	st.touch(v.Name, "*")
	return nil
}

// checkIdentityPreserves notes an identity insert whose activation changes
// the values flowing through it.
func (st *state) checkIdentityPreserves(v *ir.Vertex, after string) {
	act := activationOf(v.Layer)
	if act.IsIdentity() {
		return
	}
	if (act.Kind == ir.ActReLU) && nonNegative(st.g, after) {
		return
	}
	st.note("insert %q: identity init with activation %s changes the outputs (use identity, or relu after a non-negative input)", v.Name, act.Kind)
}

func activationOf(l ir.Layer) ir.Activation {
	switch l := l.(type) {
	case *ir.Dense:
		return l.Activation
	case *ir.Conv:
		return l.Activation
	case *ir.ActivationLayer:
		return l.Activation
	}
	return ir.Activation{}
}

// nonNegative reports whether a value is known to be >= 0 everywhere.
func nonNegative(g *ir.Graph, name string) bool {
	v := g.Vertex(name)
	if v == nil {
		return false
	}
	switch l := v.Layer.(type) {
	case *ir.Pool, *ir.GlobalPool, *ir.Dropout, *ir.Flatten, *ir.Reshape, *ir.Permute:
		return len(v.Inputs) == 1 && nonNegative(g, v.Inputs[0])
	case *ir.Concat:
		for _, in := range v.Inputs {
			if !nonNegative(g, in) {
				return false
			}
		}
		return true
	default:
		_ = l
	}
	a := activationOf(v.Layer)
	switch a.Kind {
	case ir.ActReLU, ir.ActReLU6, ir.ActSigmoid, ir.ActHardSigmoid, ir.ActSoftmax, ir.ActSoftplus:
		return true
	case ir.ActThresholdReLU:
		return a.Alpha >= 0
	}
	return false
}

func lastDim(s []int) int {
	if len(s) == 0 {
		return 1
	}
	return s[len(s)-1]
}
