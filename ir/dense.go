package ir

import (
	"fmt"
	"math"
)

// Dense is a fully connected layer on the last axis: y = act(x·W + b),
// W has shape [in, units] (Keras layout), b [units]. Inputs of higher rank
// (e.g. sequences [T, F]) are transformed per position, as Keras Dense and
// TimeDistributed(Dense) do.
type Dense struct {
	Units      int        `json:"units"`
	Activation Activation `json:"activation"`
	NoBias     bool       `json:"no_bias,omitempty"`
}

func (*Dense) Kind() string        { return "Dense" }
func (d *Dense) OutUnits() int     { return d.Units }
func (d *Dense) SetOutUnits(n int) { d.Units = n }

func (d *Dense) OutputShape(in [][]int) ([]int, error) {
	return denseShape("Dense", d.Units, d.Activation, in)
}

func (d *Dense) Params(in [][]int) []ParamSpec { return denseParams(d.Units, !d.NoBias, in) }

func denseShape(kind string, units int, act Activation, in [][]int) ([]int, error) {
	if err := need(in, 1, kind); err != nil {
		return nil, err
	}
	if len(in[0]) == 0 {
		return nil, fmt.Errorf("%s needs at least a rank-1 input", kind)
	}
	if units <= 0 {
		return nil, fmt.Errorf("%s units must be positive, got %d", kind, units)
	}
	if lastDim(in[0]) <= 0 {
		return nil, fmt.Errorf("%s needs a known input size, got shape %v", kind, in[0])
	}
	if err := act.validate(); err != nil {
		return nil, err
	}
	out := append([]int(nil), in[0]...)
	out[len(out)-1] = units
	return out, nil
}

func denseParams(units int, bias bool, in [][]int) []ParamSpec {
	if len(in) != 1 || len(in[0]) == 0 {
		return nil
	}
	nIn := lastDim(in[0])
	ps := []ParamSpec{spec("W", RoleWeight, nIn, units, nIn, units)}
	if bias {
		ps = append(ps, spec("b", RoleBias, nIn, units, units))
	}
	return ps
}

// Output is the loss-bearing output layer: a Dense with its activation and
// the loss used to train it. FromLogits marks an identity activation whose
// loss applies softmax/sigmoid itself (ONNX models exported without Softmax).
type Output struct {
	Units      int        `json:"units"`
	Activation Activation `json:"activation"`
	Loss       Loss       `json:"loss"`
	FromLogits bool       `json:"from_logits,omitempty"`
	NoBias     bool       `json:"no_bias,omitempty"`
	// LossWeight scales this output's loss in the total a fit minimises
	// (Keras loss_weights); 0 means 1.
	LossWeight float64 `json:"loss_weight,omitempty"`
}

func (*Output) Kind() string        { return "Output" }
func (o *Output) OutUnits() int     { return o.Units }
func (o *Output) SetOutUnits(n int) { o.Units = n }

func (o *Output) OutputShape(in [][]int) ([]int, error) {
	if err := o.Loss.validate(); err != nil {
		return nil, err
	}
	if err := checkLossWeight(o.LossWeight); err != nil {
		return nil, err
	}
	return denseShape("Output", o.Units, o.Activation, in)
}

func (o *Output) Params(in [][]int) []ParamSpec { return denseParams(o.Units, !o.NoBias, in) }

// RnnOutput is the per-time-step output layer of a recurrent network: input
// [T, F], output [T, Units]; the loss is averaged over unmasked steps.
type RnnOutput struct {
	Units      int        `json:"units"`
	Activation Activation `json:"activation"`
	Loss       Loss       `json:"loss"`
	FromLogits bool       `json:"from_logits,omitempty"`
	NoBias     bool       `json:"no_bias,omitempty"`
	LossWeight float64    `json:"loss_weight,omitempty"` // as Output's
}

