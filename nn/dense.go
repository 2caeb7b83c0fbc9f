package nn

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

// denseOp is y = act(x·W + b) on the last axis of an input of any rank.
type denseOp[F Float] struct {
	units  int
	act    activation[F]
	params *Params[F]
	needIn bool

	x       *Mat[F] // cached input
	z, y    *Mat[F] // pre-activation and output (y == z for identity)
	dz, dx  *Mat[F]
	rows, k int
	oshape  []int
	dIns    [1]*Mat[F]
	// overwrite: Backward writes the parameter gradients instead of adding
	// to them (the network then does not clear them; see overwriteGrads)
	overwrite bool
}

func newDense[F Float](v *ir.Vertex, in [][]int, out []int, params *Params[F]) (Op[F], error) {
	d := v.Layer.(*ir.Dense)
	return buildDense(d.Units, d.Activation, params)
}

func buildDense[F Float](units int, a ir.Activation, params *Params[F]) (*denseOp[F], error) {
	act, err := newActivation[F](a)
	if err != nil {
		return nil, err
	}
	if params.Values["W"] == nil {
		return nil, fmt.Errorf("missing parameter W")
	}
	return &denseOp[F]{units: units, act: act, params: params, needIn: true}, nil
}

func (d *denseOp[F]) SkipInputGrads(need []bool) { d.needIn = need[0] }

func (d *denseOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x := in[0]
	W := d.params.Values["W"]
	k := W.Shape[0]
	if x.Shape[len(x.Shape)-1] != k {
		panic(fmt.Sprintf("input shape %v does not match W %v", x.Shape, W.Shape))
	}
	rows := len(x.Data) / k
	d.x, d.rows, d.k = x, rows, k
	d.oshape = append(append(d.oshape[:0], x.Shape[:len(x.Shape)-1]...), d.units)
	oshape := d.oshape
	d.z = outBuf(p, d.z, oshape...)
	if b := d.params.Values["b"]; b != nil {
		for r := 0; r < rows; r++ {
			copy(d.z.Data[r*d.units:(r+1)*d.units], b.Data)
		}
		gemm(false, false, rows, d.units, k, 1, x.Data, k, W.Data, d.units, 1, d.z.Data, d.units)
	} else {
		gemm(false, false, rows, d.units, k, 1, x.Data, k, W.Data, d.units, 0, d.z.Data, d.units)
	}
	if d.act.identity() {
		d.y = d.z
		return d.z
	}
	d.y = outBuf(p, d.y, oshape...)
	if err := d.act.forward(d.z.Data, d.y.Data, oshape); err != nil {
		panic(err)
	}
	return d.y
}

// backwardZ takes dLoss/dz and accumulates the parameter gradients.
func (d *denseOp[F]) backwardZ(dz *Mat[F]) []*Mat[F] {
	W := d.params.Values["W"]
	u, k, rows := d.units, d.k, d.rows
	beta := F(1)
	if d.overwrite {
		beta = 0
	}
	if gW := d.params.Grads["W"]; gW != nil {
		gemm(true, false, k, u, rows, 1, d.x.Data, k, dz.Data, u, beta, gW.Data, u)
	}
	if gb := d.params.Grads["b"]; gb != nil {
		if d.overwrite {
			clear(gb.Data)
		}
		for r := 0; r < rows; r++ {
			addTo(gb.Data, dz.Data[r*u:(r+1)*u])
		}
	}
	d.dIns[0] = nil
	if d.needIn {
		d.dx = reuse(d.dx, d.x.Shape...)
		gemm(false, true, rows, k, u, 1, dz.Data, u, W.Data, u, 0, d.dx.Data, k)
		d.dIns[0] = d.dx
	}
	return d.dIns[:]
}

func (d *denseOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	if d.act.identity() {
		return d.backwardZ(dOut)
	}
	d.dz = reuse(d.dz, d.z.Shape...)
	d.act.backward(d.z.Data, d.y.Data, dOut.Data, d.dz.Data, d.z.Shape)
	return d.backwardZ(d.dz)
}

// outputOp is a Dense whose loss gradient is fused into dz.
type outputOp[F Float] struct {
	*denseOp[F]
	loss     *lossFn[F]
	lossGrad *Mat[F]
	dzSum    *Mat[F]
	hasLoss  bool
}

func newOutput[F Float](v *ir.Vertex, in [][]int, out []int, params *Params[F]) (Op[F], error) {
	o := v.Layer.(*ir.Output)
	return buildOutput(o.Units, LossSpec{Loss: o.Loss, Activation: o.Activation, FromLogits: o.FromLogits}, params)
}

// buildOutput compiles a Dense and its loss. The loss is over the units
// axis, so a softmax is too, whatever spec.Activation.Axis says (its zero
// value would name another axis).
func buildOutput[F Float](units int, spec LossSpec, params *Params[F]) (*outputOp[F], error) {
	spec.Activation.Axis = -1
	d, err := buildDense(units, spec.Activation, params)
	if err != nil {
		return nil, err
	}
	l, err := newLoss[F](spec)
	if err != nil {
		return nil, err
	}
	return &outputOp[F]{denseOp: d, loss: l}, nil
}

func (o *outputOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	o.hasLoss = false
	return o.denseOp.Forward(p, in)
}

func (o *outputOp[F]) ComputeLoss(p *Pass[F], labels, mask *Mat[F]) (float64, error) {
	o.lossGrad = reuse(o.lossGrad, o.z.Shape...)
	var w []F
	if mask != nil {
		var err error
		if w, err = rowWeights(mask, o.z.Shape); err != nil {
			return 0, err
		}
	}
	l, err := o.loss.compute(o.z, o.y, labels, w, o.lossGrad)
	o.hasLoss = err == nil
	return l, err
}

// scaleLossGrad weights the loss gradient of the latest ComputeLoss.
func (o *outputOp[F]) scaleLossGrad(w float64) {
	if o.hasLoss {
		for i := range o.lossGrad.Data {
			o.lossGrad.Data[i] *= F(w)
		}
	}
}

func (o *outputOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	switch {
	case dOut == nil:
		return o.backwardZ(o.lossGrad)
	case !o.hasLoss:
		return o.denseOp.Backward(p, dOut)
	}
	o.dzSum = reuse(o.dzSum, o.z.Shape...)
	if o.act.identity() {
		copy(o.dzSum.Data, dOut.Data)
	} else {
		o.act.backward(o.z.Data, o.y.Data, dOut.Data, o.dzSum.Data, o.z.Shape)
	}
	addTo(o.dzSum.Data, o.lossGrad.Data)
	return o.backwardZ(o.dzSum)
}

// rowWeights expands a mask to one weight per row of an output shaped
// [N, ..., C]: a mask of N values weights whole examples, one of
// N·(rows per example) weights each row.
func rowWeights[F Float](mask *Mat[F], out []int) ([]F, error) {
	rows := ir.NumElements(out[:len(out)-1])
	switch len(mask.Data) {
	case rows:
		return mask.Data, nil
	case out[0]:
		per := rows / out[0]
		w := make([]F, rows)
		for i := range w {
			w[i] = mask.Data[i/per]
		}
		return w, nil
	}
	return nil, fmt.Errorf("mask of shape %v fits neither the batch nor the rows of output %v", mask.Shape, out)
}

func init() {
	RegisterOp("Dense", newDense[float32], newDense[float64])
	RegisterOp("Output", newOutput[float32], newOutput[float64])
}
