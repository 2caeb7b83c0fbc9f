package nn

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// coreCheckLayer gradient-checks one layer on a random input (batch 2).
func coreCheckLayer(t *testing.T, name string, in []int, l ir.Layer, lo, hi float64) {
	t.Helper()
	g := Sequential(name, in, l)
	if err := InitGraph(g, ir.InitXavierUniform, 3); err != nil {
		t.Fatal(err)
	}
	for _, v := range g.Vertices {
		for _, p := range v.Params {
			// non-trivial biases and scales
			for i := range p.Data {
				if p.Data[i] == 0 || p.Data[i] == 1 {
					p.Data[i] += float32(rand.New(rand.NewSource(int64(i))).Float64()*0.4 - 0.2)
				}
			}
		}
	}
	rng := rand.New(rand.NewSource(int64(len(name))))
	x := RandTensor(rng, lo, hi, append([]int{2}, in...)...)
	GradCheck(t, g, []*ir.Tensor{x}, nil)
}

func TestGradConv2D(t *testing.T) {
	cases := []ir.Conv{
		{Kernel: []int{3, 3}, Padding: ir.PadValid},
		{Kernel: []int{3, 3}, Padding: ir.PadSame, Strides: []int{2, 2}},
		{Kernel: []int{2, 3}, Padding: ir.PadSameLow, Strides: []int{2, 1}},
		{Kernel: []int{3, 2}, Padding: ir.PadSame, Dilations: []int{2, 2}},
		{Kernel: []int{3, 3}, Padding: ir.PadExplicit, Pads: []int{1, 0, 2, 1}, Strides: []int{1, 2}},
		{Kernel: []int{1, 1}, Padding: ir.PadValid, NoBias: true},
		{Kernel: []int{3, 3}, Padding: ir.PadSame, Groups: 2, Activation: ir.Act(ir.ActTanh)},
		{Kernel: []int{3, 3}, Padding: ir.PadSame, Groups: 4, Filters: 8, Strides: []int{2, 2}}, // depthwise ×2
		{Kernel: []int{3, 3}, Padding: ir.PadValid, Activation: ir.Activation{Kind: ir.ActSoftmax, Axis: 0}},
		{Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: ir.Act(ir.ActSwish)}, // Backward reads the pre-activation
		{Kernel: []int{1, 1}, Padding: ir.PadValid, Activation: ir.Act(ir.ActELU)},
	}
	for i, c := range cases {
		c := c
		c.Rank = 2
		if c.Filters == 0 {
			c.Filters = 4
		}
		t.Run(fmt.Sprintf("case%d", i), func(t *testing.T) {
			coreCheckLayer(t, fmt.Sprintf("conv2d_%d", i), []int{4, 6, 7}, &c, -1, 1)
		})
	}
}

func TestGradConv1D(t *testing.T) {
	cases := []ir.Conv{
		{Kernel: []int{3}, Padding: ir.PadValid},
		{Kernel: []int{3}, Padding: ir.PadCausal, Dilations: []int{2}},
		{Kernel: []int{4}, Padding: ir.PadSame, Strides: []int{2}},
		{Kernel: []int{3}, Padding: ir.PadExplicit, Pads: []int{2, 1}, Groups: 3, Filters: 6},
	}
	for i, c := range cases {
		c := c
		c.Rank = 1
		if c.Filters == 0 {
			c.Filters = 2
		}
		t.Run(fmt.Sprintf("case%d", i), func(t *testing.T) {
			coreCheckLayer(t, fmt.Sprintf("conv1d_%d", i), []int{3, 9}, &c, -1, 1)
		})
	}
}

func TestGradConvBatchChunks(t *testing.T) {
	// several samples in one GEMM (chunk > 1) and a frozen input prefix
	rng := rand.New(rand.NewSource(4))
	g := Sequential("chunks", []int{2, 5, 5}, &ir.Conv{Rank: 2, Filters: 3, Kernel: []int{3, 3}, Padding: ir.PadSame},
		&ir.Conv{Rank: 2, Filters: 2, Kernel: []int{2, 2}, Strides: []int{2, 2}, Padding: ir.PadValid, Groups: 1})
	coreInit(t, g, 5)
	GradCheck(t, g, []*ir.Tensor{RandTensor(rng, -1, 1, 4, 2, 5, 5)}, nil)
	g.Vertices[0].Frozen = true
	GradCheck(t, g, []*ir.Tensor{RandTensor(rng, -1, 1, 4, 2, 5, 5)}, nil)
}

func TestGradConvTranspose2D(t *testing.T) {
	cases := []ir.ConvTranspose2D{
		{Kernel: []int{3, 3}, Padding: ir.PadValid},
		{Kernel: []int{3, 3}, Strides: []int{2, 2}, Padding: ir.PadSame},
		{Kernel: []int{2, 3}, Strides: []int{2, 1}, Padding: ir.PadExplicit, Pads: []int{1, 0, 0, 1}, OutputPadding: []int{1, 0}},
		{Kernel: []int{3, 3}, Dilations: []int{2, 1}, Groups: 2, Filters: 4, NoBias: true, Activation: ir.Act(ir.ActSigmoid)},
	}
	for i, c := range cases {
		c := c
		if c.Filters == 0 {
			c.Filters = 3
		}
		t.Run(fmt.Sprintf("case%d", i), func(t *testing.T) {
			coreCheckLayer(t, fmt.Sprintf("convt_%d", i), []int{2, 4, 5}, &c, -1, 1)
		})
	}
}

func TestGradSeparableConv2D(t *testing.T) {
	cases := []ir.SeparableConv2D{
		{Filters: 4, Kernel: []int{3, 3}, Padding: ir.PadSame, DepthMultiplier: 1},
		{Filters: 3, Kernel: []int{3, 2}, Padding: ir.PadValid, DepthMultiplier: 2, Strides: []int{2, 1}, Activation: ir.Act(ir.ActReLU6)},
	}
	for i, c := range cases {
		c := c
		t.Run(fmt.Sprintf("case%d", i), func(t *testing.T) {
			coreCheckLayer(t, fmt.Sprintf("sep_%d", i), []int{2, 5, 6}, &c, -1, 1)
		})
	}
}
