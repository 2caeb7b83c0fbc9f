package nn

import (
	"errors"
	"math"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// coreOneParam compiles a graph whose only trainable parameter is a Dense
// weight w (1×1, no bias), sets its gradient to g and takes steps.
func coreUpdates(t *testing.T, cfg *ir.TrainConfig, w0 float32, grads []float32) []float64 {
	t.Helper()
	g := Sequential("upd", []int{1}, &ir.Dense{Units: 1, NoBias: true})
	g.Vertices[0].Params = map[string]*ir.Tensor{"W": ir.FromData([]float32{w0}, 1, 1)}
	g.Train = cfg
	net, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	var out []float64
	for _, gr := range grads {
		net.Params("l0").Grads["W"].Data[0] = gr
		net.Update()
		out = append(out, float64(g.Vertices[0].Params["W"].Data[0]))
	}
	return out
}

func TestUpdaterRules(t *testing.T) {
	grads := []float32{0.5, -1, 2}
	ref := func(name string, got []float64, step func(w, g float64, t int) float64) {
		w := 1.0
		for i, g := range grads {
			w = step(w, float64(g), i+1)
			if math.Abs(got[i]-w) > 1e-6*math.Max(1, math.Abs(w)) {
				t.Fatalf("%s step %d: %v, want %v", name, i, got[i], w)
			}
		}
	}
	ref("sgd", coreUpdates(t, &ir.TrainConfig{Updater: ir.UpdSGD, LearningRate: 0.1}, 1, grads),
		func(w, g float64, _ int) float64 { return w - 0.1*g })
	v := 0.0
	ref("momentum", coreUpdates(t, &ir.TrainConfig{Updater: ir.UpdMomentum, LearningRate: 0.1, Momentum: 0.9}, 1, grads),
		func(w, g float64, _ int) float64 { v = 0.9*v - 0.1*g; return w + v })
	v = 0
	ref("nesterov", coreUpdates(t, &ir.TrainConfig{Updater: ir.UpdNesterov, LearningRate: 0.1, Momentum: 0.9}, 1, grads),
		func(w, g float64, _ int) float64 { v = 0.9*v - 0.1*g; return w + 0.9*v - 0.1*g })
	m, s := 0.0, 0.0
	ref("adam", coreUpdates(t, &ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 0.01}, 1, grads),
		func(w, g float64, k int) float64 {
			m, s = 0.9*m+0.1*g, 0.999*s+0.001*g*g
			mh, sh := m/(1-math.Pow(0.9, float64(k))), s/(1-math.Pow(0.999, float64(k)))
			return w - 0.01*mh/(math.Sqrt(sh)+1e-8*math.Sqrt(1-math.Pow(0.999, float64(k)))/math.Sqrt(1-math.Pow(0.999, float64(k))))
		})
	m, s = 0, 0
	ref("adamw", coreUpdates(t, &ir.TrainConfig{Updater: ir.UpdAdamW, LearningRate: 0.01, WeightDecay: 0.1}, 1, grads),
		func(w, g float64, k int) float64 {
			m, s = 0.9*m+0.1*g, 0.999*s+0.001*g*g
			a := 0.01 * math.Sqrt(1-math.Pow(0.999, float64(k))) / (1 - math.Pow(0.9, float64(k)))
			return w - a*m/(math.Sqrt(s)+1e-8) - 0.01*0.1*w
		})
	s = 0
	ref("rmsprop", coreUpdates(t, &ir.TrainConfig{Updater: ir.UpdRMSProp, LearningRate: 0.01}, 1, grads),
		func(w, g float64, _ int) float64 { s = 0.9*s + 0.1*g*g; return w - 0.01*g/(math.Sqrt(s)+1e-7) })
	s = 0
	ref("adagrad", coreUpdates(t, &ir.TrainConfig{Updater: ir.UpdAdaGrad, LearningRate: 0.1}, 1, grads),
		func(w, g float64, _ int) float64 { s += g * g; return w - 0.1*g/(math.Sqrt(s)+1e-7) })
	s, d := 0.0, 0.0
	ref("adadelta", coreUpdates(t, &ir.TrainConfig{Updater: ir.UpdAdaDelta}, 1, grads),
		func(w, g float64, _ int) float64 {
			s = 0.95*s + 0.05*g*g
			dx := math.Sqrt(d+1e-7) / math.Sqrt(s+1e-7) * g
			d = 0.95*d + 0.05*dx*dx
			return w - dx
		})
	ref("sgd+l2+l1+clip", coreUpdates(t, &ir.TrainConfig{Updater: ir.UpdSGD, LearningRate: 0.1, L2: 0.5, L1: 0.01, ClipValue: 1}, 1, grads),
		func(w, g float64, _ int) float64 {
			g = math.Max(-1, math.Min(1, g))
			return w - 0.1*(g+0.5*w+0.01*math.Copysign(1, w))
		})
	ref("sgd+clipnorm", coreUpdates(t, &ir.TrainConfig{Updater: ir.UpdSGD, LearningRate: 0.1, ClipNorm: 0.75}, 1, grads),
		func(w, g float64, _ int) float64 {
			if math.Abs(g) > 0.75 {
				g = math.Copysign(0.75, g)
			}
			return w - 0.1*g
		})
}

