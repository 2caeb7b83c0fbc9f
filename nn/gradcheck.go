package nn

import (
	"errors"
	"fmt"
	"math"
	"math/rand"
	"sort"
	"strings"

	"github.com/retarget-dev/retarget/ir"
)

// GradCheckOptions tune CheckGradients. Zero values take the defaults.
type GradCheckOptions struct {
	Eps         float64 // central-difference step (1e-6)
	MaxRelError float64 // largest accepted relative error (1e-5)
	// MinAbsError: absolute differences below this always pass (default 1e-9,
	// raised to the rounding noise of the loss, ~20 ulp of its terms / Eps).
	MinAbsError float64
	// SkipInputs does not check the gradient of the graph inputs (e.g.
	// integer indices).
	SkipInputs bool
	// MaxPerTensor checks at most this many entries of each tensor, spread
	// over it (0: all).
	MaxPerTensor int
	// Masks are label masks per output, as in Batch.LabelMasks.
	Masks []*ir.Tensor
	// InputMask is the (batch, T) time-step mask passed to the ops.
	InputMask *ir.Tensor
	Seed      int64
}

// TB is the part of testing.TB that GradCheck needs.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// GradCheck runs CheckGradients and fails the test on a mismatch.
func GradCheck(t TB, g *ir.Graph, inputs, labels []*ir.Tensor, opts ...GradCheckOptions) {
	t.Helper()
	var o GradCheckOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if err := CheckGradients(g, inputs, labels, o); err != nil {
		t.Fatalf("gradient check of %s: %v", g.Name, err)
	}
}

// CheckGradients compiles g in float64 and compares the analytic gradient
// of every trainable parameter (of unfrozen vertices) and of every graph
// input with central differences. The function differentiated is the sum of
// the losses of the loss-bearing outputs (labels indexed like the graph
// outputs) plus Σ r·y for every other output, r fixed random weights; so a
// graph without an Output layer checks too. g's float32 parameters are not
// changed (BatchNorm statistics of g are not touched either).
func CheckGradients(g *ir.Graph, inputs, labels []*ir.Tensor, o GradCheckOptions) error {
	if o.Eps == 0 {
		o.Eps = 1e-6
	}
	if o.MaxRelError == 0 {
		o.MaxRelError = 1e-5
	}
	if o.MinAbsError == 0 {
		o.MinAbsError = 1e-9
	}
	n, err := CompileWith[float64](g, Options{InputGrads: !o.SkipInputs})
	if err != nil {
		return err
	}
	n.SetSeed(o.Seed + 1)
	if o.InputMask != nil {
		n.SetInputMask(MatFromTensor[float64](o.InputMask).Data)
	}
	xs := make([]*Mat[float64], len(inputs))
	for i, t := range inputs {
		xs[i] = MatFromTensor[float64](t)
	}
	var ys, ms []*Mat[float64]
	for _, t := range labels {
		if t == nil {
			ys = append(ys, nil)
		} else {
			ys = append(ys, MatFromTensor[float64](t))
		}
	}
	for _, t := range o.Masks {
		if t == nil {
			ms = append(ms, nil)
		} else {
			ms = append(ms, MatFromTensor[float64](t))
		}
	}
	hasLoss := false
	for _, nd := range n.outNodes {
		if nd != nil {
			if _, ok := nd.op.(LossOp[float64]); ok {
				hasLoss = true
			}
		}
	}
	rng := rand.New(rand.NewSource(o.Seed + 7))
	seeds := make([]*Mat[float64], len(n.outNodes))
	// forward passes run in training mode (dropout masks are fixed by the
	// seed; batch statistics are part of the function); freeze a vertex to
	// check its inference behaviour
	const train = true
	var scale float64 // Σ|terms| of the loss: its rounding noise
	eval := func() (float64, error) {
		outs, err := n.Forward(xs, train)
		if err != nil {
			return 0, err
		}
		var l float64
		if hasLoss {
			if l, err = n.ComputeLoss(ys, ms); err != nil {
				return 0, err
			}
		}
		for i, y := range outs {
			if nd := n.outNodes[i]; nd != nil {
				if _, ok := nd.op.(LossOp[float64]); ok {
					continue
				}
			}
			if seeds[i] == nil {
				seeds[i] = NewMat[float64](y.Shape...)
				for j := range seeds[i].Data {
					seeds[i].Data[j] = rng.Float64()*2 - 1
				}
			}
			for j, v := range y.Data {
				l += v * seeds[i].Data[j]
				scale += math.Abs(v * seeds[i].Data[j])
			}
		}
		return l, nil
	}
	l0, err := eval()
	if err != nil {
		return err
	}
	o.MinAbsError = math.Max(o.MinAbsError, 20*2.2e-16*(scale+math.Abs(l0))/o.Eps)
	if err := n.Backward(seeds); err != nil {
		return err
	}
	type target struct {
		name string
		val  []float64
		grad []float64
	}
	var targets []target
	for _, nd := range n.nodes {
		names := make([]string, 0, len(nd.params.Grads))
		for k := range nd.params.Grads {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			targets = append(targets, target{nd.v.Name + "/" + k, nd.params.Values[k].Data, append([]float64(nil), nd.params.Grads[k].Data...)})
		}
	}
	if !o.SkipInputs {
		for i, in := range g.Inputs {
			gr := make([]float64, len(xs[i].Data))
			if d := n.InputGrad(in.Name); d != nil {
				copy(gr, d.Data)
			}
			targets = append(targets, target{"input " + in.Name, xs[i].Data, gr})
		}
	}
	var bad []string
	checked := 0
	for _, tg := range targets {
		step := 1
		if o.MaxPerTensor > 0 && len(tg.val) > o.MaxPerTensor {
			step = (len(tg.val) + o.MaxPerTensor - 1) / o.MaxPerTensor
		}
		for j := 0; j < len(tg.val); j += step {
			orig := tg.val[j]
			tg.val[j] = orig + o.Eps
			lp, err := eval()
			if err != nil {
				return err
			}
			tg.val[j] = orig - o.Eps
			lm, err := eval()
			if err != nil {
				return err
			}
			tg.val[j] = orig
			num := (lp - lm) / (2 * o.Eps)
			an := tg.grad[j]
			diff := math.Abs(num - an)
			checked++
			if diff <= o.MinAbsError {
				continue
			}
			if rel := diff / math.Max(math.Abs(num), math.Abs(an)); rel > o.MaxRelError {
				if len(bad) < 10 {
					bad = append(bad, fmt.Sprintf("%s[%d]: analytic %.8g, numeric %.8g (relative error %.2g)", tg.name, j, an, num, rel))
				} else if len(bad) == 10 {
					bad = append(bad, "...")
				}
			}
		}
	}
	if checked == 0 {
		return errors.New("nothing to check: no trainable parameter and no input")
	}
	if len(bad) > 0 {
		return fmt.Errorf("%d value(s) checked, mismatches:\n  %s", checked, strings.Join(bad, "\n  "))
	}
	return nil
}
