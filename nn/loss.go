package nn

import (
	"fmt"
	"math"

	"github.com/retarget-dev/retarget/ir"
)

// lossEps clips probabilities away from 0 and 1 as Keras does.
const lossEps = 1e-7

// LossSpec is a loss on the last axis of an output, together with the
// activation that turned the pre-activation z into the output y.
//
// Softmax in a LossSpec is over the last axis whatever its Axis says. Per
// row: MCXENT, NLL and KLD sum over the classes; binary cross entropy,
// MSE, MAE, (squared) hinge and Poisson average over them (Keras); cosine
// proximity is minus the cosine similarity. The loss of a batch is the mean
// over rows weighted by the mask.
//
// With FromLogits the output is the logits (identity activation) and the loss
// applies softmax (MCXENT, sparse MCXENT, NLL, KLD) or sigmoid (binary cross
// entropy) itself, in a numerically stable form. Softmax + MCXENT and
// sigmoid + binary cross entropy are fused the same way when the activation
// is the Output's own.
type LossSpec struct {
	Loss       ir.Loss
	Activation ir.Activation
	FromLogits bool
}

// lossFn is a compiled LossSpec.
type lossFn[F Float] struct {
	loss       ir.Loss
	act        activation[F]
	fusedSoft  bool // gradient wrt z is p·Σt - t
	fusedSig   bool // gradient wrt z is (p - t)/C
	fromLogits bool
	tbuf       []float64 // one row's targets
	gy         []F
	rowShape   [2]int
}

func newLoss[F Float](s LossSpec) (*lossFn[F], error) {
	known := false
	for _, k := range ir.KnownLosses {
		known = known || k == s.Loss
	}
	if !known {
		return nil, fmt.Errorf("unknown loss %q", s.Loss)
	}
	act, err := newActivation[F](s.Activation)
	if err != nil {
		return nil, err
	}
	if act.kind == ir.ActLogSoftmax {
		return nil, fmt.Errorf("loss %s after log_softmax: use softmax, or identity with from_logits", s.Loss)
	}
	act.axis = -1 // a loss is over the last axis, and so is its softmax
	l := &lossFn[F]{loss: s.Loss, act: act}
	softLoss := s.Loss == ir.LossMCXENT || s.Loss == ir.LossSparseMCXENT || s.Loss == ir.LossNLL || s.Loss == ir.LossKLD
	if s.FromLogits {
		if !act.identity() {
			return nil, fmt.Errorf("from_logits needs an identity activation, got %s", act.kind)
		}
		l.fromLogits = true
		l.fusedSoft = softLoss
		l.fusedSig = s.Loss == ir.LossXENT
	} else {
		l.fusedSoft = softLoss && act.kind == ir.ActSoftmax
		l.fusedSig = s.Loss == ir.LossXENT && act.kind == ir.ActSigmoid
	}
	return l, nil
}

// ComputeLoss evaluates a loss on outputs of shape [..., C]: z is the
// pre-activation, y the output (act(z); the same as z for identity), labels
// either the shape of y or, for sparse MCXENT, one class index per row
// ([...] or [..., 1]). weights (nil: all 1) has one value per row, e.g. a
// (batch, T) sequence mask. The result is the weighted mean over rows; when
// dZ is not nil it receives dLoss/dz (same shape as z).
func ComputeLoss[F Float](s LossSpec, z, y, labels *Mat[F], weights []F, dZ *Mat[F]) (float64, error) {
	l, err := newLoss[F](s)
	if err != nil {
		return 0, err
	}
	return l.compute(z, y, labels, weights, dZ)
}

func (l *lossFn[F]) compute(z, y, labels *Mat[F], weights []F, dZ *Mat[F]) (float64, error) {
	if len(y.Shape) < 2 {
		return 0, fmt.Errorf("loss %s needs an output of rank ≥ 2 with batch, got %v", l.loss, y.Shape)
	}
	c := y.Shape[len(y.Shape)-1]
	rows := ir.NumElements(y.Shape[:len(y.Shape)-1])
	sparse := l.loss == ir.LossSparseMCXENT
	if sparse {
		if len(labels.Data) != rows {
			return 0, fmt.Errorf("sparse labels: %d values for %d rows (output shape %v, labels %v)", len(labels.Data), rows, y.Shape, labels.Shape)
		}
	} else if len(labels.Data) != len(y.Data) {
		return 0, fmt.Errorf("labels of shape %v do not match the output shape %v", labels.Shape, y.Shape)
	}
	if weights != nil && len(weights) != rows {
		return 0, fmt.Errorf("mask has %d values for %d rows (output shape %v)", len(weights), rows, y.Shape)
	}
	hingeShift := false
	if l.loss == ir.LossHinge || l.loss == ir.LossSquaredHinge {
		hingeShift = true
		for _, t := range labels.Data {
			if t != 0 && t != 1 {
				hingeShift = false
				break
			}
		}
	}
	var wsum float64
	if weights == nil {
		wsum = float64(rows)
	} else {
		for _, w := range weights {
			wsum += float64(w)
		}
	}
	if dZ != nil {
		clear(dZ.Data)
	}
	if wsum == 0 {
		return 0, nil
	}
	l.tbuf, l.gy = growSlice(l.tbuf, c), growSlice(l.gy, c)
	tbuf, gy := l.tbuf, l.gy
	var total float64
	for r := 0; r < rows; r++ {
		w := 1.0
		if weights != nil {
			w = float64(weights[r])
			if w == 0 {
				continue
			}
		}
		zr, yr := z.Data[r*c:(r+1)*c], y.Data[r*c:(r+1)*c]
		if sparse {
			k := float64(labels.Data[r])
			if k != math.Trunc(k) || k < 0 || int(k) >= c {
				return 0, fmt.Errorf("sparse label %v in row %d is not a class index in [0, %d)", k, r, c)
			}
			clear(tbuf)
			tbuf[int(k)] = 1
		} else {
			for j := range tbuf {
				tbuf[j] = float64(labels.Data[r*c+j])
				if hingeShift {
					tbuf[j] = 2*tbuf[j] - 1
				}
			}
		}
		scale := w / wsum
		var dz []F
		if dZ != nil {
			dz = dZ.Data[r*c : (r+1)*c]
		}
		var lr float64
		switch {
		case l.fusedSoft:
			lr = fusedSoftmaxRow(l.loss, zr, tbuf, dz, scale)
		case l.fusedSig:
			lr = fusedSigmoidRow(zr, tbuf, dz, scale)
		default:
			lr = genericRow(l.loss, yr, tbuf, gy)
			if dz != nil {
				for j := range gy {
					gy[j] *= F(scale)
				}
				l.rowShape = [2]int{1, c}
				l.act.backward(zr, yr, gy, dz, l.rowShape[:])
			}
		}
		total += w * lr
	}
	return total / wsum, nil
}

