package nn

import (
	"errors"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

var (
	rnnTanh = ir.Act(ir.ActTanh)
	rnnSig  = ir.Act(ir.ActSigmoid)
)

func rnnGraph(t *testing.T, in []int, layers ...ir.Layer) *ir.Graph {
	t.Helper()
	g := Sequential("rnn", in, layers...)
	if err := InitGraph(g, ir.InitXavierUniform, 3); err != nil {
		t.Fatal(err)
	}
	return g
}

// oneHotSeq is [n, T, k] one-hot labels with random classes.
func rnnOneHotSeq(rng *rand.Rand, n, T, k int) *ir.Tensor {
	y := ir.NewTensor(n, T, k)
	for i := 0; i < n*T; i++ {
		y.Data[i*k+rng.Intn(k)] = 1
	}
	return y
}

func TestRnnNetworkGradients(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	mask := ir.FromData([]float32{1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 3, 5)

	t.Run("Embedding-LSTM-RnnOutput", func(t *testing.T) {
		g := rnnGraph(t, []int{5},
			&ir.Embedding{InputDim: 7, OutputDim: 3},
			&ir.LSTM{Units: 3, Activation: rnnTanh, RecurrentActivation: rnnSig, ReturnSequences: true},
			&ir.RnnOutput{Units: 4, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT})
		x := ir.FromData([]float32{0, 6, 2, 2, 1, 5, 4, 3, 0, 0, 1, 1, 2, 3, 5}, 3, 5)
		GradCheck(t, g, []*ir.Tensor{x}, []*ir.Tensor{rnnOneHotSeq(rng, 3, 5, 4)},
			GradCheckOptions{SkipInputs: true, Masks: []*ir.Tensor{mask}})
	})
	t.Run("GRU-RnnOutput-sparse-inputmask", func(t *testing.T) {
		g := rnnGraph(t, []int{5, 2},
			&ir.GRU{Units: 3, Activation: rnnTanh, RecurrentActivation: rnnSig, ReturnSequences: true},
			&ir.RnnOutput{Units: 3, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossSparseMCXENT})
		y := ir.NewTensor(3, 5)
		for i := range y.Data {
			y.Data[i] = float32(rng.Intn(3))
		}
		GradCheck(t, g, []*ir.Tensor{RandTensor(rng, -1, 1, 3, 5, 2)}, []*ir.Tensor{y},
			GradCheckOptions{InputMask: mask})
	})
	t.Run("Masking-Bidirectional-RnnOutput", func(t *testing.T) {
		g := rnnGraph(t, []int{5, 2},
			&ir.Masking{Value: 0},
			&ir.Bidirectional{Layer: &ir.LSTM{Units: 2, Activation: rnnTanh, RecurrentActivation: rnnSig, ReturnSequences: true}, Merge: ir.BiConcat},
			&ir.RnnOutput{Units: 2, Loss: ir.LossMSE})
		x := RandTensor(rng, -1, 1, 3, 5, 2)
		for _, s := range []int{3, 4, 5, 6} { // padding: row 0 steps 3-4, row 1 steps 0-1
			x.Data[2*s], x.Data[2*s+1] = 0, 0
		}
		// The padded steps' inputs change the mask when perturbed.
		GradCheck(t, g, []*ir.Tensor{x}, []*ir.Tensor{RandTensor(rng, -1, 1, 3, 5, 2)}, GradCheckOptions{SkipInputs: true})
	})
	t.Run("PeepholeLSTM-LastTimeStep-Output", func(t *testing.T) {
		g := rnnGraph(t, []int{5, 2},
			&ir.LSTM{Units: 3, Activation: rnnTanh, RecurrentActivation: rnnSig, Peephole: true, ReturnSequences: true},
			&ir.LastTimeStep{},
			&ir.Output{Units: 3, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT})
		y := ir.FromData([]float32{1, 0, 0, 0, 0, 1, 0, 1, 0}, 3, 3)
		GradCheck(t, g, []*ir.Tensor{RandTensor(rng, -1, 1, 3, 5, 2)}, []*ir.Tensor{y},
			GradCheckOptions{InputMask: mask})
	})
	t.Run("Dense-RepeatVector-GRU-RnnOutput", func(t *testing.T) {
		g := rnnGraph(t, []int{3},
			&ir.Dense{Units: 2, Activation: rnnTanh},
			&ir.RepeatVector{N: 4},
			&ir.GRU{Units: 3, Activation: rnnTanh, RecurrentActivation: rnnSig, ReturnSequences: true, GoBackwards: true},
			&ir.RnnOutput{Units: 2, Activation: rnnSig, Loss: ir.LossXENT})
		GradCheck(t, g, []*ir.Tensor{RandTensor(rng, -1, 1, 2, 3)}, []*ir.Tensor{RandTensor(rng, 0, 1, 2, 4, 2)})
	})
}

func TestEmbeddingBadIndexIsAnError(t *testing.T) {
	g := rnnGraph(t, []int{3},
		&ir.Embedding{InputDim: 4, OutputDim: 2},
		&ir.LSTM{Units: 2, Activation: rnnTanh, RecurrentActivation: rnnSig})
	n, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []float32{4, -1, 1.5, float32(math.NaN())} {
		x := ir.FromData([]float32{0, 1, bad}, 1, 3)
		_, err := n.Predict(x)
		var ve *ir.VertexError
		if !errors.As(err, &ve) || ve.Vertex != "l0" || !strings.Contains(err.Error(), "input_dim") {
			t.Errorf("index %v: err = %v, want an error naming vertex l0", bad, err)
		}
	}
	if _, err := n.Predict(ir.FromData([]float32{0, 3, 2}, 1, 3)); err != nil {
		t.Fatal(err)
	}
}

func TestRecurrentMaskSizeMismatchIsAnError(t *testing.T) {
	g := rnnGraph(t, []int{4, 2}, &ir.GRU{Units: 2, Activation: rnnTanh, RecurrentActivation: rnnSig, ResetAfter: true})
	n, err := CompileWith[float32](g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	n.SetInputMask([]float32{1, 1, 1})
	x := NewMat[float32](2, 4, 2)
	if _, err := n.Forward([]*Mat[float32]{x}, false); err == nil || !strings.Contains(err.Error(), "mask") {
		t.Fatalf("err = %v, want a mask size error", err)
	}
}

// A masked step keeps the state and emits zeros; the same sequence without
// its padding gives the same final state.
func TestRecurrentMaskSemantics(t *testing.T) {
	for _, l := range []ir.Layer{
		&ir.LSTM{Units: 3, Activation: rnnTanh, RecurrentActivation: rnnSig, ReturnSequences: true, Peephole: true},
		&ir.GRU{Units: 3, Activation: rnnTanh, RecurrentActivation: rnnSig, ReturnSequences: true},
		&ir.SimpleRNN{Units: 3, Activation: rnnTanh, ReturnSequences: true},
	} {
		t.Run(l.Kind(), func(t *testing.T) {
			rng := rand.New(rand.NewSource(1))
			full := rnnGraph(t, []int{5, 2}, &ir.Masking{Value: 0}, l, &ir.LastTimeStep{})
			short := full.Clone()
			short.Inputs[0].Shape = []int{3, 2}
			x := RandTensor(rng, -1, 1, 1, 5, 2)
			xs := ir.FromData(append([]float32(nil), x.Data[2:8]...), 1, 3, 2) // steps 1..3
			x.Data[0], x.Data[1], x.Data[8], x.Data[9] = 0, 0, 0, 0            // pad steps 0 and 4
			a := rnnPredict1(t, full, x)
			b := rnnPredict1(t, short, xs)
			for i := range a.Data {
				if d := a.Data[i] - b.Data[i]; d > 1e-6 || d < -1e-6 {
					t.Fatalf("masked %v, unpadded %v", a.Data, b.Data)
				}
			}
			seq := Sequential("seq", []int{5, 2}, &ir.Masking{Value: 0}, l)
			seq.Vertices[1].Params = full.Vertices[1].Params
			y := rnnPredict1(t, seq, x)
			for _, s := range []int{0, 4} {
				for j := 0; j < 3; j++ {
					if y.Data[s*3+j] != 0 {
						t.Fatalf("masked step %d output %v, want zeros", s, y.Data[s*3:s*3+3])
					}
				}
			}
		})
	}
}

func rnnPredict1(t *testing.T, g *ir.Graph, x *ir.Tensor) *ir.Tensor {
	t.Helper()
	n, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	out, err := n.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}
