package nn

import (
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// BenchmarkLSTMStep is one forward+backward of an LSTM(128) over a batch of
// 32 sequences of 50 steps with 64 features.
func BenchmarkLSTMStep(b *testing.B) {
	l := &ir.LSTM{Units: 128, Activation: rnnTanh, RecurrentActivation: rnnSig, ReturnSequences: true}
	in := [][]int{{50, 64}}
	rng := rand.New(rand.NewSource(1))
	params := &Params[float32]{Values: map[string]*Mat[float32]{}, Grads: map[string]*Mat[float32]{}}
	for _, s := range l.Params(in) {
		m := NewMat[float32](s.Shape...)
		for i := range m.Data {
			m.Data[i] = float32(rng.Float64()*0.2 - 0.1)
		}
		params.Values[s.Name] = m
		params.Grads[s.Name] = NewMat[float32](s.Shape...)
	}
	op, err := newRecurrent[float32](&ir.Vertex{Name: "lstm", Layer: l}, in, []int{50, 128}, params)
	if err != nil {
		b.Fatal(err)
	}
	x := NewMat[float32](32, 50, 64)
	for i := range x.Data {
		x.Data[i] = float32(rng.Float64()*2 - 1)
	}
	dy := NewMat[float32](32, 50, 128)
	for i := range dy.Data {
		dy.Data[i] = float32(rng.Float64()*2 - 1)
	}
	p := &Pass[float32]{Train: true}
	b.ResetTimer()
	for range b.N {
		op.Forward(p, []*Mat[float32]{x})
		op.Backward(p, dy)
	}
}
