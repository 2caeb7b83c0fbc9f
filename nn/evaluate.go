package nn

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/retarget-dev/retarget/ir"
)

// Evaluation holds classification metrics of one output.
type Evaluation struct {
	Classes   int
	Confusion [][]int // [actual][predicted]
	Count     int     // rows evaluated (examples, or unmasked time steps)
	Loss      float64 // mean loss per example (0 when the output has none)
}

// NewEvaluation returns an empty evaluation for k classes.
func NewEvaluation(k int) *Evaluation {
	e := &Evaluation{Classes: k, Confusion: make([][]int, k)}
	for i := range e.Confusion {
		e.Confusion[i] = make([]int, k)
	}
	return e
}

// Add counts one prediction.
func (e *Evaluation) Add(actual, predicted int) {
	e.Confusion[actual][predicted]++
	e.Count++
}

// Accuracy is the fraction of correct predictions.
func (e *Evaluation) Accuracy() float64 {
	if e.Count == 0 {
		return 0
	}
	ok := 0
	for i := range e.Confusion {
		ok += e.Confusion[i][i]
	}
	return float64(ok) / float64(e.Count)
}

func (e *Evaluation) colSum(c int) (s int) {
	for i := range e.Confusion {
		s += e.Confusion[i][c]
	}
	return
}

func (e *Evaluation) rowSum(c int) (s int) {
	for _, v := range e.Confusion[c] {
		s += v
	}
	return
}

// Precision of class c (0 when it was never predicted).
func (e *Evaluation) Precision(c int) float64 {
	if s := e.colSum(c); s > 0 {
		return float64(e.Confusion[c][c]) / float64(s)
	}
	return 0
}

// Recall of class c (0 when it never occurs).
func (e *Evaluation) Recall(c int) float64 {
	if s := e.rowSum(c); s > 0 {
		return float64(e.Confusion[c][c]) / float64(s)
	}
	return 0
}

