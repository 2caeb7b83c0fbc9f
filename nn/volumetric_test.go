package nn

import (
	"fmt"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// 3-D (volumetric, NCDHW) layers and dilated max pooling.

func TestGradConv3D(t *testing.T) {
	cases := []ir.Conv{
		{Kernel: []int{2, 3, 3}, Padding: ir.PadValid},
		{Kernel: []int{3, 2, 3}, Padding: ir.PadSame, Strides: []int{2, 1, 2}},
		{Kernel: []int{2, 2, 2}, Padding: ir.PadExplicit, Pads: []int{1, 0, 1, 0, 1, 1}, Dilations: []int{2, 1, 2}},
		{Kernel: []int{3, 3, 1}, Padding: ir.PadSame, Groups: 2, Filters: 4, NoBias: true, Activation: ir.Act(ir.ActTanh)},
		{Kernel: []int{2, 2, 2}, Padding: ir.PadValid, Groups: 4, Filters: 4}, // depthwise
	}
	for i, c := range cases {
		c := c
		c.Rank = 3
		if c.Filters == 0 {
			c.Filters = 3
		}
		t.Run(fmt.Sprintf("case%d", i), func(t *testing.T) {
			coreCheckLayer(t, fmt.Sprintf("conv3d_%d", i), []int{4, 5, 4, 6}, &c, -1, 1)
		})
	}
}

func TestGradConvTranspose3D(t *testing.T) {
	cases := []ir.ConvTranspose2D{
		{Kernel: []int{2, 3, 3}, Padding: ir.PadValid},
		{Kernel: []int{3, 3, 2}, Strides: []int{2, 1, 2}, Padding: ir.PadSame},
		{Kernel: []int{2, 2, 3}, Strides: []int{2, 2, 1}, Padding: ir.PadExplicit, Pads: []int{1, 0, 0, 0, 1, 1}, OutputPadding: []int{1, 0, 0}},
		{Kernel: []int{2, 2, 2}, Dilations: []int{2, 1, 1}, Groups: 2, Filters: 4, NoBias: true, Activation: ir.Act(ir.ActSigmoid)},
	}
	for i, c := range cases {
		c := c
		c.Rank = 3
		if c.Filters == 0 {
			c.Filters = 3
		}
		t.Run(fmt.Sprintf("case%d", i), func(t *testing.T) {
			coreCheckLayer(t, fmt.Sprintf("convt3d_%d", i), []int{2, 3, 4, 3}, &c, -1, 1)
		})
	}
}

func TestGradPool3D(t *testing.T) {
	cases := []ir.Pool{
		{Rank: 3, Op: ir.PoolMax, Kernel: []int{2, 2, 2}},
		{Rank: 3, Op: ir.PoolMax, Kernel: []int{3, 2, 3}, Strides: []int{2, 1, 2}, Padding: ir.PadExplicit, Pads: []int{1, 0, 1, 1, 1, 0}},
		{Rank: 3, Op: ir.PoolMax, Kernel: []int{2, 3, 2}, Strides: []int{2, 2, 2}, CeilMode: true},
		{Rank: 3, Op: ir.PoolAvg, Kernel: []int{2, 2, 2}},
		{Rank: 3, Op: ir.PoolAvg, Kernel: []int{3, 3, 3}, Strides: []int{2, 2, 1}, Padding: ir.PadSame},
		{Rank: 3, Op: ir.PoolAvg, Kernel: []int{3, 2, 3}, Strides: []int{2, 2, 2}, Padding: ir.PadExplicit, Pads: []int{1, 1, 0, 1, 0, 1}, CountIncludePad: true, CeilMode: true},
	}
	for i, c := range cases {
		c := c
		t.Run(fmt.Sprintf("%s_%d", c.Kind(), i), func(t *testing.T) {
			coreCheckLayer(t, fmt.Sprintf("pool3d_%d", i), []int{2, 5, 6, 5}, &c, -1, 1)
		})
	}
	for _, c := range []ir.GlobalPool{{Rank: 3, Op: ir.PoolMax}, {Rank: 3, Op: ir.PoolAvg, KeepDims: true}} {
		c := c
		t.Run(c.Kind(), func(t *testing.T) { coreCheckLayer(t, c.Kind(), []int{3, 2, 4, 3}, &c, -1, 1) })
	}
}

func TestGradPoolDilated(t *testing.T) {
	cases := []struct {
		in []int
		p  ir.Pool
	}{
		{[]int{2, 11}, ir.Pool{Rank: 1, Op: ir.PoolMax, Kernel: []int{3}, Strides: []int{2}, Dilations: []int{2}, Padding: ir.PadExplicit, Pads: []int{1, 1}}},
		{[]int{2, 8, 9}, ir.Pool{Rank: 2, Op: ir.PoolMax, Kernel: []int{3, 2}, Strides: []int{2, 1}, Dilations: []int{2, 3}, Padding: ir.PadExplicit, Pads: []int{1, 0, 1, 1}}},
		{[]int{2, 8, 9}, ir.Pool{Rank: 2, Op: ir.PoolMax, Kernel: []int{2, 2}, Strides: []int{2, 2}, Dilations: []int{2, 2}, CeilMode: true}},
		{[]int{1, 6, 5, 7}, ir.Pool{Rank: 3, Op: ir.PoolMax, Kernel: []int{2, 2, 2}, Dilations: []int{2, 1, 3}}},
	}
	for i, c := range cases {
		c := c
		t.Run(fmt.Sprintf("%s_%d", c.p.Kind(), i), func(t *testing.T) {
			coreCheckLayer(t, fmt.Sprintf("dilpool_%d", i), c.in, &c.p, -1, 1)
		})
	}
	if _, err := (&ir.Pool{Rank: 2, Op: ir.PoolAvg, Kernel: []int{2, 2}, Dilations: []int{2, 2}}).OutputShape([][]int{{1, 6, 6}}); err == nil {
		t.Error("a dilated average pool was accepted")
	}
}

func TestGradBatchNorm5D(t *testing.T) {
	coreCheckLayer(t, "bn_5d", []int{3, 2, 3, 4}, &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.9}, -1, 2)
}
