package retarget

import (
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// mobileBlock is MobileNetV2's expand conv, BN, relu6, a depthwise conv
// (multiplier 2), BN, relu6, project conv, pooled into a classifier.
func mobileBlock(t testing.TB) *ir.Graph {
	relu6 := func() *ir.ActivationLayer { return &ir.ActivationLayer{Activation: ir.Act(ir.ActReLU6)} }
	return graphOf(t, []ir.Input{{Name: "x", Shape: []int{3, 6, 6}}}, []*ir.Vertex{
		vx("expand", &ir.Conv{Rank: 2, Filters: 4, Kernel: []int{1, 1}, Padding: ir.PadSame}, "x"),
		vx("expand_bn", &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.99}, "expand"),
		vx("expand_relu", relu6(), "expand_bn"),
		vx("dw", &ir.Conv{Rank: 2, Filters: 8, Groups: 4, Kernel: []int{3, 3}, Padding: ir.PadSame}, "expand_relu"),
		vx("dw_bn", &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.99}, "dw"),
		vx("dw_relu", relu6(), "dw_bn"),
		vx("project", &ir.Conv{Rank: 2, Filters: 5, Kernel: []int{1, 1}, Padding: ir.PadSame}, "dw_relu"),
		vx("pool", &ir.GlobalPool{Rank: 2, Op: ir.PoolAvg}, "project"),
		vx("out", &ir.Output{Units: 3, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, "pool"),
	}, "out")
}

func TestWidenThroughDepthwise(t *testing.T) {
	src := mobileBlock(t)
	x := randTensor(9, 4, 3, 6, 6)
	before := predict(t, src, x)[0]
	for _, mode := range []WidenMode{WidenPreserve, WidenNet2Net, WidenRandom} {
		g := mustBuild(t, New(src).Widen("expand", 3, mode))
		dw := g.Vertex("dw")
		l := dw.Layer.(*ir.Conv)
		if l.Groups != 7 || l.Filters != 14 || !ir.SameShape(dw.Params["W"].Shape, []int{14, 1, 3, 3}) ||
			!ir.SameShape(g.Vertex("dw_bn").Params["gamma"].Shape, []int{14}) || !ir.SameShape(g.Vertex("project").Params["W"].Shape, []int{5, 14, 1, 1}) {
			t.Fatalf("%s: depthwise %+v W %v", mode, l, dw.Params["W"].Shape)
		}
		// the kept channels' filters are untouched; new ones are not all zero
		old := src.Vertex("dw").Params["W"]
		for i := 0; i < 8*9; i++ {
			if dw.Params["W"].Data[i] != old.Data[i] {
				t.Fatalf("%s: kept depthwise weight %d changed", mode, i)
			}
		}
		nz := false
		for _, w := range dw.Params["W"].Data[8*9:] {
			nz = nz || w != 0
		}
		if !nz {
			t.Errorf("%s: new depthwise filters are all zero (they would never learn)", mode)
		}
		d := maxDiff(before, predict(t, g, x)[0])
		if mode == WidenRandom {
			if d < 1e-5 {
				t.Errorf("random widen left outputs unchanged (diff %g)", d)
			}
		} else if d > 2e-6 {
			t.Errorf("%s widen through a depthwise conv changed outputs by %g", mode, d)
		}
	}
	g := mustBuild(t, New(src).ReplaceNOut("expand", 2, "", ""))
	if l := g.Vertex("dw").Layer.(*ir.Conv); l.Groups != 2 || l.Filters != 4 || !ir.SameShape(g.Vertex("project").Params["W"].Shape, []int{5, 4, 1, 1}) {
		t.Fatalf("replace_nout through a depthwise conv: %+v", l)
	}
}
