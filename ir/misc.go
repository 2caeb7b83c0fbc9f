package ir

import "fmt"

func same(kind string, in [][]int) ([]int, error) {
	if err := need(in, 1, kind); err != nil {
		return nil, err
	}
	return append([]int(nil), in[0]...), nil
}

// Dropout is inverted dropout: active in training only. Spatial drops whole
// channels (Keras SpatialDropout). Noise layers that are identity at inference
// (GaussianNoise, GaussianDropout, AlphaDropout) import as Dropout with Rate 0
// and their name kept.
type Dropout struct {
	Rate    float32 `json:"rate"`
	Spatial bool    `json:"spatial,omitempty"`
}

func (*Dropout) Kind() string                            { return "Dropout" }
func (d *Dropout) OutputShape(in [][]int) ([]int, error) { return same("Dropout", in) }
func (*Dropout) Params([][]int) []ParamSpec              { return nil }

// ActivationLayer applies an activation on its own.
type ActivationLayer struct {
	Activation Activation `json:"activation"`
}

func (*ActivationLayer) Kind() string { return "Activation" }
func (a *ActivationLayer) OutputShape(in [][]int) ([]int, error) {
	if err := a.Activation.validate(); err != nil {
		return nil, err
	}
	return same("Activation", in)
}
func (*ActivationLayer) Params([][]int) []ParamSpec { return nil }

// PReLU: y = x if x > 0 else alpha*x, alpha learned with the input's shape,
// except SharedAxes (indices into the shape without batch) where it has size 1.
type PReLU struct {
	SharedAxes []int `json:"shared_axes,omitempty"`
}

func (*PReLU) Kind() string                            { return "PReLU" }
func (p *PReLU) OutputShape(in [][]int) ([]int, error) { return same("PReLU", in) }

// AlphaShape is the shape of alpha for an input shape.
func (p *PReLU) AlphaShape(in []int) []int {
	s := append([]int(nil), in...)
	for _, a := range p.SharedAxes {
		if a >= 0 && a < len(s) {
			s[a] = 1
		}
	}
	return s
}

func (p *PReLU) Params(in [][]int) []ParamSpec {
	if len(in) != 1 {
		return nil
	}
	return []ParamSpec{spec("alpha", RoleAlpha, 0, 0, p.AlphaShape(in[0])...)}
}

// Rescaling: y = x*Scale + Offset.
type Rescaling struct {
	Scale  float32 `json:"scale"`
	Offset float32 `json:"offset"`
}

func (*Rescaling) Kind() string                            { return "Rescaling" }
func (r *Rescaling) OutputShape(in [][]int) ([]int, error) { return same("Rescaling", in) }
func (*Rescaling) Params([][]int) []ParamSpec              { return nil }

// UnaryOp names an element-wise function without parameters.
type UnaryOp string

const (
	UnarySqrt       UnaryOp = "sqrt"
	UnaryExp        UnaryOp = "exp"
	UnaryLog        UnaryOp = "log"
	UnaryNeg        UnaryOp = "neg"
	UnaryAbs        UnaryOp = "abs"
	UnaryErf        UnaryOp = "erf"
	UnaryReciprocal UnaryOp = "reciprocal"
	UnarySquare     UnaryOp = "square"
	UnaryPow        UnaryOp = "pow" // x^Exponent
)

// Unary applies an element-wise function.
type Unary struct {
	Op       UnaryOp `json:"op"`
	Exponent float32 `json:"exponent,omitempty"`
}

func (*Unary) Kind() string { return "Unary" }
func (u *Unary) OutputShape(in [][]int) ([]int, error) {
	switch u.Op {
	case UnarySqrt, UnaryExp, UnaryLog, UnaryNeg, UnaryAbs, UnaryErf, UnaryReciprocal, UnarySquare, UnaryPow:
	default:
		return nil, fmt.Errorf("unknown unary op %q", u.Op)
	}
	return same("Unary", in)
}
func (*Unary) Params([][]int) []ParamSpec { return nil }

// Constant outputs a fixed tensor (param "value", shape without batch,
// broadcast over the batch). It takes no inputs.
//
// Trainable makes the value a learned parameter used as it is (a ViT class
// token, a position embedding); otherwise it is fixed.
type Constant struct {
	Shape     []int `json:"shape"`
	Trainable bool  `json:"trainable,omitempty"`
}

func (*Constant) Kind() string { return "Constant" }
func (c *Constant) OutputShape(in [][]int) ([]int, error) {
	if len(in) != 0 {
		return nil, fmt.Errorf("Constant takes no inputs")
	}
	return append([]int(nil), c.Shape...), nil
}
func (c *Constant) Params([][]int) []ParamSpec {
	if c.Trainable {
		return []ParamSpec{spec("value", RoleLearned, 0, 0, c.Shape...)}
	}
	return []ParamSpec{spec("value", RoleConst, 0, 0, c.Shape...)}
}

// Masking marks time steps whose features all equal Value as padding:
// the engine carries the mask to recurrent layers and losses.
type Masking struct {
	Value float32 `json:"value"`
}

func (*Masking) Kind() string                            { return "Masking" }
func (m *Masking) OutputShape(in [][]int) ([]int, error) { return same("Masking", in) }
func (*Masking) Params([][]int) []ParamSpec              { return nil }

func init() {
	Register("Dropout", func() Layer { return &Dropout{} })
	Register("Activation", func() Layer { return &ActivationLayer{} })
	Register("PReLU", func() Layer { return &PReLU{} })
	Register("Rescaling", func() Layer { return &Rescaling{Scale: 1} })
	Register("Unary", func() Layer { return &Unary{} })
	Register("Constant", func() Layer { return &Constant{} })
	Register("Masking", func() Layer { return &Masking{} })
}
