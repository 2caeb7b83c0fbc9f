package retarget

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

// FineTune sets the training configuration of the new graph (DL4J
// FineTuneConfiguration): fields set in cfg replace the source's, unset
// (zero) fields keep the source's value. It applies to every vertex: the
// per-vertex overrides of the source are cleared; a vertex added with
// AddWith may carry its own override. An output vertex's activation and
// loss are never changed. Several calls merge, later fields winning.
func (b *Builder) FineTune(cfg ir.TrainConfig) *Builder {
	c := cfg.Clone()
	b.record("fine_tune", "", phaseFineTune, "", nil, func(st *state) error {
		if err := checkTrainConfig(c); err != nil {
			return err
		}
		st.g.Train = c.Merged(st.g.Train)
		for _, v := range st.g.Vertices {
			if !st.added[v.Name] {
				v.Train = nil
			}
		}
		return nil
	})
	b.edits[len(b.edits)-1].cfg = c
	return b
}

var knownUpdaters = []ir.Updater{ir.UpdSGD, ir.UpdMomentum, ir.UpdNesterov, ir.UpdAdam, ir.UpdAdamW,
	ir.UpdRMSProp, ir.UpdAdaGrad, ir.UpdAdaDelta}

// checkTrainConfig reports every out-of-range field of a training config.
func checkTrainConfig(c *ir.TrainConfig) error {
	var probs []error
	bad := func(format string, args ...any) { probs = append(probs, fmt.Errorf(format, args...)) }
	if c.Updater != "" {
		ok := false
		for _, u := range knownUpdaters {
			ok = ok || u == c.Updater
		}
		if !ok {
			bad("unknown updater %q (known: %v)", c.Updater, knownUpdaters)
		}
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"learning_rate", c.LearningRate}, {"momentum", c.Momentum}, {"epsilon", c.Epsilon},
		{"weight_decay", c.WeightDecay}, {"l1", c.L1}, {"l2", c.L2}, {"clip_value", c.ClipValue}, {"clip_norm", c.ClipNorm}} {
		if f.v < 0 {
			bad("%s must not be negative, got %g", f.name, f.v)
		}
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"beta1", c.Beta1}, {"beta2", c.Beta2}, {"rho", c.Rho}} {
		if f.v < 0 || f.v >= 1 {
			bad("%s must be in [0, 1), got %g", f.name, f.v)
		}
	}
	if c.Dropout != nil && (*c.Dropout < 0 || *c.Dropout >= 1) {
		bad("dropout must be in [0, 1), got %g", *c.Dropout)
	}
	switch c.Schedule.Kind {
	case "", "step", "exponential", "cosine":
	default:
		bad("unknown schedule %q (known: step, exponential, cosine)", c.Schedule.Kind)
	}
	if c.Schedule.Kind == "step" && c.Schedule.Every <= 0 {
		bad("a step schedule needs every > 0")
	}
	if c.Schedule.Kind == "cosine" && c.Schedule.Steps <= 0 {
		bad("a cosine schedule needs steps > 0")
	}
	if len(probs) > 0 {
		return &ir.ValidationError{Problems: probs}
	}
	return nil
}
