package nn

import (
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// TestCompileAllocatesGradientsAtFirstBackward: a compiled network holds no
// gradient buffers until it trains; then every trainable parameter has one
// of its size.
func TestCompileAllocatesGradientsAtFirstBackward(t *testing.T) {
	g := rnnGraph(t, []int{5},
		&ir.Embedding{InputDim: 7, OutputDim: 3},
		&ir.GRU{Units: 3, Activation: rnnTanh, RecurrentActivation: rnnSig, ResetAfter: true, ReturnSequences: true},
		&ir.RnnOutput{Units: 4, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT})
	net, err := CompileWith[float32](g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	held := func() (n int) {
		for _, nd := range net.nodes {
			for _, gr := range nd.params.Grads {
				n += len(gr.Data)
			}
		}
		return n
	}
	x := MatFromTensor[float32](ir.FromData([]float32{0, 6, 2, 2, 1, 5, 4, 3, 0, 0}, 2, 5))
	if _, err := net.Forward([]*Mat[float32]{x}, false); err != nil {
		t.Fatal(err)
	}
	if n := held(); n != 0 {
		t.Fatalf("%d gradient values held before any Backward", n)
	}
	y := MatFromTensor[float32](rnnOneHotSeq(rand.New(rand.NewSource(1)), 2, 5, 4))
	if _, err := net.TrainStep([]*Mat[float32]{x}, []*Mat[float32]{y}, nil); err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, nd := range net.nodes {
		for name, gr := range nd.params.Grads {
			if len(gr.Data) != len(nd.params.Values[name].Data) {
				t.Errorf("%s/%s: %d gradient values, want %d", nd.v.Name, name, len(gr.Data), len(nd.params.Values[name].Data))
			}
			want += len(nd.params.Values[name].Data)
		}
	}
	if n := held(); n == 0 || n != want {
		t.Fatalf("%d gradient values after TrainStep, want %d", n, want)
	}
	// the GRU's recurrent bias gradient (second row of b) was reached
	gb := net.Params("l1").Grads["b"].Data
	nonzero := false
	for _, v := range gb[len(gb)/2:] {
		nonzero = nonzero || v != 0
	}
	if !nonzero {
		t.Error("the GRU recurrent bias gradient stayed zero")
	}
}

// TestParamsAllocatesGradients: Params hands out usable gradient buffers
// before any Backward (callers set gradients and call Update).
func TestParamsAllocatesGradients(t *testing.T) {
	g := Sequential("lazy", []int{2}, &ir.Dense{Units: 3})
	if err := InitGraph(g, ir.InitXavierUniform, 1); err != nil {
		t.Fatal(err)
	}
	net, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	p := net.Params("l0")
	if len(p.Grads["W"].Data) != 6 || len(p.Grads["b"].Data) != 3 {
		t.Fatalf("gradients of %d and %d values, want 6 and 3", len(p.Grads["W"].Data), len(p.Grads["b"].Data))
	}
}

// TestGradGRUResetAfterNetwork checks the reset-after GRU's gradients
// (its recurrent bias gradient is a view taken at Backward) through a
// compiled network, whose gradient buffers are allocated lazily.
func TestGradGRUResetAfterNetwork(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	g := rnnGraph(t, []int{4, 2},
		&ir.GRU{Units: 3, Activation: rnnTanh, RecurrentActivation: rnnSig, ResetAfter: true, ReturnSequences: true},
		&ir.RnnOutput{Units: 2, Loss: ir.LossMSE})
	GradCheck(t, g, []*ir.Tensor{RandTensor(rng, -1, 1, 2, 4, 2)}, []*ir.Tensor{RandTensor(rng, -1, 1, 2, 4, 2)})
}
