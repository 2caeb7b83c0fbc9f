package nn

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

func init() {
	RegisterOp("RnnOutput", newRnnOutput[float32], newRnnOutput[float64])
}

// rnnOutputOp is the per-time-step output layer: a Dense with its loss
// applied to every step of [N, T, F]. The loss is the mean over the steps
// that both the sequence mask seen at Forward (Pass.Mask, e.g. from
// Masking) and the label mask keep.
type rnnOutputOp[F Float] struct {
	*outputOp[F]
	seqMask []F
}

func newRnnOutput[F Float](v *ir.Vertex, in [][]int, out []int, params *Params[F]) (Op[F], error) {
	o, ok := v.Layer.(*ir.RnnOutput)
	if !ok {
		return nil, fmt.Errorf("not an RnnOutput layer")
	}
	if len(in) != 1 || len(in[0]) != 2 {
		return nil, fmt.Errorf("RnnOutput needs one [time, features] input, got %v", in)
	}
	// The activation sees one step's units (buildOutput sets Axis to them).
	oo, err := buildOutput(o.Units, LossSpec{Loss: o.Loss, Activation: o.Activation, FromLogits: o.FromLogits}, params)
	if err != nil {
		return nil, err
	}
	return &rnnOutputOp[F]{outputOp: oo}, nil
}

func (o *rnnOutputOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	o.seqMask = append(o.seqMask[:0], p.Mask...)
	if p.Mask == nil {
		o.seqMask = nil
	}
	return o.outputOp.Forward(p, in)
}

func (o *rnnOutputOp[F]) ComputeLoss(p *Pass[F], labels, mask *Mat[F]) (float64, error) {
	o.hasLoss = false
	rows := ir.NumElements(o.z.Shape[:len(o.z.Shape)-1])
	var w []F
	if mask != nil {
		lw, err := rowWeights(mask, o.z.Shape)
		if err != nil {
			return 0, err
		}
		w = append([]F(nil), lw...)
	}
	if o.seqMask != nil {
		if len(o.seqMask) != rows {
			return 0, fmt.Errorf("sequence mask has %d values for output %v", len(o.seqMask), o.z.Shape)
		}
		if w == nil {
			w = append([]F(nil), o.seqMask...)
		} else {
			for i, m := range o.seqMask {
				w[i] *= m
			}
		}
	}
	o.lossGrad = reuse(o.lossGrad, o.z.Shape...)
	l, err := o.loss.compute(o.z, o.y, labels, w, o.lossGrad)
	o.hasLoss = err == nil
	return l, err
}
