package keras

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

// activationName reads an activation field: a name, or a Keras 3
// serialised function {"class_name": "function", "config": "relu"}.
func activationName(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "linear", nil
	case string:
		return x, nil
	case map[string]any:
		if s, ok := x["config"].(string); ok {
			return s, nil
		}
		if s, ok := x["class_name"].(string); ok {
			if c, ok := x["config"].(map[string]any); ok {
				if n, ok := c["name"].(string); ok && s == "function" {
					return n, nil
				}
			}
			return s, nil
		}
	}
	return "", fmt.Errorf("unreadable activation %v", v)
}

// convertActivation maps a Keras activation name. keras3 selects Keras 3's
// hard_sigmoid (x/6 + 0.5) over Keras 1/2's (0.2x + 0.5).
func convertActivation(name string, keras3 bool) (ir.Activation, error) {
	switch name {
	case "linear", "", "None":
		return ir.Act(ir.ActIdentity), nil
	case "relu":
		return ir.Act(ir.ActReLU), nil
	case "relu6":
		return ir.Act(ir.ActReLU6), nil
	case "sigmoid":
		return ir.Act(ir.ActSigmoid), nil
	case "hard_sigmoid":
		if keras3 {
			return ir.Activation{Kind: ir.ActHardSigmoid, Alpha: 1.0 / 6, Beta: 0.5}, nil
		}
		return ir.Activation{Kind: ir.ActHardSigmoid, Alpha: 0.2, Beta: 0.5}, nil
	case "tanh":
		return ir.Act(ir.ActTanh), nil
	case "softmax":
		return ir.Activation{Kind: ir.ActSoftmax, Axis: -1}, nil
	case "log_softmax":
		return ir.Activation{Kind: ir.ActLogSoftmax, Axis: -1}, nil
	case "softplus":
		return ir.Act(ir.ActSoftplus), nil
	case "softsign":
		return ir.Act(ir.ActSoftsign), nil
	case "elu":
		return ir.Activation{Kind: ir.ActELU, Alpha: 1}, nil
	case "selu":
		return ir.Act(ir.ActSELU), nil
	case "gelu":
		return ir.Act(ir.ActGELU), nil
	case "swish", "silu":
		return ir.Act(ir.ActSwish), nil
	case "leaky_relu":
		return ir.Activation{Kind: ir.ActLeakyReLU, Alpha: 0.2}, nil
	}
	return ir.Activation{}, fmt.Errorf("activation %q is not supported", name)
}

func (c *call) activation(names ...string) (ir.Activation, error) {
	if len(names) == 0 {
		names = []string{"activation"}
	}
	v, _ := c.l.Cfg.raw(names...)
	n, err := activationName(v)
	if err != nil {
		return ir.Activation{}, c.errf("%v", err)
	}
	a, err := convertActivation(n, c.b.keras3)
	if err != nil {
		return ir.Activation{}, c.errf("%v", err)
	}
	return a, nil
}
