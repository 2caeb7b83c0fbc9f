package nn

import (
	"math/rand"
	"testing"
	"time"

	"github.com/retarget-dev/retarget/ir"
)

// echoData is a delayed-echo task: one-hot symbols x[t], label y[t] =
// x[t-delay]; the first delay steps have no label (label mask 0).
func rnnEchoData(rng *rand.Rand, n, T, k, delay int) (x, y, mask *ir.Tensor) {
	x, y, mask = ir.NewTensor(n, T, k), ir.NewTensor(n, T, k), ir.NewTensor(n, T)
	for i := 0; i < n; i++ {
		syms := make([]int, T)
		for s := range syms {
			syms[s] = rng.Intn(k)
			x.Data[(i*T+s)*k+syms[s]] = 1
			if s >= delay {
				y.Data[(i*T+s)*k+syms[s-delay]] = 1
				mask.Data[i*T+s] = 1
			}
		}
	}
	return x, y, mask
}

func rnnRows(t *ir.Tensor, lo, hi int) *ir.Tensor {
	per := ir.NumElements(t.Shape[1:])
	return ir.FromData(t.Data[lo*per:hi*per], append([]int{hi - lo}, t.Shape[1:]...)...)
}

func TestLSTMRnnOutputLearnsDelayedEcho(t *testing.T) {
	const k, T, delay, n, batch = 4, 10, 2, 512, 32
	rng := rand.New(rand.NewSource(11))
	g := Sequential("echo", []int{T, k},
		&ir.LSTM{Units: 20, Activation: rnnTanh, RecurrentActivation: rnnSig, ReturnSequences: true, UnitForgetBias: true},
		&ir.RnnOutput{Units: k, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT})
	g.Train = &ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 0.02, Seed: 1}
	if err := InitGraph(g, ir.InitXavierUniform, 1); err != nil {
		t.Fatal(err)
	}
	net, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	x, y, mask := rnnEchoData(rng, n, T, k, delay)
	start := time.Now()
	var loss float64
	for epoch := 0; epoch < 12; epoch++ {
		for lo := 0; lo < n; lo += batch {
			b := &Batch{Inputs: []*ir.Tensor{rnnRows(x, lo, lo+batch)}, Labels: []*ir.Tensor{rnnRows(y, lo, lo+batch)},
				LabelMasks: []*ir.Tensor{rnnRows(mask, lo, lo+batch)}}
			if loss, err = net.FitBatch(b); err != nil {
				t.Fatal(err)
			}
		}
	}
	tx, ty, tmask := rnnEchoData(rng, 200, T, k, delay)
	out, err := net.Predict(tx)
	if err != nil {
		t.Fatal(err)
	}
	right, total := 0, 0
	for r := 0; r < 200*T; r++ {
		if tmask.Data[r] == 0 {
			continue
		}
		total++
		if argmax(out[0].Data[r*k:(r+1)*k]) == argmax(ty.Data[r*k:(r+1)*k]) {
			right++
		}
	}
	acc := float64(right) / float64(total)
	t.Logf("delayed echo: last loss %.4f, test accuracy %.3f, %v", loss, acc, time.Since(start))
	if acc < 0.97 {
		t.Fatalf("test accuracy %.3f, want ≥ 0.97", acc)
	}
}

// firstSymbolData: variable-length one-hot sequences padded with zero steps
// at the end; the class is the first symbol.
func rnnFirstSymbolData(rng *rand.Rand, n, T, k int) (x, y *ir.Tensor) {
	x, y = ir.NewTensor(n, T, k), ir.NewTensor(n, k)
	for i := 0; i < n; i++ {
		length := 3 + rng.Intn(T-2)
		for s := 0; s < length; s++ {
			c := rng.Intn(k)
			x.Data[(i*T+s)*k+c] = 1
			if s == 0 {
				y.Data[i*k+c] = 1
			}
		}
	}
	return x, y
}

func TestLSTMLastTimeStepClassifier(t *testing.T) {
	const k, T, n = 3, 10, 600
	rng := rand.New(rand.NewSource(12))
	g := Sequential("first", []int{T, k},
		&ir.Masking{Value: 0},
		&ir.LSTM{Units: 16, Activation: rnnTanh, RecurrentActivation: rnnSig, ReturnSequences: true, UnitForgetBias: true},
		&ir.LastTimeStep{},
		&ir.Output{Units: k, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT})
	g.Train = &ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 0.02, Seed: 1}
	if err := InitGraph(g, ir.InitXavierUniform, 2); err != nil {
		t.Fatal(err)
	}
	net, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	x, y := rnnFirstSymbolData(rng, n, T, k)
	it, err := NewArrayIterator(x, y, 32, true, 3)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := net.Fit(it, FitConfig{Epochs: 15})
	if err != nil {
		t.Fatal(err)
	}
	tx, ty := rnnFirstSymbolData(rng, 300, T, k)
	out, err := net.Predict(tx)
	if err != nil {
		t.Fatal(err)
	}
	right := 0
	for i := 0; i < 300; i++ {
		if argmax(out[0].Data[i*k:(i+1)*k]) == argmax(ty.Data[i*k:(i+1)*k]) {
			right++
		}
	}
	acc := float64(right) / 300
	t.Logf("first symbol: final loss %.4f, test accuracy %.3f, %v", res.History[len(res.History)-1].Loss, acc, time.Since(start))
	if acc < 0.95 {
		t.Fatalf("test accuracy %.3f, want ≥ 0.95", acc)
	}
}
