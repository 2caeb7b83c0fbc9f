package ir

import "fmt"

// BatchNorm normalises over axis 0 of the tensor without batch (channels for
// [C, H, W] and [C, W]; features for [F]; for sequences [T, F] use Axis 1).
// Params gamma, beta (trainable), mean, var (running statistics).
type BatchNorm struct {
	Epsilon  float32 `json:"epsilon"`
	Momentum float32 `json:"momentum"` // running = momentum*running + (1-momentum)*batch (Keras convention)
	Axis     int     `json:"axis,omitempty"`
	NoScale  bool    `json:"no_scale,omitempty"`  // gamma fixed at 1 (Keras scale=False)
	NoCenter bool    `json:"no_center,omitempty"` // beta fixed at 0 (Keras center=False)
}

func (*BatchNorm) Kind() string { return "BatchNorm" }

// Channels is the size of the normalised axis.
func (b *BatchNorm) Channels(in []int) int {
	if b.Axis < 0 || b.Axis >= len(in) {
		return -1
	}
	return in[b.Axis]
}

func (b *BatchNorm) OutputShape(in [][]int) ([]int, error) {
	if err := need(in, 1, "BatchNorm"); err != nil {
		return nil, err
	}
	if b.Channels(in[0]) <= 0 {
		return nil, fmt.Errorf("BatchNorm axis %d is not a known axis of shape %v", b.Axis, in[0])
	}
	return append([]int(nil), in[0]...), nil
}

func (b *BatchNorm) Params(in [][]int) []ParamSpec {
	if len(in) != 1 {
		return nil
	}
	c := b.Channels(in[0])
	return []ParamSpec{
		spec("gamma", RoleGamma, 0, 0, c), spec("beta", RoleBeta, 0, 0, c),
		spec("mean", RoleStat, 0, 0, c), spec("var", RoleStat, 0, 0, c),
	}
}

// LayerNorm normalises over the trailing axes from Axis (of the tensor
// without batch; negative counts from the end) with gamma/beta of their shape.
type LayerNorm struct {
	Epsilon  float32 `json:"epsilon"`
	Axis     int     `json:"axis"`
	NoScale  bool    `json:"no_scale,omitempty"`
	NoCenter bool    `json:"no_center,omitempty"`
}

func (*LayerNorm) Kind() string { return "LayerNorm" }

// NormShape is the shape of the normalised trailing axes.
func (l *LayerNorm) NormShape(in []int) []int {
	a := l.Axis
	if a < 0 {
		a += len(in)
	}
	if a < 0 || a >= len(in) {
		return nil
	}
	return in[a:]
}

func (l *LayerNorm) OutputShape(in [][]int) ([]int, error) {
	if err := need(in, 1, "LayerNorm"); err != nil {
		return nil, err
	}
	ns := l.NormShape(in[0])
	if ns == nil {
		return nil, fmt.Errorf("LayerNorm axis %d out of range for %v", l.Axis, in[0])
	}
	for _, d := range ns {
		if d < 0 {
			return nil, fmt.Errorf("LayerNorm needs known normalised axes, got %v", in[0])
		}
	}
	return append([]int(nil), in[0]...), nil
}

func (l *LayerNorm) Params(in [][]int) []ParamSpec {
	if len(in) != 1 {
		return nil
	}
	ns := l.NormShape(in[0])
	return []ParamSpec{spec("gamma", RoleGamma, 0, 0, ns...), spec("beta", RoleBeta, 0, 0, ns...)}
}

func init() {
	Register("BatchNorm", func() Layer { return &BatchNorm{Epsilon: 1e-3, Momentum: 0.99} })
	Register("LayerNorm", func() Layer { return &LayerNorm{Epsilon: 1e-3, Axis: -1} })
}

// InstanceNorm normalises each example's channels (axis 0 of [C, spatial...])
// over their spatial axes with biased variance, then scales and shifts per
// channel: ONNX InstanceNormalization, PyTorch InstanceNorm with affine and
// without running statistics.
type InstanceNorm struct {
	Epsilon float32 `json:"epsilon"`
}

func (*InstanceNorm) Kind() string { return "InstanceNorm" }

func (l *InstanceNorm) OutputShape(in [][]int) ([]int, error) {
	if err := need(in, 1, "InstanceNorm"); err != nil {
		return nil, err
	}
	if len(in[0]) < 2 || in[0][0] <= 0 {
		return nil, fmt.Errorf("InstanceNorm needs [channels, spatial...] with known channels, got %v", in[0])
	}
	if l.Epsilon < 0 {
		return nil, fmt.Errorf("InstanceNorm epsilon %v is negative", l.Epsilon)
	}
	return append([]int(nil), in[0]...), nil
}

func (l *InstanceNorm) Params(in [][]int) []ParamSpec {
	if len(in) != 1 || len(in[0]) < 2 {
		return nil
	}
	c := in[0][0]
	return []ParamSpec{spec("gamma", RoleGamma, 0, 0, c), spec("beta", RoleBeta, 0, 0, c)}
}

func init() {
	Register("InstanceNorm", func() Layer { return &InstanceNorm{Epsilon: 1e-5} })
}
