package keras

import (
	"encoding/json"
	"math"
	"strings"

	"github.com/retarget-dev/retarget/ir"
)

// trainingConfig is the part of Keras's training_config (Keras 1/2) or
// compile_config (Keras 3) the importer uses.
type trainingConfig struct {
	Loss      any            `json:"loss"`
	Weights   any            `json:"loss_weights"`
	Optimizer map[string]any `json:"optimizer_config"`
	Opt3      any            `json:"optimizer"`
}

func parseTraining(b []byte) *trainingConfig {
	if len(b) == 0 || len(b) > maxConfigBytes {
		return nil
	}
	var tc trainingConfig
	if err := json.Unmarshal(b, &tc); err != nil {
		return nil
	}
	if tc.Optimizer == nil {
		if m, ok := tc.Opt3.(map[string]any); ok {
			tc.Optimizer = m
		}
	}
	return &tc
}

// lossFor finds the loss of output idx (Keras output layer name): a
// single loss, a dict by output name, or a list by output position.
func (tc *trainingConfig) lossFor(name string, idx int) (any, bool) {
	if tc == nil || tc.Loss == nil {
		return nil, false
	}
	switch x := tc.Loss.(type) {
	case string:
		return x, true
	case []any:
		if idx < len(x) {
			return x[idx], x[idx] != nil
		}
		return nil, false
	case map[string]any:
		if _, ok := x["class_name"]; ok {
			return x, true
		}
		v, ok := x[name]
		return v, ok && v != nil
	}
	return nil, false
}

// weightFor finds the loss weight of output idx (Keras output layer
// name) from loss_weights: a dict by output name or a list by position;
// 1 when not given; ok is false for a value ir cannot hold (not a
// finite number > 0).
func (tc *trainingConfig) weightFor(name string, idx int) (w float64, ok bool) {
	if tc == nil {
		return 1, true
	}
	var v any
	switch x := tc.Weights.(type) {
	case []any:
		if idx < len(x) {
			v = x[idx]
		}
	case map[string]any:
		v = x[name]
	}
	if v == nil {
		return 1, true
	}
	f, ok := v.(float64)
	if !ok || f <= 0 || math.IsInf(f, 0) {
		return 1, false
	}
	return f, true
}

// kerasLoss maps a Keras loss (name or serialised object) to an IR loss;
// fromLogits reports a from_logits=True loss object.
func kerasLoss(v any) (loss ir.Loss, fromLogits bool, name string, ok bool) {
	switch x := v.(type) {
	case string:
		name = x
	case map[string]any:
		name, _ = x["class_name"].(string)
		if c, ok := x["config"].(map[string]any); ok {
			fromLogits, _ = c["from_logits"].(bool)
			if name == "function" || name == "" {
				if n, ok := c["name"].(string); ok {
					name = n
				}
			}
		} else if s, ok := x["config"].(string); ok && name == "function" {
			name = s
		}
	}
	key := strings.ToLower(strings.ReplaceAll(name, "_", ""))
	switch key {
	case "categoricalcrossentropy":
		return ir.LossMCXENT, fromLogits, name, true
	case "sparsecategoricalcrossentropy":
		return ir.LossSparseMCXENT, fromLogits, name, true
	case "binarycrossentropy":
		return ir.LossXENT, fromLogits, name, true
	case "mse", "meansquarederror":
		return ir.LossMSE, false, name, true
	case "mae", "meanabsoluteerror":
		return ir.LossMAE, false, name, true
	case "kld", "kullbackleiblerdivergence", "kldivergence":
		return ir.LossKLD, false, name, true
	case "hinge":
		return ir.LossHinge, false, name, true
	case "squaredhinge":
		return ir.LossSquaredHinge, false, name, true
	case "poisson":
		return ir.LossPoisson, false, name, true
	case "cosine", "cosineproximity", "cosinesimilarity":
		return ir.LossCosine, false, name, true
	}
	return "", false, name, false
}

// defaultLoss picks a loss from the output activation.
func defaultLoss(a ir.Activation) ir.Loss {
	switch a.Kind {
	case ir.ActSoftmax:
		return ir.LossMCXENT
	case ir.ActSigmoid:
		return ir.LossXENT
	}
	return ir.LossMSE
}

// trainConfig maps the Keras optimizer to the graph's training config.
func (tc *trainingConfig) trainConfig() *ir.TrainConfig {
	if tc == nil || tc.Optimizer == nil {
		return nil
	}
	class, _ := tc.Optimizer["class_name"].(string)
	c, _ := tc.Optimizer["config"].(map[string]any)
	num := func(names ...string) float64 {
		for _, n := range names {
			if f, ok := c[n].(float64); ok {
				return f
			}
		}
		return 0
	}
	t := &ir.TrainConfig{LearningRate: num("learning_rate", "lr")}
	switch strings.ToLower(class) {
	case "sgd":
		t.Updater = ir.UpdSGD
		if m := num("momentum"); m > 0 {
			t.Updater, t.Momentum = ir.UpdMomentum, m
			if b, _ := c["nesterov"].(bool); b {
				t.Updater = ir.UpdNesterov
			}
		}
	case "adam":
		t.Updater, t.Beta1, t.Beta2, t.Epsilon = ir.UpdAdam, num("beta_1"), num("beta_2"), num("epsilon")
	case "adamw":
		t.Updater, t.Beta1, t.Beta2, t.Epsilon = ir.UpdAdamW, num("beta_1"), num("beta_2"), num("epsilon")
		t.WeightDecay = num("weight_decay")
	case "rmsprop":
		t.Updater, t.Rho, t.Epsilon = ir.UpdRMSProp, num("rho"), num("epsilon")
	case "adagrad":
		t.Updater, t.Epsilon = ir.UpdAdaGrad, num("epsilon")
	case "adadelta":
		t.Updater, t.Rho, t.Epsilon = ir.UpdAdaDelta, num("rho"), num("epsilon")
	default:
		return nil
	}
	if lr, ok := c["learning_rate"].(map[string]any); ok && t.LearningRate == 0 {
		_ = lr // a schedule object: leave the rate to the user
	}
	return t
}
