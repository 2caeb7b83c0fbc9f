package nn

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

func init() {
	RegisterOp("SimpleRNN", newRecurrent[float32], newRecurrent[float64])
	RegisterOp("LSTM", newRecurrent[float32], newRecurrent[float64])
	RegisterOp("GRU", newRecurrent[float32], newRecurrent[float64])
}

// recurrentOp is a compiled SimpleRNN, LSTM or GRU.
//
// Masks: the op reads the (batch, T) mask in Pass.Mask on entry and leaves
// it for the next op when it returns sequences; with only the last step it
// clears Pass.Mask, since its output has no time axis (Keras does not
// propagate the mask past such a layer).
type recurrentOp[F Float] struct {
	seq *rnnSeq[F]
	y   *Mat[F]
	dx  [1]*Mat[F]
	err error
}

func newRecurrent[F Float](v *ir.Vertex, in [][]int, out []int, params *Params[F]) (Op[F], error) {
	if len(in) != 1 || len(in[0]) != 2 {
		return nil, fmt.Errorf("%s needs one [time, features] input, got %v", v.Layer.Kind(), in)
	}
	seq, err := newRnnSeq(v.Layer, in[0][1], params, "", false)
	if err != nil {
		return nil, err
	}
	return &recurrentOp[F]{seq: seq}, nil
}

func (o *recurrentOp[F]) Err() error { return o.err }

func (o *recurrentOp[F]) SkipInputGrads(need []bool) { o.seq.skipDx = !need[0] }

func (o *recurrentOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	mask := p.Mask
	if o.err = o.seq.checkInput(in[0], mask); o.err != nil {
		return rnnEmptyOut(in[0], o.seq)
	}
	o.y = outBuf(p, o.y, o.seq.outShape(in[0].Shape[0], in[0].Shape[1])...)
	o.seq.forward(in[0], mask, o.y)
	if !o.seq.seqOut {
		p.Mask = nil
	}
	return o.y
}

func (o *recurrentOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	o.dx[0] = o.seq.backwardPass(dOut)
	return o.dx[:]
}

// rnnEmptyOut is the zero output returned alongside an error, shaped as far
// as the bad input allows so that nothing downstream indexes out of range
// before the network sees the error.
func rnnEmptyOut[F Float](x *Mat[F], s *rnnSeq[F]) *Mat[F] {
	n, t := 0, 0
	if len(x.Shape) > 0 {
		n = x.Shape[0]
	}
	if len(x.Shape) > 1 {
		t = x.Shape[1]
	}
	if s.seqOut {
		return NewMat[F](n, t, s.units)
	}
	return NewMat[F](n, s.units)
}

// newRnnSeq compiles a recurrent layer config. prefix selects the
// parameter names ("fw/" and "bw/" inside Bidirectional); flip inverts
// GoBackwards (the backward direction of Bidirectional).
func newRnnSeq[F Float](l ir.Layer, feat int, params *Params[F], prefix string, flip bool) (*rnnSeq[F], error) {
	pm := func(name string, shape ...int) (*Mat[F], *Mat[F], error) {
		v := params.Values[prefix+name]
		if v == nil {
			return nil, nil, fmt.Errorf("parameter %q is missing", prefix+name)
		}
		if !ir.SameShape(v.Shape, shape) || len(v.Data) != ir.NumElements(shape) {
			return nil, nil, fmt.Errorf("parameter %q has shape %v, want %v", prefix+name, v.Shape, shape)
		}
		g := params.Grads[prefix+name]
		// shapes only: Compile allocates gradient buffers at the first Backward
		if g != nil && !ir.SameShape(g.Shape, v.Shape) {
			return nil, nil, fmt.Errorf("gradient of %q has shape %v, want %v", prefix+name, g.Shape, v.Shape)
		}
		return v, g, nil
	}
	var (
		cell      rnnCell[F]
		units     int
		seqOut    bool
		backwards bool
		bias      bool
		twoBias   bool
	)
	switch c := l.(type) {
	case *ir.SimpleRNN:
		act, err := rnnCellAct[F](c.Activation)
		if err != nil {
			return nil, err
		}
		sc := &rnnSimpleCell[F]{u: c.Units, act: act}
		if sc.r, sc.gr, err = pm("R", c.Units, c.Units); err != nil {
			return nil, err
		}
		cell, units, seqOut, backwards, bias = sc, c.Units, c.ReturnSequences, c.GoBackwards, !c.NoBias
	case *ir.LSTM:
		act, rec, err := rnnGateActs[F](c.Activation, c.RecurrentActivation)
		if err != nil {
			return nil, err
		}
		lc := &rnnLSTMCell[F]{u: c.Units, act: act, rec: rec}
		if lc.r, lc.gr, err = pm("R", c.Units, 4*c.Units); err != nil {
			return nil, err
		}
		if c.Peephole {
			if lc.p, lc.gp, err = pm("P", 3*c.Units); err != nil {
				return nil, err
			}
		}
		cell, units, seqOut, backwards, bias = lc, c.Units, c.ReturnSequences, c.GoBackwards, !c.NoBias
	case *ir.GRU:
		act, rec, err := rnnGateActs[F](c.Activation, c.RecurrentActivation)
		if err != nil {
			return nil, err
		}
		gc := &rnnGRUCell[F]{u: c.Units, resetAfter: c.ResetAfter, act: act, rec: rec}
		if gc.r, gc.gr, err = pm("R", c.Units, 3*c.Units); err != nil {
			return nil, err
		}
		cell, units, seqOut, backwards, bias = gc, c.Units, c.ReturnSequences, c.GoBackwards, !c.NoBias
		twoBias = c.ResetAfter
	default:
		return nil, fmt.Errorf("layer kind %q is not a recurrent layer", l.Kind())
	}
	if units <= 0 || feat <= 0 {
		return nil, fmt.Errorf("%s needs positive units and a known feature size (units %d, features %d)", l.Kind(), units, feat)
	}
	s := &rnnSeq[F]{cell: cell, feat: feat, units: units, seqOut: seqOut, backward: backwards != flip}
	gu := cell.gates() * units
	var err error
	if s.w, s.gw, err = pm("W", feat, gu); err != nil {
		return nil, err
	}
	if bias && twoBias {
		if s.b, s.gb, err = pm("b", 2, gu); err != nil {
			return nil, err
		}
		gc := cell.(*rnnGRUCell[F])
		gc.br, gc.gb = s.b.Data[gu:], s.gb
	} else if bias {
		if s.b, s.gb, err = pm("b", gu); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// rnnGateActs resolves a gated cell's activation and recurrent activation.
func rnnGateActs[F Float](a, r ir.Activation) (act, rec activation[F], err error) {
	if act, err = rnnCellAct[F](a); err != nil {
		return act, rec, err
	}
	rec, err = rnnCellAct[F](r)
	return act, rec, err
}

// rnnCellAct compiles an activation used inside a cell, which must be
// element-wise.
func rnnCellAct[F Float](a ir.Activation) (activation[F], error) {
	act, err := newActivation[F](a)
	if err != nil {
		return act, err
	}
	if act.isSoftmax() {
		return act, fmt.Errorf("activation %s cannot be used inside a recurrent cell (it is not element-wise)", act.kind)
	}
	return act, nil
}
