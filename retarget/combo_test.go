package retarget

import (
	"slices"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// holeNet is x[8] -> d1 -> drop -> d2 -> out, with aux -> aux2 on d1.
func holeNet(t testing.TB) *ir.Graph {
	return graphOf(t, []ir.Input{{Name: "x", Shape: []int{8}}}, []*ir.Vertex{
		vx("d1", &ir.Dense{Units: 16, Activation: ir.Act(ir.ActReLU)}, "x"),
		vx("drop", &ir.Dropout{Rate: 0.2}, "d1"),
		vx("d2", &ir.Dense{Units: 12, Activation: ir.Act(ir.ActTanh)}, "drop"),
		vx("out", &ir.Output{Units: 4, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, "d2"),
		vx("aux", &ir.Dense{Units: 3}, "d1"),
		vx("aux2", &ir.Dense{Units: 2}, "aux"),
	}, "out", "aux2")
}

func sameTensor(a, b *ir.Tensor) bool {
	return a != nil && b != nil && ir.SameShape(a.Shape, b.Shape) && slices.Equal(a.Data, b.Data)
}

// DL4J's canonical use: removeVertexKeepConnections, add a vertex of the
// same name, and resize what feeds it.
func TestRemoveKeepConnectionsThenReplaceNOutUpstream(t *testing.T) {
	cases := []struct {
		name   string
		layer  ir.Layer
		shapes map[string][]int // W shapes after the edits
		reinit []string         // vertices re-initialised (beyond d1)
	}{
		{"dropout", &ir.Dropout{Rate: 0.5}, map[string][]int{"d1": {8, 10}, "d2": {10, 12}, "aux": {10, 3}}, []string{"d2", "aux"}},
		{"dense", &ir.Dense{Units: 6, Activation: ir.Act(ir.ActReLU)}, map[string][]int{"d1": {8, 10}, "drop": {10, 6}, "d2": {6, 12}, "aux": {10, 3}}, []string{"drop", "d2", "aux"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := holeNet(t)
			edits := []func(*Builder){
				func(b *Builder) { b.Remove("drop", true) },
				func(b *Builder) { b.Add("drop", c.layer, "d1") },
				func(b *Builder) { b.ReplaceNOut("d1", 10, "", "") },
			}
			g := buildAnyOrder(t, src, edits, 6)
			for v, s := range c.shapes {
				if got := shapeOf(g, v, "W"); !ir.SameShape(got, s) {
					t.Errorf("%s W %v, want %v", v, got, s)
				}
			}
			for _, v := range c.reinit {
				if sameTensor(g.Vertex(v).Params["W"], src.Vertex(v).Params["W"]) {
					t.Errorf("%s kept its old weights", v)
				}
			}
			for _, v := range []string{"out", "aux2"} {
				if !sameTensor(g.Vertex(v).Params["W"], src.Vertex(v).Params["W"]) {
					t.Errorf("%s was changed", v)
				}
			}
			if g.Vertex("drop").Layer.Kind() != c.layer.Kind() || !slices.Equal(g.Vertex("d2").Inputs, []string{"drop"}) {
				t.Fatal("hole not filled")
			}
			predict(t, g, randTensor(1, 3, 8))
		})
	}
	// a resize downstream of the hole works too
	g := mustBuild(t, New(holeNet(t)).ReplaceNOut("d2", 5, "", "").Add("drop", &ir.Dropout{}, "d1").Remove("drop", true))
	if s := shapeOf(g, "out", "W"); !ir.SameShape(s, []int{5, 4}) {
		t.Fatal(s)
	}
	// an unfilled hole is reported as such; the resize itself succeeds
	_, err := New(holeNet(t)).Remove("drop", true).ReplaceNOut("d1", 10, "", "").Build()
	ps := Problems(err)
	if len(ps) == 0 || !strings.Contains(ps[0].Error(), `add a vertex named "drop"`) {
		t.Fatal(err)
	}
	for _, p := range ps {
		if _, ok := p.(*EditError); ok {
			t.Fatal("the resize failed:", p)
		}
	}
}

func TestRemoveThenAddNewOutput(t *testing.T) {
	src := holeNet(t)
	edits := []func(*Builder){
		func(b *Builder) { b.Remove("d2", false) }, // takes out with it
		func(b *Builder) {
			b.Add("head", &ir.Output{Units: 3, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, "drop")
		},
		func(b *Builder) { b.SetOutputs("head", "aux2") },
		func(b *Builder) { b.ReplaceNOut("d1", 10, "", ir.InitHeNormal) },
	}
	g := buildAnyOrder(t, src, edits, 8)
	if g.Vertex("d2") != nil || g.Vertex("out") != nil {
		t.Fatal("cascade did not remove d2 and out")
	}
	if len(g.Outputs) != 2 || g.Outputs[0].Vertex != "head" || g.Outputs[1].Name != "aux2" {
		t.Fatal(g.Outputs)
	}
	if s := shapeOf(g, "head", "W"); !ir.SameShape(s, []int{10, 3}) {
		t.Fatal(s)
	}
	// the added head is initialised as if added after the resize (its
	// own, default init), not with the resize's fan-out init
	want := mustBuild(t, New(mustBuild(t, New(src).Remove("d2", false).ReplaceNOut("d1", 10, "", ir.InitHeNormal))).
		Add("head", &ir.Output{Units: 3, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, "drop"))
	if !sameTensor(g.Vertex("head").Params["W"], want.Vertex("head").Params["W"]) {
		t.Fatal("head not initialised with its own init")
	}
	out := predict(t, g, randTensor(2, 4, 8))
	if !ir.SameShape(out[0].Shape, []int{4, 3}) {
		t.Fatal(out[0].Shape)
	}
	// without keepConnections nothing needs filling: a plain remove of
	// the last layer plus a new output
	g2 := mustBuild(t, New(src).Remove("out", false).Add("out2", &ir.Output{Units: 2, Loss: ir.LossMSE}, "d2").SetOutputs("out2"))
	if len(g2.Outputs) != 1 || g2.Outputs[0].Vertex != "out2" || g2.Vertex("out") != nil || !ir.SameShape(shapeOf(g2, "out2", "W"), []int{12, 2}) {
		t.Fatal(g2.Outputs)
	}
}

func TestInsertAfterWidenedVertex(t *testing.T) {
	src := mlp(t)
	x := randTensor(4, 5, 8)
	before := predict(t, src, x)[0]
	for _, mode := range []WidenMode{WidenPreserve, WidenNet2Net} {
		edits := []func(*Builder){
			func(b *Builder) { b.Insert("ins", &ir.Dense{}, "d1", ir.InitIdentity) },
			func(b *Builder) { b.Widen("d1", 4, mode) },
		}
		g := buildAnyOrder(t, src, edits, 4)
		// the insert takes d1's width before the widen; the widen then
		// extends the inserted identity's input rows
		if g.Vertex("ins").Layer.(*ir.Dense).Units != 16 || !ir.SameShape(shapeOf(g, "ins", "W"), []int{20, 16}) {
			t.Fatal(mode, shapeOf(g, "ins", "W"))
		}
		if !slices.Equal(g.Vertex("d2").Inputs, []string{"ins"}) || !sameTensor(g.Vertex("d2").Params["W"], src.Vertex("d2").Params["W"]) {
			t.Fatal(mode, "d2 must read ins with its trained weights")
		}
		if d := maxDiff(before, predict(t, g, x)[0]); d > 2e-6 {
			t.Errorf("%s: outputs changed by %g", mode, d)
		}
	}
}

func TestWidenAndReplaceNIn(t *testing.T) {
	src := mlp(t)
	// widen a vertex whose input is replaced: the input weights are
	// re-initialised for the new size, then widened; d2 keeps its
	// trained rows and gets zero rows for the new units
	edits := []func(*Builder){
		func(b *Builder) { b.Widen("d1", 4, WidenPreserve) },
		func(b *Builder) { b.ReplaceNIn("d1", 5, "") },
	}
	g := buildAnyOrder(t, src, edits, 4)
	if !ir.SameShape(g.Input("x").Shape, []int{5}) || !ir.SameShape(shapeOf(g, "d1", "W"), []int{5, 20}) {
		t.Fatal(g.Input("x").Shape, shapeOf(g, "d1", "W"))
	}
	w, w0 := g.Vertex("d2").Params["W"], src.Vertex("d2").Params["W"]
	if !ir.SameShape(w.Shape, []int{20, 12}) || !slices.Equal(w.Data[:16*12], w0.Data) {
		t.Fatal("d2 lost its trained rows")
	}
	for _, v := range w.Data[16*12:] {
		if v != 0 {
			t.Fatal("preserve widen must give zero rows")
		}
	}
	// ReplaceNIn on the consumer of a widened Dense is not possible (its
	// input is no graph input): the same single problem in either order
	var msgs []string
	for _, b := range []*Builder{
		New(src).Widen("d1", 4, WidenPreserve).ReplaceNIn("d2", 5, ""),
		New(src).ReplaceNIn("d2", 5, "").Widen("d1", 4, WidenPreserve),
	} {
		_, err := b.Build()
		ps := Problems(err)
		if len(ps) != 1 || !strings.Contains(ps[0].Error(), "use replace_nout") {
			t.Fatal(err)
		}
		msgs = append(msgs, strings.ReplaceAll(ps[0].Error(), "edit 2", "edit 1"))
	}
	if msgs[0] != msgs[1] {
		t.Fatal(msgs)
	}
}
