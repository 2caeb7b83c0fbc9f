package nn

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// coreInit initialises a graph for tests and fails on error.
func coreInit(t *testing.T, g *ir.Graph, seed int64) *ir.Graph {
	t.Helper()
	if err := InitGraph(g, ir.InitXavierUniform, seed); err != nil {
		t.Fatal(err)
	}
	return g
}

// coreLabels builds labels suited to a loss for an output [n, c].
func coreLabels(rng *rand.Rand, loss ir.Loss, n, c int) *ir.Tensor {
	switch loss {
	case ir.LossSparseMCXENT:
		t := ir.NewTensor(n)
		for i := range t.Data {
			t.Data[i] = float32(rng.Intn(c))
		}
		return t
	case ir.LossMCXENT, ir.LossNLL:
		t := ir.NewTensor(n, c)
		for i := 0; i < n; i++ {
			t.Data[i*c+rng.Intn(c)] = 1
		}
		return t
	case ir.LossKLD:
		t := RandTensor(rng, 0.1, 1, n, c)
		for i := 0; i < n; i++ {
			var s float32
			for j := 0; j < c; j++ {
				s += t.Data[i*c+j]
			}
			for j := 0; j < c; j++ {
				t.Data[i*c+j] /= s
			}
		}
		return t
	case ir.LossXENT:
		return RandTensor(rng, 0, 1, n, c)
	case ir.LossHinge, ir.LossSquaredHinge:
		t := ir.NewTensor(n, c)
		for i := range t.Data {
			t.Data[i] = float32(2*rng.Intn(2) - 1)
		}
		return t
	case ir.LossPoisson:
		return RandTensor(rng, 0, 3, n, c)
	}
	return RandTensor(rng, -1, 1, n, c)
}

func TestGradDenseActivations(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, k := range ir.KnownActivations {
		act := ir.Activation{Kind: k}
		switch k {
		case ir.ActLeakyReLU:
			act.Alpha = 0.1
		case ir.ActELU:
			act.Alpha = 0.7
		case ir.ActThresholdReLU:
			act.Alpha = 0.2
		case ir.ActClip:
			act.Alpha, act.Beta = -0.5, 0.6
		case ir.ActSoftmax, ir.ActLogSoftmax:
			act.Axis = -1
		}
		t.Run(string(k), func(t *testing.T) {
			g := coreInit(t, Sequential("dense_"+string(k), []int{5}, &ir.Dense{Units: 4, Activation: act}), 2)
			x := RandTensor(rng, -2, 2, 3, 5)
			GradCheck(t, g, []*ir.Tensor{x}, nil)
		})
	}
}

func TestGradDenseRank3NoBias(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	g := coreInit(t, Sequential("dense3", []int{3, 4}, &ir.Dense{Units: 2, NoBias: true, Activation: ir.Act(ir.ActTanh)},
		&ir.Dense{Units: 3, Activation: ir.Activation{Kind: ir.ActSoftmax, Axis: 0}}), 4)
	GradCheck(t, g, []*ir.Tensor{RandTensor(rng, -1, 1, 2, 3, 4)}, nil)
}

func TestGradOutputLosses(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	type tc struct {
		loss   ir.Loss
		act    ir.ActKind
		logits bool
	}
	var cases []tc
	for _, l := range ir.KnownLosses {
		switch l {
		case ir.LossMCXENT, ir.LossSparseMCXENT, ir.LossNLL, ir.LossKLD:
			cases = append(cases, tc{l, ir.ActSoftmax, false}, tc{l, ir.ActIdentity, true}, tc{l, ir.ActSigmoid, false})
		case ir.LossXENT:
			cases = append(cases, tc{l, ir.ActSigmoid, false}, tc{l, ir.ActIdentity, true}, tc{l, ir.ActSoftmax, false})
		case ir.LossPoisson:
			cases = append(cases, tc{l, ir.ActSoftplus, false})
		default:
			cases = append(cases, tc{l, ir.ActIdentity, false}, tc{l, ir.ActTanh, false})
		}
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s_%s_%v", c.loss, c.act, c.logits), func(t *testing.T) {
			g := coreInit(t, Sequential("out", []int{4}, &ir.Dense{Units: 6, Activation: ir.Act(ir.ActTanh)},
				&ir.Output{Units: 3, Loss: c.loss, Activation: ir.Activation{Kind: c.act, Axis: -1}, FromLogits: c.logits}), 7)
			x := RandTensor(rng, -1, 1, 5, 4)
			y := coreLabels(rng, c.loss, 5, 3)
			GradCheck(t, g, []*ir.Tensor{x}, []*ir.Tensor{y})
		})
	}
}