func TestFitCallbacks(t *testing.T) {
	x, y := coreBlobs(5, 64, 8, 4)
	g := coreMLP(t, ir.UpdSGD, 0)
	g.Train.LearningRate = 1e-9 // no progress: early stopping fires
	net, _ := Compile(g)
	it, _ := NewArrayIterator(x, y, 16, true, 1)
	var epochs, checkpoints int
	res, err := net.Fit(it, FitConfig{Epochs: 20, OnEpoch: func(EpochInfo) error { epochs++; return nil },
		Checkpoint:    func(e EpochInfo, gr *ir.Graph) error { checkpoints++; return nil },
		EarlyStopping: &EarlyStopping{Patience: 2, Monitor: "loss", MinDelta: 0.1}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.StoppedEarly || epochs != 3 || checkpoints != 3 || res.BestEpoch != 0 {
		t.Fatalf("stopped %v after %d epochs, %d checkpoints, best %d", res.StoppedEarly, epochs, checkpoints, res.BestEpoch)
	}
	boom := errors.New("disk full")
	_, err = net.Fit(it, FitConfig{Epochs: 2, Checkpoint: func(EpochInfo, *ir.Graph) error { return boom }})
	if !errors.Is(err, boom) {
		t.Fatalf("checkpoint error lost: %v", err)
	}
}

// A parameter whose Adam moments were dropped (re-initialised by an edit)
// gets a fresh bias correction even when the graph has taken many steps:
// its first update has the size of the learning rate, as Adam's first
// step always does.
func TestAdamBiasCorrectionIsPerParameter(t *testing.T) {
	g := Sequential("upd", []int{1}, &ir.Dense{Units: 1, NoBias: true})
	g.Vertices[0].Params = map[string]*ir.Tensor{"W": ir.FromData([]float32{1}, 1, 1)}
	g.Train = &ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 0.01}
	g.Step = 5000
	net, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	net.Params("l0").Grads["W"].Data[0] = 0.3
	net.Update()
	if got := 1 - float64(g.Vertices[0].Params["W"].Data[0]); math.Abs(got-0.01) > 1e-6 {
		t.Fatalf("first Adam step after %d graph steps moved W by %v, want 0.01", 5000, got)
	}
	if ts := g.Vertices[0].State["W/t"]; ts == nil || ts.Data[0] != 1 {
		t.Fatalf("per-parameter step not recorded: %v", ts)
	}
}

// TestUpdateRangesMatchOneLoop: the updater runs over ranges of a
// parameter's elements in parallel, with AVX2 loops where the CPU has them;
// every updater, plain and with clipping/L1/L2/decay, gives the bits of one
// portable loop over all of them.
func TestUpdateRangesMatchOneLoop(t *testing.T) {
	const n = 200_003 // several parts, uneven, not a multiple of 4
	if forParts(n, 8) < 2 && !useSIMD {
		t.Skip("one thread and no AVX2: the loop would be compared with itself")
	}
	defer func(on bool) { useSIMD = on }(useSIMD)
	simd := useSIMD
	for _, upd := range []ir.Updater{ir.UpdSGD, ir.UpdMomentum, ir.UpdNesterov, ir.UpdAdam, ir.UpdAdamW, ir.UpdRMSProp, ir.UpdAdaGrad, ir.UpdAdaDelta} {
		for _, plain := range []bool{true, false} {
			c := withDefaults(&ir.TrainConfig{Updater: upd, WeightDecay: 0.01})
			u := paramUpdate[float32]{c: c, lr: c.LearningRate, normScale: 0.7, alpha: 3e-3, wd: c.WeightDecay, plain: plain}
			if !plain {
				u.c.ClipValue, u.l1, u.l2 = 0.02, 1e-3, 1e-2
			}
			fill := func() (w, g, s1, s2 []float32) {
				w, g, s1, s2 = make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
				for i := range w {
					w[i], g[i] = float32(i%97-48)*1.3e-3, float32(i%89-44)*1.1e-3
					if i%1013 == 0 {
						g[i] = float32(math.Inf(1))
					}
					s1[i], s2[i] = float32(i%13)*1e-4, float32(i%7)*1e-5
				}
				return
			}
			one := u
			one.w, one.g, one.s1, one.s2 = fill()
			useSIMD = false
			one.runRange(0, n)
			useSIMD = simd
			par := u
			par.w, par.g, par.s1, par.s2 = fill()
			parallelRange(n, 8, &par)
			for i := range one.w {
				if math.Float32bits(one.w[i]) != math.Float32bits(par.w[i]) || math.Float32bits(one.s1[i]) != math.Float32bits(par.s1[i]) ||
					math.Float32bits(one.s2[i]) != math.Float32bits(par.s2[i]) {
					t.Fatalf("%s plain=%v: element %d differs: w %v vs %v", upd, plain, i, par.w[i], one.w[i])
				}
			}
		}
	}
}
