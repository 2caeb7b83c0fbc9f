package nn

import (
	"errors"
	"fmt"
	"io"
	"math"
)

// RegressionEvaluation holds the errors of one regression output, over
// every unmasked value (example × unit, or step × unit for a per-step
// output).
type RegressionEvaluation struct {
	Count       int // rows evaluated (examples, or unmasked time steps)
	Values      int // values compared: Count × units
	SumSquared  float64
	SumAbsolute float64
}

// Add compares one predicted row with its target.
func (r *RegressionEvaluation) Add(pred, target []float64) {
	for i, p := range pred {
		d := p - target[i]
		r.SumSquared += d * d
		r.SumAbsolute += math.Abs(d)
	}
	r.Values += len(pred)
	r.Count++
}

// MSE is the mean squared error over all compared values.
func (r *RegressionEvaluation) MSE() float64 {
	if r.Values == 0 {
		return 0
	}
	return r.SumSquared / float64(r.Values)
}

// MAE is the mean absolute error over all compared values.
func (r *RegressionEvaluation) MAE() float64 {
	if r.Values == 0 {
		return 0
	}
	return r.SumAbsolute / float64(r.Values)
}

// String renders the metrics on one line.
func (r *RegressionEvaluation) String() string {
	return fmt.Sprintf("examples: %d  MSE: %.6g  MAE: %.6g\n", r.Count, r.MSE(), r.MAE())
}

// EvaluateRegression resets it, runs the network in inference mode over it
// and compares graph output k with the labels value by value, honouring
// label masks. Labels must have the output's shape.
func (n *Net[F]) EvaluateRegression(it Iterator, k int) (*RegressionEvaluation, error) {
	if k < 0 || k >= len(n.Graph.Outputs) {
		return nil, fmt.Errorf("no output %d", k)
	}
	name := n.Graph.Outputs[k].Name
	if err := it.Reset(); err != nil {
		return nil, err
	}
	ev := &RegressionEvaluation{}
	batches := 0
	var pred, target []float64
	for {
		b, err := it.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		batches++
		if err := n.convertBatch(b, &n.predBuf, true); err != nil {
			return nil, err
		}
		outs, err := n.Forward(n.predBuf.in, false)
		if err != nil {
			return nil, err
		}
		y, lab := outs[k], n.predBuf.lab[k]
		if lab == nil {
			return nil, fmt.Errorf("output %q: the batch has no labels", name)
		}
		if len(lab.Data) != len(y.Data) {
			return nil, fmt.Errorf("output %q: labels of shape %v do not fit its output of shape %v", name, lab.Shape, y.Shape)
		}
		c := y.Shape[len(y.Shape)-1]
		rows := len(y.Data) / c
		var w []F
		if m := n.predBuf.mask[k]; m != nil {
			if w, err = rowWeights(m, y.Shape); err != nil {
				return nil, err
			}
		}
		pred, target = growSlice(pred, c), growSlice(target, c)
		for r := 0; r < rows; r++ {
			if w != nil && w[r] == 0 {
				continue
			}
			for i := 0; i < c; i++ {
				pred[i], target[i] = float64(y.Data[r*c+i]), float64(lab.Data[r*c+i])
			}
			ev.Add(pred, target)
		}
	}
	if batches == 0 {
		return nil, errors.New("the iterator yielded no batch")
	}
	return ev, nil
}
