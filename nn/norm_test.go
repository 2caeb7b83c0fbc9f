package nn

import (
	"math"
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

func TestGradBatchNorm(t *testing.T) {
	coreCheckLayer(t, "bn_conv", []int{3, 4, 5}, &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.9}, -1, 2)
	coreCheckLayer(t, "bn_dense", []int{4}, &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.9}, -1, 2)
	coreCheckLayer(t, "bn_seq_axis1", []int{3, 4}, &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.9, Axis: 1, NoScale: true}, -1, 2)
	coreCheckLayer(t, "bn_nocenter", []int{2, 5}, &ir.BatchNorm{Epsilon: 1e-5, Momentum: 0.9, NoCenter: true}, -1, 2)
}

func TestGradBatchNormFrozenUsesStoredStats(t *testing.T) {
	g := Sequential("bnf", []int{3}, &ir.Dense{Units: 3}, &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.9})
	coreInit(t, g, 1)
	bn := g.Vertex("l1")
	bn.Frozen = true
	bn.Params["mean"].Data = []float32{0.5, -0.2, 0.1}
	bn.Params["var"].Data = []float32{2, 0.5, 1.5}
	rng := rand.New(rand.NewSource(2))
	GradCheck(t, g, []*ir.Tensor{RandTensor(rng, -1, 1, 4, 3)}, nil)
	// a training step through a frozen BN leaves its statistics and output
	// identical to inference
	net, _ := Compile(g)
	x := MatFromTensor[float32](RandTensor(rng, -1, 1, 4, 3))
	a, _ := net.Forward([]*Mat[float32]{x}, true)
	ya := append([]float32(nil), a[0].Data...)
	b, _ := net.Forward([]*Mat[float32]{x}, false)
	for i := range ya {
		if ya[i] != b[0].Data[i] {
			t.Fatal("frozen BatchNorm used batch statistics in training")
		}
	}
	if bn.Params["mean"].Data[0] != 0.5 {
		t.Fatal("frozen BatchNorm moved its statistics")
	}
}

func TestBatchNormRunningStats(t *testing.T) {
	g := Sequential("bnr", []int{2}, &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.9})
	coreInit(t, g, 1)
	net, _ := Compile(g)
	x := &Mat[float32]{Shape: []int{4, 2}, Data: []float32{1, 0, 2, 0, 3, 0, 4, 8}}
	net.Forward([]*Mat[float32]{x}, true)
	m, v := g.Vertex("l0").Params["mean"].Data, g.Vertex("l0").Params["var"].Data
	// batch mean 2.5, unbiased var 5/3; second channel mean 2, var 16
	if math.Abs(float64(m[0])-0.25) > 1e-6 || math.Abs(float64(v[0])-(0.9+0.1*5.0/3)) > 1e-6 ||
		math.Abs(float64(m[1])-0.2) > 1e-6 || math.Abs(float64(v[1])-(0.9+1.6)) > 1e-5 {
		t.Fatalf("running stats %v %v", m, v)
	}
}

func TestGradLayerNorm(t *testing.T) {
	coreCheckLayer(t, "ln_last", []int{3, 5}, &ir.LayerNorm{Epsilon: 1e-3, Axis: -1}, -1, 2)
	coreCheckLayer(t, "ln_two", []int{2, 3, 4}, &ir.LayerNorm{Epsilon: 1e-3, Axis: 1}, -1, 2)
	coreCheckLayer(t, "ln_noscale", []int{6}, &ir.LayerNorm{Epsilon: 1e-5, Axis: -1, NoScale: true, NoCenter: true}, -1, 2)
}

func TestGradInstanceNorm(t *testing.T) {
	coreCheckLayer(t, "in_2d", []int{3, 4, 5}, &ir.InstanceNorm{Epsilon: 1e-5}, -1, 2)
	coreCheckLayer(t, "in_1d", []int{2, 6}, &ir.InstanceNorm{Epsilon: 1e-3}, -1, 2)
	coreCheckLayer(t, "in_3d", []int{2, 3, 2, 3}, &ir.InstanceNorm{Epsilon: 1e-5}, -1, 2)
}
