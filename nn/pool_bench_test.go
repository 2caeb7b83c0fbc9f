package nn

import (
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// benchPool runs one pooling forward over a batch of x.
func benchPool(b *testing.B, p *ir.Pool, in []int) {
	g := Sequential("pool", in[1:], p)
	net, err := CompileWith[float32](g, Options{})
	if err != nil {
		b.Fatal(err)
	}
	x := NewMat[float32](in...)
	r := rand.New(rand.NewSource(1))
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := net.Forward([]*Mat[float32]{x}, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMaxPool3x3S2 is a pool like ResNet's stem one (3×3, stride 2,
// padding 1, 64 channels) on 56×56 planes at inference (maxValues).
func BenchmarkMaxPool3x3S2(b *testing.B) {
	benchPool(b, &ir.Pool{Rank: 2, Op: ir.PoolMax, Kernel: []int{3, 3}, Strides: []int{2, 2}, Padding: ir.PadExplicit, Pads: []int{1, 1, 1, 1}}, []int{8, 64, 56, 56})
}

func BenchmarkMaxPool3D(b *testing.B) {
	benchPool(b, &ir.Pool{Rank: 3, Op: ir.PoolMax, Kernel: []int{2, 2, 2}}, []int{4, 16, 16, 28, 28})
}

func BenchmarkConv3D(b *testing.B) {
	g := Sequential("conv3d", []int{16, 8, 28, 28}, &ir.Conv{Rank: 3, Filters: 32, Kernel: []int{3, 3, 3}, Padding: ir.PadSame, Activation: ir.Act(ir.ActReLU)})
	if err := InitGraph(g, ir.InitHeNormal, 1); err != nil {
		b.Fatal(err)
	}
	net, err := CompileWith[float32](g, Options{})
	if err != nil {
		b.Fatal(err)
	}
	x := NewMat[float32](4, 16, 8, 28, 28)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := net.Forward([]*Mat[float32]{x}, false); err != nil {
			b.Fatal(err)
		}
	}
}