func TestGradOutputMaskedSequence(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	g := coreInit(t, Sequential("seqout", []int{4, 3}, &ir.Output{Units: 5, Loss: ir.LossMCXENT, Activation: ir.Activation{Kind: ir.ActSoftmax, Axis: -1}}), 9)
	x := RandTensor(rng, -1, 1, 2, 4, 3)
	y := ir.NewTensor(2, 4, 5)
	for r := 0; r < 8; r++ {
		y.Data[r*5+rng.Intn(5)] = 1
	}
	mask := ir.FromData([]float32{1, 1, 1, 0, 1, 1, 0, 0}, 2, 4)
	GradCheck(t, g, []*ir.Tensor{x}, []*ir.Tensor{y}, GradCheckOptions{Masks: []*ir.Tensor{mask}})
}

func TestComputeLossValues(t *testing.T) {
	z := &Mat[float64]{Shape: []int{1, 3}, Data: []float64{1, 2, 3}}
	lab := &Mat[float64]{Shape: []int{1, 3}, Data: []float64{0, 0, 1}}
	l, err := ComputeLoss(LossSpec{Loss: ir.LossMCXENT, FromLogits: true}, z, z, lab, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := -(3 - math.Log(math.Exp(1)+math.Exp(2)+math.Exp(3)))
	if math.Abs(l-want) > 1e-12 {
		t.Fatalf("mcxent from logits = %v, want %v", l, want)
	}
	// masked rows do not count
	z2 := &Mat[float64]{Shape: []int{2, 1}, Data: []float64{1, 5}}
	lab2 := &Mat[float64]{Shape: []int{2, 1}, Data: []float64{0, 0}}
	l, _ = ComputeLoss(LossSpec{Loss: ir.LossMSE}, z2, z2, lab2, []float64{1, 0}, nil)
	if l != 1 {
		t.Fatalf("masked mse = %v, want 1", l)
	}
	if _, err := ComputeLoss(LossSpec{Loss: ir.LossSparseMCXENT}, z, z, &Mat[float64]{Shape: []int{1}, Data: []float64{3}}, nil, nil); err == nil {
		t.Fatal("out-of-range sparse label accepted")
	}
}

// TestDenseWritesItsGradients: a dense layer's Backward writes its
// gradients instead of adding to cleared ones, so they hold this step's
// gradient only, and a layer no gradient reaches (an output without a seed)
// holds zeros, not the previous step's.
func TestDenseWritesItsGradients(t *testing.T) {
	g := &ir.Graph{Name: "two_heads", Inputs: []ir.Input{{Name: "x", Shape: []int{6}}},
		Vertices: []*ir.Vertex{
			{Name: "d1", Layer: &ir.Dense{Units: 4, Activation: ir.Act(ir.ActTanh)}, Inputs: []string{"x"}},
			{Name: "d2", Layer: &ir.Dense{Units: 3}, Inputs: []string{"x"}},
		},
		Outputs: []ir.GraphOutput{{Name: "d1", Vertex: "d1"}, {Name: "d2", Vertex: "d2"}}}
	coreInit(t, g, 3)
	net, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(8))
	x := MatFromTensor[float32](RandTensor(rng, -1, 1, 5, 6))
	s1 := MatFromTensor[float32](RandTensor(rng, -1, 1, 5, 4))
	s2 := MatFromTensor[float32](RandTensor(rng, -1, 1, 5, 3))
	grads := func(name string) []float32 {
		return append([]float32(nil), net.byName[name].params.Grads["W"].Data...)
	}
	step := func(seeds ...*Mat[float32]) {
		if _, err := net.Forward([]*Mat[float32]{x}, true); err != nil {
			t.Fatal(err)
		}
		if err := net.Backward(seeds); err != nil {
			t.Fatal(err)
		}
	}
	step(s1, s2)
	once1, once2 := grads("d1"), grads("d2")
	step(s1, s2)
	for i, v := range grads("d1") {
		if v != once1[i] {
			t.Fatalf("second identical step: d1 gradient[%d] = %v, want %v (not a sum of both steps)", i, v, once1[i])
		}
	}
	nonzero := false
	for _, v := range once2 {
		nonzero = nonzero || v != 0
	}
	step(s1, nil)
	for i, v := range grads("d2") {
		if v != 0 {
			t.Fatalf("no seed for d2: its gradient[%d] = %v, want 0", i, v)
		}
	}
	if !nonzero {
		t.Fatal("d2's gradient was zero to begin with: the test checks nothing")
	}
}
