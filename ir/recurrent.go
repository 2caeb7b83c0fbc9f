package ir

import (
	"encoding/json"
	"fmt"
)

// Recurrent layers take [T, F] and give [T, Units] (ReturnSequences) or
// [Units]. Gates are concatenated along the last axis of W [F, G*Units],
// R [Units, G*Units] and b [G*Units] in Keras order:
//   SimpleRNN (G=1); LSTM (G=4) i, f, c, o; GRU (G=3) z, r, h.
// GoBackwards reads the sequence from the end (and, as Keras, returns the
// outputs in that reversed order).

// SimpleRNN: h = act(x·W + h·R + b).
type SimpleRNN struct {
	Units           int        `json:"units"`
	Activation      Activation `json:"activation"`
	ReturnSequences bool       `json:"return_sequences,omitempty"`
	GoBackwards     bool       `json:"go_backwards,omitempty"`
	NoBias          bool       `json:"no_bias,omitempty"`
}

func (*SimpleRNN) Kind() string        { return "SimpleRNN" }
func (r *SimpleRNN) OutUnits() int     { return r.Units }
func (r *SimpleRNN) SetOutUnits(n int) { r.Units = n }
func (r *SimpleRNN) OutputShape(in [][]int) ([]int, error) {
	return rnnShape("SimpleRNN", r.Units, r.ReturnSequences, in)
}
func (r *SimpleRNN) Params(in [][]int) []ParamSpec {
	return rnnParams(in, r.Units, 1, !r.NoBias, false)
}

// LSTM with Keras gates; Peephole adds the Graves connections P [3*Units]
// (input, forget, output gates looking at the cell state).
type LSTM struct {
	Units               int        `json:"units"`
	Activation          Activation `json:"activation"`           // default tanh
	RecurrentActivation Activation `json:"recurrent_activation"` // default sigmoid
	ReturnSequences     bool       `json:"return_sequences,omitempty"`
	GoBackwards         bool       `json:"go_backwards,omitempty"`
	Peephole            bool       `json:"peephole,omitempty"`
	NoBias              bool       `json:"no_bias,omitempty"`
	UnitForgetBias      bool       `json:"unit_forget_bias,omitempty"` // init forget bias to 1
}

func (*LSTM) Kind() string        { return "LSTM" }
func (r *LSTM) OutUnits() int     { return r.Units }
func (r *LSTM) SetOutUnits(n int) { r.Units = n }
func (r *LSTM) OutputShape(in [][]int) ([]int, error) {
	return rnnShape("LSTM", r.Units, r.ReturnSequences, in)
}
func (r *LSTM) Params(in [][]int) []ParamSpec {
	ps := rnnParams(in, r.Units, 4, !r.NoBias, false)
	if r.Peephole && ps != nil {
		ps = append(ps, spec("P", RoleRecurrent, r.Units, r.Units, 3*r.Units))
	}
	return ps
}

// GRU with Keras gates. ResetAfter (Keras 2.x default, CuDNN/ONNX
// linear_before_reset=1) applies the reset gate after the recurrent matmul
// and has b [2, 3*Units] (input bias row, recurrent bias row).
type GRU struct {
	Units               int        `json:"units"`
	Activation          Activation `json:"activation"`
	RecurrentActivation Activation `json:"recurrent_activation"`
	ReturnSequences     bool       `json:"return_sequences,omitempty"`
	GoBackwards         bool       `json:"go_backwards,omitempty"`
	ResetAfter          bool       `json:"reset_after"` // always written: the default is true
	NoBias              bool       `json:"no_bias,omitempty"`
}

func (*GRU) Kind() string        { return "GRU" }
func (r *GRU) OutUnits() int     { return r.Units }
func (r *GRU) SetOutUnits(n int) { r.Units = n }
func (r *GRU) OutputShape(in [][]int) ([]int, error) {
	return rnnShape("GRU", r.Units, r.ReturnSequences, in)
}
func (r *GRU) Params(in [][]int) []ParamSpec {
	return rnnParams(in, r.Units, 3, !r.NoBias, r.ResetAfter)
}

func rnnShape(kind string, units int, seq bool, in [][]int) ([]int, error) {
	if err := needOne(in, 2, kind); err != nil {
		return nil, err
	}
	if units <= 0 {
		return nil, fmt.Errorf("%s units must be positive", kind)
	}
	if in[0][1] <= 0 {
		return nil, fmt.Errorf("%s needs a known feature size, got %v", kind, in[0])
	}
	if seq {
		return []int{in[0][0], units}, nil
	}
	return []int{units}, nil
}

