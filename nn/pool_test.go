package nn

import (
	"fmt"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

func TestGradPool(t *testing.T) {
	cases := []ir.Pool{
		{Rank: 2, Op: ir.PoolMax, Kernel: []int{2, 2}},
		{Rank: 2, Op: ir.PoolMax, Kernel: []int{3, 3}, Strides: []int{2, 2}, Padding: ir.PadSame},
		{Rank: 2, Op: ir.PoolMax, Kernel: []int{3, 2}, Strides: []int{2, 2}, CeilMode: true},
		{Rank: 2, Op: ir.PoolAvg, Kernel: []int{2, 2}},
		{Rank: 2, Op: ir.PoolAvg, Kernel: []int{3, 3}, Strides: []int{2, 2}, Padding: ir.PadSame},
		{Rank: 2, Op: ir.PoolAvg, Kernel: []int{3, 3}, Strides: []int{2, 2}, Padding: ir.PadExplicit, Pads: []int{1, 1, 1, 1}, CountIncludePad: true},
		{Rank: 2, Op: ir.PoolAvg, Kernel: []int{3, 3}, Strides: []int{2, 2}, Padding: ir.PadExplicit, Pads: []int{1, 0, 1, 0}, CeilMode: true, CountIncludePad: true},
		{Rank: 2, Op: ir.PoolAvg, Kernel: []int{2, 3}, Strides: []int{2, 2}, CeilMode: true},
		{Rank: 1, Op: ir.PoolMax, Kernel: []int{2}},
		{Rank: 1, Op: ir.PoolAvg, Kernel: []int{3}, Strides: []int{2}, Padding: ir.PadSame},
		{Rank: 1, Op: ir.PoolAvg, Kernel: []int{2}, Strides: []int{2}, CeilMode: true},
	}
	for i, c := range cases {
		c := c
		in := []int{2, 7, 6}
		if c.Rank == 1 {
			in = []int{2, 7}
		}
		t.Run(fmt.Sprintf("%s_%d", c.Kind(), i), func(t *testing.T) {
			coreCheckLayer(t, fmt.Sprintf("pool_%d", i), in, &c, -1, 1)
		})
	}
	for _, c := range []ir.GlobalPool{{Rank: 2, Op: ir.PoolMax}, {Rank: 2, Op: ir.PoolAvg, KeepDims: true}, {Rank: 1, Op: ir.PoolAvg}, {Rank: 1, Op: ir.PoolMax, KeepDims: true}} {
		c := c
		in := []int{3, 4, 5}
		if c.Rank == 1 {
			in = []int{3, 5}
		}
		t.Run(c.Kind(), func(t *testing.T) { coreCheckLayer(t, c.Kind(), in, &c, -1, 1) })
	}
}
