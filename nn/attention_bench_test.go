package nn

import (
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// BenchmarkAttentionStep is one forward and backward pass of a
// MultiHeadAttention block (batch 8, 64 steps, width 256, 8 heads), the
// shape bench/attention_torch.py times for torch.nn.MultiheadAttention.
func BenchmarkAttentionStep(b *testing.B) {
	g := attentionGraph("bench", &ir.MultiHeadAttention{Heads: 8, KeyDim: 32}, []int{64, 256})
	if err := InitGraph(g, ir.InitXavierUniform, 1); err != nil {
		b.Fatal(err)
	}
	net, err := Compile(g)
	if err != nil {
		b.Fatal(err)
	}
	x := MatFromTensor[float32](RandTensor(rand.New(rand.NewSource(1)), -1, 1, 8, 64, 256))
	dy := NewMat[float32](8, 64, 256)
	for i := range dy.Data {
		dy.Data[i] = 1e-3
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := net.Forward([]*Mat[float32]{x}, true); err != nil {
			b.Fatal(err)
		}
		if err := net.Backward([]*Mat[float32]{dy}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKerasAttentionStep is one forward and backward pass of Keras's
// Attention (dot, scaled) and AdditiveAttention (scaled) on batch 8, 64
// query and value steps of width 64.
func BenchmarkKerasAttentionStep(b *testing.B) {
	for _, a := range []ir.Attention{{Score: ir.ScoreDot, UseScale: true}, {Score: ir.ScoreAdditive, UseScale: true, Dim: 64}} {
		b.Run(a.Score, func(b *testing.B) {
			g := luongGraph("bench", &a, false, []int{64, 64}, []int{64, 64})
			if err := InitGraph(g, ir.InitXavierUniform, 1); err != nil {
				b.Fatal(err)
			}
			net, err := Compile(g)
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewSource(1))
			q := MatFromTensor[float32](RandTensor(rng, -1, 1, 8, 64, 64))
			v := MatFromTensor[float32](RandTensor(rng, -1, 1, 8, 64, 64))
			dy := NewMat[float32](8, 64, 64)
			for i := range dy.Data {
				dy.Data[i] = 1e-3
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := net.Forward([]*Mat[float32]{q, v}, true); err != nil {
					b.Fatal(err)
				}
				if err := net.Backward([]*Mat[float32]{dy}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
