package retarget

import (
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

func convNet(t testing.TB) *ir.Graph {
	return graphOf(t, []ir.Input{{Name: "x", Shape: []int{2, 6, 6}}}, []*ir.Vertex{
		vx("c1", &ir.Conv{Rank: 2, Filters: 4, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: ir.Act(ir.ActReLU)}, "x"),
		vx("c2", &ir.Conv{Rank: 2, Filters: 3, Kernel: []int{3, 3}, Padding: ir.PadValid, Activation: ir.Act(ir.ActTanh)}, "c1"),
	}, "c2")
}

func TestInsertIdentityKeepsPredictions(t *testing.T) {
	cases := []struct {
		name  string
		g     *ir.Graph
		after string
		layer ir.Layer
		x     *ir.Tensor
	}{
		{"dense_linear", mlp(t), "d2", &ir.Dense{Units: 12}, randTensor(1, 5, 8)},
		{"dense_relu_after_relu", mlp(t), "d1", &ir.Dense{Units: 16, Activation: ir.Act(ir.ActReLU)}, randTensor(2, 5, 8)},
		{"conv3x3", convNet(t), "c1", &ir.Conv{Rank: 2, Filters: 4, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: ir.Act(ir.ActReLU)}, randTensor(3, 2, 2, 6, 6)},
		{"conv5x5_dilated", convNet(t), "c1", &ir.Conv{Rank: 2, Filters: 4, Kernel: []int{3, 3}, Dilations: []int{2, 2}, Padding: ir.PadSame}, randTensor(4, 2, 2, 6, 6)},
		{"conv_on_input", convNet(t), "x", &ir.Conv{Rank: 2, Filters: 2, Kernel: []int{5, 5}, Padding: ir.PadSame}, randTensor(5, 2, 2, 6, 6)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, notes, err := New(c.g).Insert("ins", c.layer, c.after, ir.InitIdentity).BuildNotes()
			if err != nil {
				t.Fatal(err)
			}
			if len(notes) > 0 {
				t.Fatal("unexpected notes", notes)
			}
			if d := maxDiff(predict(t, c.g, c.x)[0], predict(t, g, c.x)[0]); d > 1e-6 {
				t.Fatalf("outputs changed by %g", d)
			}
			if g.Vertex("ins") == nil || g.Vertex("ins").Inputs[0] != c.after {
				t.Fatal("not inserted")
			}
		})
	}
	// relu after a tanh input changes the outputs: allowed, but noted
	_, notes, err := New(mlp(t)).Insert("ins", &ir.Dense{Units: 12, Activation: ir.Act(ir.ActReLU)}, "d2", ir.InitIdentity).BuildNotes()
	if err != nil || len(notes) != 1 || !strings.Contains(notes[0], "changes the outputs") {
		t.Fatal(notes, err)
	}
	if _, err := New(mlp(t)).Insert("ins", &ir.Dense{Units: 7}, "d2", ir.InitIdentity).Build(); err == nil {
		t.Fatal("a non-square identity must fail")
	}
	// a non-identity insert of another size re-initialises the consumer
	g, notes, err := New(mlp(t)).Insert("ins", &ir.Dense{Units: 7}, "d2", "").BuildNotes()
	if err != nil || !ir.SameShape(shapeOf(g, "out", "W"), []int{7, 4}) || len(notes) != 1 {
		t.Fatal(err, notes)
	}
}

func TestWidenConvKeepsPredictions(t *testing.T) {
	src := convNet(t)
	x := randTensor(9, 3, 2, 6, 6)
	before := predict(t, src, x)[0]
	for _, mode := range []WidenMode{WidenPreserve, WidenNet2Net, WidenRandom} {
		g := mustBuild(t, New(src).Widen("c1", 3, mode))
		if s := shapeOf(g, "c2", "W"); !ir.SameShape(s, []int{3, 7, 3, 3}) {
			t.Fatal(s)
		}
		d := maxDiff(before, predict(t, g, x)[0])
		if mode == WidenRandom && d < 1e-4 || mode != WidenRandom && d > 2e-6 {
			t.Errorf("%s: diff %g", mode, d)
		}
	}
}
