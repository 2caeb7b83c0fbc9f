package keras

import (
	"github.com/retarget-dev/retarget/ir"
)

func init() {
	register(mapMerge, "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Merge")
}

var mergeOps = map[string]ir.MergeOp{
	"Add": ir.MergeAdd, "Subtract": ir.MergeSubtract, "Multiply": ir.MergeMultiply,
	"Average": ir.MergeAverage, "Maximum": ir.MergeMaximum, "Minimum": ir.MergeMinimum,
	// Keras 1 Merge modes
	"sum": ir.MergeAdd, "mul": ir.MergeMultiply, "ave": ir.MergeAverage, "max": ir.MergeMaximum,
}

// sameForm brings all inputs to one form: theirs when they agree, plain otherwise.
func (c *call) sameForm(in []tensor) ([]tensor, error) {
	agree := true
	for _, t := range in[1:] {
		if t.kind != in[0].kind || (t.kind == formFlatCL && !ir.SameShape(t.pre, in[0].pre)) {
			agree = false
		}
	}
	if agree {
		return in, nil
	}
	out := make([]tensor, len(in))
	for i, t := range in {
		p, err := c.plain(t)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

func mapMerge(c *call) (tensor, error) {
	if len(c.in) < 2 {
		return tensor{}, c.errf("merges at least 2 inputs, got %d", len(c.in))
	}
	class := c.l.Class
	concat := class == "Concatenate"
	axis, err := c.l.Cfg.integer(-1, "axis", "concat_axis")
	if err != nil {
		return tensor{}, c.errf("%v", err)
	}
	op, ok := mergeOps[class]
	if class == "Merge" {
		mode := c.l.Cfg.str("sum", "mode")
		op, ok = mergeOps[mode]
		if mode == "concat" {
			concat, ok = true, true
		}
		if !ok {
			return tensor{}, c.errf("merge mode %q is not supported", mode)
		}
	}
	in, err := c.sameForm(c.in)
	if err != nil {
		return tensor{}, err
	}
	if concat {
		for i, t := range in {
			if in[i], err = c.plainIfFlat(t); err != nil {
				return tensor{}, err
			}
		}
		ax, err := irAxis(in[0], axis)
		if err != nil {
			return tensor{}, c.errf("%v", err)
		}
		out, err := c.add(&ir.Concat{Axis: ax}, nil, in...)
		return keepForm(out, in[0]), err
	}
	if !ok {
		return tensor{}, c.errf("unknown merge")
	}
	out, err := c.add(&ir.Merge{Op: op}, nil, in...)
	return keepForm(out, in[0]), err
}