// F1 of class c.
func (e *Evaluation) F1(c int) float64 {
	p, r := e.Precision(c), e.Recall(c)
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

// macro averages a per-class metric over the classes that occur or are predicted.
func (e *Evaluation) macro(f func(int) float64) float64 {
	var s float64
	k := 0
	for c := 0; c < e.Classes; c++ {
		if e.rowSum(c)+e.colSum(c) == 0 {
			continue
		}
		s += f(c)
		k++
	}
	if k == 0 {
		return 0
	}
	return s / float64(k)
}

// MacroPrecision, MacroRecall and MacroF1 average over the classes present.
func (e *Evaluation) MacroPrecision() float64 { return e.macro(e.Precision) }
func (e *Evaluation) MacroRecall() float64    { return e.macro(e.Recall) }
func (e *Evaluation) MacroF1() float64        { return e.macro(e.F1) }

// String renders the metrics and the confusion matrix as a table.
func (e *Evaluation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "examples: %d  accuracy: %.4f  macro precision: %.4f  macro recall: %.4f  macro F1: %.4f", e.Count, e.Accuracy(), e.MacroPrecision(), e.MacroRecall(), e.MacroF1())
	if e.Loss != 0 {
		fmt.Fprintf(&b, "  loss: %.6g", e.Loss)
	}
	b.WriteString("\n\nclass  precision  recall     F1  support\n")
	for c := 0; c < e.Classes; c++ {
		fmt.Fprintf(&b, "%5d  %9.4f  %6.4f  %6.4f  %7d\n", c, e.Precision(c), e.Recall(c), e.F1(c), e.rowSum(c))
	}
	b.WriteString("\nconfusion (rows actual, columns predicted)\n      ")
	for c := 0; c < e.Classes; c++ {
		fmt.Fprintf(&b, " %6d", c)
	}
	b.WriteByte('\n')
	for r := 0; r < e.Classes; r++ {
		fmt.Fprintf(&b, "%5d ", r)
		for c := 0; c < e.Classes; c++ {
			fmt.Fprintf(&b, " %6d", e.Confusion[r][c])
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// Evaluate resets it, runs the network in inference mode over it and scores the first
// loss-bearing output (the first output if none carries a loss).
func (n *Net[F]) Evaluate(it Iterator) (*Evaluation, error) {
	k := 0
	for i, nd := range n.outNodes {
		if nd != nil {
			if _, ok := nd.op.(LossOp[F]); ok {
				k = i
				break
			}
		}
	}
	return n.EvaluateOutput(it, k)
}

// EvaluateOutput resets it and scores graph output k: argmax over its last axis (a
// single unit is a binary classifier thresholded at 0.5, or 0 for logits)
// against one-hot or class-index labels, honouring label masks.
func (n *Net[F]) EvaluateOutput(it Iterator, k int) (*Evaluation, error) {
	if k < 0 || k >= len(n.Graph.Outputs) {
		return nil, fmt.Errorf("no output %d", k)
	}
	var ev *Evaluation
	var lossSum float64
	var examples int
	logits := false
	var lossOp LossOp[F]
	if nd := n.outNodes[k]; nd != nil {
		if o, ok := nd.v.Layer.(*ir.Output); ok {
			logits = o.FromLogits
		}
		if o, ok := nd.v.Layer.(*ir.RnnOutput); ok {
			logits = o.FromLogits
		}
		lossOp, _ = nd.op.(LossOp[F])
	}
	if err := it.Reset(); err != nil {
		return nil, err
	}
	for {
		b, err := it.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if err := n.convertBatch(b, &n.predBuf, true); err != nil {
			return nil, err
		}
		outs, err := n.Forward(n.predBuf.in, false)
		if err != nil {
			return nil, err
		}
		y := outs[k]
		lab := n.predBuf.lab[k]
		if lab == nil {
			return nil, fmt.Errorf("output %q: the batch has no labels", n.Graph.Outputs[k].Name)
		}
		if lossOp != nil {
			l, err := lossOp.ComputeLoss(&n.pass, lab, n.predBuf.mask[k])
			if err != nil {
				return nil, &ir.VertexError{Vertex: n.outNodes[k].v.Name, Err: err}
			}
			lossSum += l * float64(y.Shape[0])
		}
		examples += y.Shape[0]
		c := y.Shape[len(y.Shape)-1]
		if ev == nil {
			ev = NewEvaluation(max(c, 2))
		}
		rows := len(y.Data) / c
		var w []F
		if m := n.predBuf.mask[k]; m != nil {
			if w, err = rowWeights(m, y.Shape); err != nil {
				return nil, err
			}
		}
		sparse := len(lab.Data) == rows && c > 1
		if !sparse && len(lab.Data) != len(y.Data) {
			return nil, fmt.Errorf("labels of shape %v do not fit output %v", lab.Shape, y.Shape)
		}
		for r := 0; r < rows; r++ {
			if w != nil && w[r] == 0 {
				continue
			}
			yr := y.Data[r*c : (r+1)*c]
			var actual, pred int
			if c == 1 {
				thr := F(0.5)
				if logits {
					thr = 0
				}
				if yr[0] >= thr {
					pred = 1
				}
				if lab.Data[r] >= 0.5 {
					actual = 1
				}
			} else {
				pred = argmax(yr)
				if sparse {
					actual = int(lab.Data[r])
					if actual < 0 || actual >= c || F(actual) != lab.Data[r] {
						return nil, fmt.Errorf("label %v in row %d is not a class index in [0, %d)", lab.Data[r], r, c)
					}
				} else {
					actual = argmax(lab.Data[r*c : (r+1)*c])
				}
			}
			ev.Add(actual, pred)
		}
	}
	if ev == nil {
		return nil, errors.New("the iterator yielded no batch")
	}
	if examples > 0 {
		ev.Loss = lossSum / float64(examples)
	}
	return ev, nil
}

func argmax[F Float](x []F) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
