package retarget

import (
	"testing"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// Resizing the filters of a Conv3D follows the channels through BatchNorm
// and 3-D pooling into the next Conv3D and ConvTranspose3D, and the edited
// graph runs.
func TestReplaceNOutVolumetric(t *testing.T) {
	src := graphOf(t, []ir.Input{{Name: "v", Shape: []int{2, 6, 6, 6}, Layout: ir.LayoutNDHWC}}, []*ir.Vertex{
		vx("c1", &ir.Conv{Rank: 3, Filters: 4, Kernel: []int{3, 3, 3}, Padding: ir.PadSame, Activation: ir.Act(ir.ActReLU)}, "v"),
		vx("bn", &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.99}, "c1"),
		vx("pool", &ir.Pool{Rank: 3, Op: ir.PoolMax, Kernel: []int{2, 2, 2}, Dilations: []int{1, 1, 1}}, "bn"),
		vx("c2", &ir.Conv{Rank: 3, Filters: 3, Kernel: []int{2, 2, 2}, Padding: ir.PadValid}, "pool"),
		vx("up", &ir.ConvTranspose2D{Rank: 3, Filters: 2, Kernel: []int{2, 2, 2}, Strides: []int{2, 2, 2}}, "pool"),
		vx("g1", &ir.GlobalPool{Rank: 3, Op: ir.PoolAvg}, "c2"),
		vx("g2", &ir.GlobalPool{Rank: 3, Op: ir.PoolMax}, "up"),
		vx("cat", &ir.Concat{Axis: 0}, "g1", "g2"),
		vx("out", &ir.Output{Units: 2, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, "cat"),
	}, "out")
	g := mustBuild(t, New(src).ReplaceNOut("c1", 6, ir.InitHeNormal, ir.InitXavierUniform))
	for _, c := range []struct {
		v, p  string
		shape []int
	}{
		{"c1", "W", []int{6, 2, 3, 3, 3}}, {"bn", "mean", []int{6}},
		{"c2", "W", []int{3, 6, 2, 2, 2}}, {"up", "W", []int{6, 2, 2, 2, 2}},
	} {
		if s := shapeOf(g, c.v, c.p); !ir.SameShape(s, c.shape) {
			t.Errorf("%s %s: shape %v, want %v", c.v, c.p, s, c.shape)
		}
	}
	if !g.Vertex("out").Params["W"].Equal(src.Vertex("out").Params["W"]) {
		t.Error("out is past the next weighted layers and must keep its weights")
	}
	net, err := nn.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := net.Predict(ir.NewTensor(2, 6, 6, 6, 2)); err != nil {
		t.Fatal(err)
	}
}