func (*RnnOutput) Kind() string        { return "RnnOutput" }
func (o *RnnOutput) OutUnits() int     { return o.Units }
func (o *RnnOutput) SetOutUnits(n int) { o.Units = n }

func (o *RnnOutput) OutputShape(in [][]int) ([]int, error) {
	if err := o.Loss.validate(); err != nil {
		return nil, err
	}
	if err := checkLossWeight(o.LossWeight); err != nil {
		return nil, err
	}
	if len(in) == 1 {
		if err := needRank(in[0], 2, "RnnOutput"); err != nil {
			return nil, err
		}
	}
	return denseShape("RnnOutput", o.Units, o.Activation, in)
}

func (o *RnnOutput) Params(in [][]int) []ParamSpec { return denseParams(o.Units, !o.NoBias, in) }

func checkLossWeight(w float64) error {
	if w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
		return fmt.Errorf("loss weight %v: give a finite number ≥ 0", w)
	}
	return nil
}

// IsOutputLayer reports whether a layer carries a loss.
func IsOutputLayer(l Layer) bool {
	switch l.(type) {
	case *Output, *RnnOutput:
		return true
	}
	return false
}

// LossWeightOf is the weight of an output layer's loss in the total (1
// unless set; 0 for a layer without a loss).
func LossWeightOf(l Layer) float64 {
	w := 0.0
	switch o := l.(type) {
	case *Output:
		w = o.LossWeight
	case *RnnOutput:
		w = o.LossWeight
	default:
		return 0
	}
	if w == 0 {
		return 1
	}
	return w
}

// SetLossWeight sets the loss weight of an output layer (1 is stored as
// unset); it reports false for a layer without a loss.
func SetLossWeight(l Layer, w float64) bool {
	if w == 1 {
		w = 0
	}
	switch o := l.(type) {
	case *Output:
		o.LossWeight = w
	case *RnnOutput:
		o.LossWeight = w
	default:
		return false
	}
	return true
}

// LossOf returns the loss of an output layer.
func LossOf(l Layer) (Loss, bool) {
	switch o := l.(type) {
	case *Output:
		return o.Loss, true
	case *RnnOutput:
		return o.Loss, true
	}
	return "", false
}

// Embedding maps integer indices (stored as float32) to rows of a table
// [InputDim, OutputDim]. Input [T] gives [T, OutputDim]; input [T, 1] too.
type Embedding struct {
	InputDim  int `json:"input_dim"`
	OutputDim int `json:"output_dim"`
	// MaskZero marks index 0 as padding (Keras mask_zero): the output
	// carries the sequence mask (index ≠ 0) that recurrent layers, attention
	// and average pooling honour.
	MaskZero bool `json:"mask_zero,omitempty"`
}

func (*Embedding) Kind() string        { return "Embedding" }
func (e *Embedding) OutUnits() int     { return e.OutputDim }
func (e *Embedding) SetOutUnits(n int) { e.OutputDim = n }

func (e *Embedding) OutputShape(in [][]int) ([]int, error) {
	if err := need(in, 1, "Embedding"); err != nil {
		return nil, err
	}
	if e.InputDim <= 0 || e.OutputDim <= 0 {
		return nil, fmt.Errorf("Embedding needs positive input_dim and output_dim")
	}
	s := in[0]
	if len(s) == 2 && s[1] == 1 {
		s = s[:1]
	}
	return append(append([]int(nil), s...), e.OutputDim), nil
}

func (e *Embedding) Params(in [][]int) []ParamSpec {
	return []ParamSpec{spec("W", RoleEmbedding, e.InputDim, e.OutputDim, e.InputDim, e.OutputDim)}
}

func init() {
	Register("Dense", func() Layer { return &Dense{} })
	Register("Output", func() Layer { return &Output{} })
	Register("RnnOutput", func() Layer { return &RnnOutput{} })
	Register("Embedding", func() Layer { return &Embedding{} })
}