func rnnParams(in [][]int, units, gates int, bias, twoBias bool) []ParamSpec {
	if len(in) != 1 || len(in[0]) != 2 {
		return nil
	}
	f := in[0][1]
	ps := []ParamSpec{
		spec("W", RoleWeight, f, gates*units, f, gates*units),
		spec("R", RoleRecurrent, units, gates*units, units, gates*units),
	}
	if bias && twoBias {
		ps = append(ps, spec("b", RoleBias, 0, 0, 2, gates*units))
	} else if bias {
		ps = append(ps, spec("b", RoleBias, 0, 0, gates*units))
	}
	return ps
}

// BiMerge is how Bidirectional combines its two directions.
type BiMerge string

const (
	BiConcat  BiMerge = "concat"
	BiSum     BiMerge = "sum"
	BiMul     BiMerge = "mul"
	BiAverage BiMerge = "ave"
)

// Bidirectional runs Layer forwards (params "fw/<name>") and backwards
// ("bw/<name>") and merges the results. With ReturnSequences the backward
// outputs are re-reversed to line up with the forward ones, as Keras does.
type Bidirectional struct {
	Layer Layer   `json:"-"`
	Merge BiMerge `json:"merge"`
}

func (*Bidirectional) Kind() string { return "Bidirectional" }

// OutUnits is the inner layer's units (each direction).
func (b *Bidirectional) OutUnits() int {
	if s, ok := b.Layer.(Sized); ok {
		return s.OutUnits()
	}
	return 0
}

// SetOutUnits resizes both directions.
func (b *Bidirectional) SetOutUnits(n int) {
	if s, ok := b.Layer.(Sized); ok {
		s.SetOutUnits(n)
	}
}

func (b *Bidirectional) OutputShape(in [][]int) ([]int, error) {
	switch b.Layer.(type) {
	case *SimpleRNN, *LSTM, *GRU:
	default:
		return nil, fmt.Errorf("Bidirectional needs a SimpleRNN, LSTM or GRU inside")
	}
	out, err := b.Layer.OutputShape(in)
	if err != nil {
		return nil, err
	}
	switch b.Merge {
	case BiConcat:
		out[len(out)-1] *= 2
	case BiSum, BiMul, BiAverage:
	default:
		return nil, fmt.Errorf("Bidirectional merge %q", b.Merge)
	}
	return out, nil
}

func (b *Bidirectional) Params(in [][]int) []ParamSpec {
	if b.Layer == nil {
		return nil
	}
	var ps []ParamSpec
	for _, dir := range []string{"fw/", "bw/"} {
		for _, p := range b.Layer.Params(in) {
			p.Name = dir + p.Name
			ps = append(ps, p)
		}
	}
	return ps
}

func (b *Bidirectional) MarshalJSON() ([]byte, error) {
	var inner json.RawMessage
	if b.Layer != nil {
		m, err := MarshalLayer(b.Layer)
		if err != nil {
			return nil, err
		}
		inner = m
	}
	return json.Marshal(struct {
		Layer json.RawMessage `json:"layer,omitempty"`
		Merge BiMerge         `json:"merge"`
	}{inner, b.Merge})
}

func (b *Bidirectional) UnmarshalJSON(data []byte) error {
	var raw struct {
		Layer json.RawMessage `json:"layer"`
		Merge BiMerge         `json:"merge"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	b.Merge = raw.Merge
	if len(raw.Layer) > 0 {
		l, err := UnmarshalLayer(raw.Layer)
		if err != nil {
			return err
		}
		if _, nested := l.(*Bidirectional); nested {
			return fmt.Errorf("Bidirectional inside Bidirectional")
		}
		b.Layer = l
	}
	return nil
}

// LastTimeStep turns [T, F] into [F]: the last step (the last unmasked one
// when a mask is present).
type LastTimeStep struct{}

func (*LastTimeStep) Kind() string { return "LastTimeStep" }
func (*LastTimeStep) OutputShape(in [][]int) ([]int, error) {
	if err := need(in, 1, "LastTimeStep"); err != nil {
		return nil, err
	}
	if len(in[0]) < 2 {
		return nil, fmt.Errorf("LastTimeStep needs [T, ...], got %v", in[0])
	}
	return append([]int(nil), in[0][1:]...), nil
}
func (*LastTimeStep) Params([][]int) []ParamSpec { return nil }

func init() {
	Register("SimpleRNN", func() Layer { return &SimpleRNN{Activation: Act(ActTanh)} })
	Register("LSTM", func() Layer { return &LSTM{Activation: Act(ActTanh), RecurrentActivation: Act(ActSigmoid)} })
	Register("GRU", func() Layer {
		return &GRU{Activation: Act(ActTanh), RecurrentActivation: Act(ActSigmoid), ResetAfter: true}
	})
	Register("Bidirectional", func() Layer { return &Bidirectional{Merge: BiConcat} })
	Register("LastTimeStep", func() Layer { return &LastTimeStep{} })
}
