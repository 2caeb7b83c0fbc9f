package ir

// Updater names an optimisation algorithm.
type Updater string

const (
	UpdSGD      Updater = "sgd"
	UpdMomentum Updater = "momentum"
	UpdNesterov Updater = "nesterov"
	UpdAdam     Updater = "adam"
	UpdAdamW    Updater = "adamw"
	UpdRMSProp  Updater = "rmsprop"
	UpdAdaGrad  Updater = "adagrad"
	UpdAdaDelta Updater = "adadelta"
)

// Schedule is a learning-rate schedule: lr(step).
type Schedule struct {
	Kind  string  `json:"kind,omitempty" yaml:"kind,omitempty"`   // "", "step", "exponential", "cosine"
	Every int     `json:"every,omitempty" yaml:"every,omitempty"` // step: decay every N steps
	Gamma float64 `json:"gamma,omitempty" yaml:"gamma,omitempty"` // step/exponential factor
	Steps int     `json:"steps,omitempty" yaml:"steps,omitempty"` // cosine: period
	MinLR float64 `json:"min_lr,omitempty" yaml:"min_lr,omitempty"`
}

// TrainConfig is the training configuration of a graph or, as an override,
// of one vertex. Zero fields in an override inherit the graph's value; use
// pointers' presence via the Set* flags where zero is meaningful.
type TrainConfig struct {
	Updater      Updater  `json:"updater,omitempty" yaml:"updater,omitempty"`
	LearningRate float64  `json:"learning_rate,omitempty" yaml:"learning_rate,omitempty"`
	Momentum     float64  `json:"momentum,omitempty" yaml:"momentum,omitempty"`
	Beta1        float64  `json:"beta1,omitempty" yaml:"beta1,omitempty"`
	Beta2        float64  `json:"beta2,omitempty" yaml:"beta2,omitempty"`
	Epsilon      float64  `json:"epsilon,omitempty" yaml:"epsilon,omitempty"`
	Rho          float64  `json:"rho,omitempty" yaml:"rho,omitempty"` // RMSProp/AdaDelta decay
	WeightDecay  float64  `json:"weight_decay,omitempty" yaml:"weight_decay,omitempty"`
	L1           float64  `json:"l1,omitempty" yaml:"l1,omitempty"`
	L2           float64  `json:"l2,omitempty" yaml:"l2,omitempty"`
	Dropout      *float64 `json:"dropout,omitempty" yaml:"dropout,omitempty"` // overrides every Dropout rate when set
	ClipValue    float64  `json:"clip_value,omitempty" yaml:"clip_value,omitempty"`
	ClipNorm     float64  `json:"clip_norm,omitempty" yaml:"clip_norm,omitempty"`
	Schedule     Schedule `json:"schedule,omitempty" yaml:"schedule,omitempty"`
	Seed         int64    `json:"seed,omitempty" yaml:"seed,omitempty"`
}

// Clone copies a config (nil stays nil).
func (c *TrainConfig) Clone() *TrainConfig {
	if c == nil {
		return nil
	}
	d := *c
	if c.Dropout != nil {
		v := *c.Dropout
		d.Dropout = &v
	}
	return &d
}

// Merged returns c with every zero field taken from base.
func (c *TrainConfig) Merged(base *TrainConfig) *TrainConfig {
	if c == nil {
		return base.Clone()
	}
	if base == nil {
		return c.Clone()
	}
	m := c.Clone()
	if m.Updater == "" {
		m.Updater = base.Updater
	}
	f := func(dst *float64, src float64) {
		if *dst == 0 {
			*dst = src
		}
	}
	f(&m.LearningRate, base.LearningRate)
	f(&m.Momentum, base.Momentum)
	f(&m.Beta1, base.Beta1)
	f(&m.Beta2, base.Beta2)
	f(&m.Epsilon, base.Epsilon)
	f(&m.Rho, base.Rho)
	f(&m.WeightDecay, base.WeightDecay)
	f(&m.L1, base.L1)
	f(&m.L2, base.L2)
	f(&m.ClipValue, base.ClipValue)
	f(&m.ClipNorm, base.ClipNorm)
	if m.Dropout == nil && base.Dropout != nil {
		v := *base.Dropout
		m.Dropout = &v
	}
	if m.Schedule.Kind == "" {
		m.Schedule = base.Schedule
	}
	if m.Seed == 0 {
		m.Seed = base.Seed
	}
	return m
}
