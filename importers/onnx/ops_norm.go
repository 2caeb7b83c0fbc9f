package onnx

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

func init() {
	handlers["LayerNormalization"] = (*converter).layerNorm
}

// layerNorm maps LayerNormalization (opset 17) to a trainable LayerNorm
// over the axes from axis to the last, which must not include the batch.
func (c *converter) layerNorm(n *node) error {
	for k := 1; k < len(n.GetOutput()); k++ {
		if n.out(k) != "" && c.uses[n.out(k)] > 0 {
			return fmt.Errorf("the Mean/InvStdDev outputs are used; only the normalised output is supported")
		}
	}
	d, err := c.dynIn(n, 0)
	if err != nil {
		return err
	}
	ax, err := normAxis(n.int("axis", -1), len(d.shape))
	if err != nil {
		return err
	}
	if ax <= d.batch {
		return &BatchAxisError{What: fmt.Sprintf("LayerNormalization over axes %d to %d", ax, len(d.shape)-1)}
	}
	ia, err := c.irAxis(d, int64(ax), "LayerNormalization")
	if err != nil {
		return err
	}
	x, err := c.mat(d)
	if err != nil {
		return err
	}
	ish := c.irShapes[x]
	l := &ir.LayerNorm{Epsilon: n.float("epsilon", 1e-5), Axis: ia - len(ish)}
	ns := l.NormShape(ish)
	for _, s := range ns {
		if s < 0 {
			return fmt.Errorf("normalised axes of unknown size in %v; export the model with fixed feature sizes", d.shape)
		}
	}
	scale, err := c.constIn(n, 1, "Scale")
	if err != nil {
		return err
	}
	gamma, err := expandTo(scale, ns, "Scale")
	if err != nil {
		return err
	}
	params := map[string]*ir.Tensor{"gamma": tensorOf(ns, gamma)}
	b, err := c.optConst(n, 2, "B")
	if err != nil {
		return err
	}
	if b == nil {
		l.NoCenter = true
		params["beta"] = tensorOf(ns, make([]float32, prod(ns)))
	} else {
		beta, err := expandTo(b, ns, "B")
		if err != nil {
			return err
		}
		params["beta"] = tensorOf(ns, beta)
	}
	return c.addOut(n, 0, n.label, l, []string{x}, params)
}

// expandTo broadcasts a constant to shape (numpy rules, no new leading
// axes beyond shape's rank).
func expandTo(v *cval, shape []int, what string) ([]float32, error) {
	s := v.shape
	for len(s) > len(shape) && s[0] == 1 {
		s = s[1:]
	}
	out, err := bcast(s, shape)
	if err != nil || !ir.SameShape(out, shape) {
		return nil, fmt.Errorf("%s of shape %v does not broadcast to the normalised shape %v", what, v.shape, shape)
	}
	if prod(s) == prod(shape) {
		return v.float32s(), nil
	}
	return apply(&cval{shape: s, f: v.f, f32: v.f32, i: v.i, isInt: v.isInt}, shape, bpick(s, shape)).float32Copy(), nil
}
