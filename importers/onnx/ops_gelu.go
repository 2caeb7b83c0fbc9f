package onnx

import (
	"fmt"
	"math"

	"github.com/retarget-dev/retarget/ir"
)

// gelu maps Gelu (opset 20). The IR's GELU is the exact erf form; the tanh
// approximation 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) is written out
// element-wise, as PyTorch exports it below opset 20.
func (c *converter) gelu(n *node) error {
	switch a := n.str("approximate", "none"); a {
	case "none":
		return c.elementwise(n, &ir.ActivationLayer{Activation: ir.Act(ir.ActGELU)})
	case "tanh":
	default:
		return fmt.Errorf("Gelu approximate=%q is not supported (none, tanh)", a)
	}
	d, err := c.dynIn(n, 0)
	if err != nil {
		return err
	}
	x, err := c.mat(d)
	if err != nil {
		return err
	}
	p := n.label + "/"
	cube, err := c.add(p+"cube", &ir.Unary{Op: ir.UnaryPow, Exponent: 3}, []string{x}, nil)
	steps := []struct {
		name string
		op   ir.MergeOp
		k    float64 // the scalar operand, or NaN for x
	}{
		{"cube_scaled", ir.MergeMultiply, 0.044715},
		{"inner", ir.MergeAdd, math.NaN()},
		{"inner_scaled", ir.MergeMultiply, math.Sqrt(2 / math.Pi)},
		{"tanh", "", 0},
		{"one_plus", ir.MergeAdd, 1},
		{"times_x", ir.MergeMultiply, math.NaN()},
		{"", ir.MergeMultiply, 0.5},
	}
	v := cube
	for _, s := range steps {
		if err != nil {
			return err
		}
		name := p + s.name
		if s.name == "" {
			name = n.label
		}
		if s.op == "" {
			v, err = c.add(name, &ir.ActivationLayer{Activation: ir.Act(ir.ActTanh)}, []string{v}, nil)
			continue
		}
		other := x
		if !math.IsNaN(s.k) {
			other, err = c.scalarVertex(name+"/const", float32(s.k), len(c.irShapes[x]))
			if err != nil {
				return err
			}
		}
		v, err = c.add(name, &ir.Merge{Op: s.op}, []string{v, other}, nil)
	}
	if err != nil {
		return err
	}
	c.vals[n.out(0)] = &dyn{v: v, shape: d.shape, batch: d.batch}
	return nil
}

// scalarVertex adds a one-element Constant of the given rank (all sizes 1),
// which broadcasts over a value of that rank without changing its shape.
func (c *converter) scalarVertex(base string, v float32, rank int) (string, error) {
	shape := make([]int, rank)
	for k := range shape {
		shape[k] = 1
	}
	return c.add(base, &ir.Constant{Shape: shape}, nil, map[string]*ir.Tensor{"value": tensorOf(shape, []float32{v})})
}