// fusedSoftmaxRow: p = softmax(z); MCXENT/NLL -Σ t log p; KLD Σ t (log t - log p).
func fusedSoftmaxRow[F Float](loss ir.Loss, z []F, t []float64, dz []F, scale float64) float64 {
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, float64(v))
	}
	var s float64
	for _, v := range z {
		s += math.Exp(float64(v) - m)
	}
	lse := m + math.Log(s)
	var l, tsum float64
	for j, v := range z {
		tj := t[j]
		tsum += tj
		if tj != 0 {
			l -= tj * (float64(v) - lse)
			if loss == ir.LossKLD && tj > 0 {
				l += tj * math.Log(math.Max(tj, lossEps))
			}
		}
	}
	if dz != nil {
		for j, v := range z {
			p := math.Exp(float64(v) - lse)
			dz[j] = F(scale * (p*tsum - t[j]))
		}
	}
	return l
}

// fusedSigmoidRow: mean over classes of softplus(z) - t·z.
func fusedSigmoidRow[F Float](z []F, t []float64, dz []F, scale float64) float64 {
	c := float64(len(z))
	var l float64
	for j, v := range z {
		x := float64(v)
		l += softplus(x) - t[j]*x
		if dz != nil {
			dz[j] = F(scale * (sigmoid(x) - t[j]) / c)
		}
	}
	return l / c
}

// genericRow returns the row loss and writes dLoss/dy into g.
func genericRow[F Float](loss ir.Loss, y []F, t []float64, g []F) float64 {
	c := float64(len(y))
	var l float64
	switch loss {
	case ir.LossMCXENT, ir.LossSparseMCXENT, ir.LossNLL:
		for j, v := range y {
			p := math.Max(float64(v), lossEps)
			l -= t[j] * math.Log(p)
			g[j] = F(-t[j] / p)
		}
	case ir.LossKLD:
		for j, v := range y {
			p := math.Max(float64(v), lossEps)
			if t[j] > 0 {
				l += t[j] * (math.Log(math.Max(t[j], lossEps)) - math.Log(p))
			}
			g[j] = F(-t[j] / p)
		}
	case ir.LossXENT:
		for j, v := range y {
			p := min(max(float64(v), lossEps), 1-lossEps)
			l -= t[j]*math.Log(p) + (1-t[j])*math.Log(1-p)
			g[j] = F((-t[j]/p + (1-t[j])/(1-p)) / c)
		}
		l /= c
	case ir.LossMSE:
		for j, v := range y {
			d := float64(v) - t[j]
			l += d * d
			g[j] = F(2 * d / c)
		}
		l /= c
	case ir.LossMAE:
		for j, v := range y {
			d := float64(v) - t[j]
			l += math.Abs(d)
			s := 0.0
			if d > 0 {
				s = 1
			} else if d < 0 {
				s = -1
			}
			g[j] = F(s / c)
		}
		l /= c
	case ir.LossHinge, ir.LossSquaredHinge:
		sq := loss == ir.LossSquaredHinge
		for j, v := range y {
			h := 1 - t[j]*float64(v)
			g[j] = 0
			if h > 0 {
				if sq {
					l += h * h
					g[j] = F(-2 * t[j] * h / c)
				} else {
					l += h
					g[j] = F(-t[j] / c)
				}
			}
		}
		l /= c
	case ir.LossPoisson:
		for j, v := range y {
			l += float64(v) - t[j]*math.Log(float64(v)+lossEps)
			g[j] = F((1 - t[j]/(float64(v)+lossEps)) / c)
		}
		l /= c
	case ir.LossCosine:
		var dot, ny, nt float64
		for j, v := range y {
			dot += float64(v) * t[j]
			ny += float64(v) * float64(v)
			nt += t[j] * t[j]
		}
		ny, nt = math.Sqrt(math.Max(ny, 1e-12)), math.Sqrt(math.Max(nt, 1e-12))
		l = -dot / (ny * nt)
		for j, v := range y {
			g[j] = F(-(t[j]/(ny*nt) - dot*float64(v)/(ny*ny*ny*nt)))
		}
	}
	return l
}
