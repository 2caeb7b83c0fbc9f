package onnx

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

// gelu maps Gelu (opset 20): approximate=none is the exact erf form,
// approximate=tanh the tanh form 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
func (c *converter) gelu(n *node) error {
	switch a := n.str("approximate", "none"); a {
	case "none":
		return c.elementwise(n, &ir.ActivationLayer{Activation: ir.Act(ir.ActGELU)})
	case "tanh":
		return c.elementwise(n, &ir.ActivationLayer{Activation: ir.Act(ir.ActGELUTanh)})
	default:
		return fmt.Errorf("Gelu approximate=%q is not supported (none, tanh)", a)
	}
}
