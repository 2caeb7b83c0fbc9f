package nn

import (
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// Shapes shared with testdata/gen/nn_bench_torch.py.
const (
	benchConvN, benchConvC, benchConvF, benchConvHW = 32, 16, 32, 32
	benchDenseN, benchDenseIn, benchDenseOut        = 128, 512, 512
)

// coreBenchStep times forward + backward (parameter and input gradients)
// of one layer, without the updater.
func coreBenchStep(b *testing.B, g *ir.Graph, x *ir.Tensor) {
	if err := InitGraph(g, ir.InitHeUniform, 1); err != nil {
		b.Fatal(err)
	}
	net, err := CompileWith[float32](g, Options{InputGrads: true})
	if err != nil {
		b.Fatal(err)
	}
	in := []*Mat[float32]{MatFromTensor[float32](x)}
	outs, _ := net.Forward(in, true)
	seed := []*Mat[float32]{NewMat[float32](outs[0].Shape...)}
	for i := range seed[0].Data {
		seed[0].Data[i] = 1e-3
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := net.Forward(in, true); err != nil {
			b.Fatal(err)
		}
		if err := net.Backward(seed); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConv2DStep(b *testing.B) {
	g := Sequential("bconv", []int{benchConvC, benchConvHW, benchConvHW},
		&ir.Conv{Rank: 2, Filters: benchConvF, Kernel: []int{3, 3}, Padding: ir.PadSame})
	coreBenchStep(b, g, RandTensor(rand.New(rand.NewSource(1)), -1, 1, benchConvN, benchConvC, benchConvHW, benchConvHW))
}

func BenchmarkDenseStep(b *testing.B) {
	g := Sequential("bdense", []int{benchDenseIn}, &ir.Dense{Units: benchDenseOut})
	coreBenchStep(b, g, RandTensor(rand.New(rand.NewSource(1)), -1, 1, benchDenseN, benchDenseIn))
}
