package retarget

import (
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

func cnnBN(t testing.TB) *ir.Graph {
	return graphOf(t, []ir.Input{{Name: "x", Shape: []int{3, 8, 8}}}, []*ir.Vertex{
		vx("c1", &ir.Conv{Rank: 2, Filters: 4, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: ir.Act(ir.ActReLU)}, "x"),
		vx("bn", &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.99}, "c1"),
		vx("pool", &ir.Pool{Rank: 2, Op: ir.PoolMax, Kernel: []int{2, 2}}, "bn"),
		vx("flat", &ir.Flatten{}, "pool"),
		vx("d", &ir.Dense{Units: 10, Activation: ir.Act(ir.ActReLU)}, "flat"),
		vx("out", &ir.Output{Units: 5, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, "d"),
	}, "out")
}

func branches(t testing.TB) *ir.Graph {
	return graphOf(t, []ir.Input{{Name: "x", Shape: []int{8}}}, []*ir.Vertex{
		vx("a", &ir.Dense{Units: 5, Activation: ir.Act(ir.ActTanh)}, "x"),
		vx("b0", &ir.Dense{Units: 5, Activation: ir.Act(ir.ActTanh)}, "x"),
		vx("b", &ir.Dropout{Rate: 0.1}, "b0"),
		vx("sum", &ir.Merge{Op: ir.MergeAdd}, "a", "b"),
		vx("d", &ir.Dense{Units: 4, Activation: ir.Act(ir.ActTanh)}, "sum"),
		vx("cat", &ir.Concat{Axis: -1}, "a", "x"),
		vx("e", &ir.Dense{Units: 3, Activation: ir.Act(ir.ActTanh)}, "cat"),
		vx("out", &ir.Output{Units: 2, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, "d"),
		vx("out2", &ir.Output{Units: 2, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, "e"),
	}, "out", "out2")
}

func shapeOf(g *ir.Graph, v, p string) []int { return g.Vertex(v).Params[p].Shape }

func TestReplaceNOutFollowsBatchNormPoolFlatten(t *testing.T) {
	src := cnnBN(t)
	keep := src.Clone()
	g := mustBuild(t, New(src).ReplaceNOut("c1", 6, ir.InitHeNormal, ir.InitXavierUniform))
	if !sameGraph(t, src, keep) {
		t.Fatal("the source graph changed")
	}
	if s := shapeOf(g, "c1", "W"); !ir.SameShape(s, []int{6, 3, 3, 3}) {
		t.Fatal("c1 W", s)
	}
	for _, p := range []string{"gamma", "beta", "mean", "var"} {
		if s := shapeOf(g, "bn", p); !ir.SameShape(s, []int{6}) {
			t.Fatal("bn", p, s)
		}
	}
	if s := shapeOf(g, "d", "W"); !ir.SameShape(s, []int{6 * 4 * 4, 10}) {
		t.Fatal("d W", s)
	}
	if !g.Vertex("out").Params["W"].Equal(src.Vertex("out").Params["W"]) {
		t.Fatal("out is past the next weighted layer and must keep its weights")
	}
	// re-initialised BatchNorm statistics
	if g.Vertex("bn").Params["var"].Data[0] != 1 || g.Vertex("bn").Params["mean"].Data[0] != 0 {
		t.Fatal("bn not re-initialised")
	}
}

func TestReplaceNOutThroughMergeAndConcat(t *testing.T) {
	src := branches(t)
	g, notes, err := New(src).ReplaceNOut("a", 7, "", "").BuildNotes()
	if err != nil {
		t.Fatal(err)
	}
	t.Log(notes)
	want := map[string][]int{"a": {8, 7}, "b0": {8, 7}, "d": {7, 4}, "e": {15, 3}}
	for v, s := range want {
		if got := shapeOf(g, v, "W"); !ir.SameShape(got, s) {
			t.Errorf("%s W %v, want %v", v, got, s)
		}
	}
	if !g.Vertex("out").Params["W"].Equal(src.Vertex("out").Params["W"]) {
		t.Error("out changed")
	}
	if !g.Vertex("b0").Params["W"].Equal(g.Vertex("b0").Params["W"]) || g.Vertex("b0").Params["W"].Equal(src.Vertex("b0").Params["W"]) {
		t.Error("b0 must be re-initialised")
	}
	if len(notes) == 0 || !strings.Contains(strings.Join(notes, " "), "b0") {
		t.Error("the tie to b0 should be noted", notes)
	}
	if _, err := New(src).ReplaceNOut("out", 3, "", "").Build(); err != nil {
		t.Fatal(err)
	}
}

func TestReplaceNOutOutputClassCount(t *testing.T) {
	src := mlp(t)
	g := mustBuild(t, New(src).ReplaceNOut("out", 3, "", ""))
	o := g.Vertex("out").Layer.(*ir.Output)
	if o.Units != 3 || o.Activation.Kind != ir.ActSoftmax || o.Loss != ir.LossMCXENT {
		t.Fatalf("%+v", o)
	}
	if !g.Vertex("d2").Params["W"].Equal(src.Vertex("d2").Params["W"]) {
		t.Fatal("d2 must be untouched")
	}
	out := predict(t, g, randTensor(1, 4, 8))[0]
	if !ir.SameShape(out.Shape, []int{4, 3}) {
		t.Fatal(out.Shape)
	}
}

func TestReplaceNIn(t *testing.T) {
	src := mlp(t)
	g := mustBuild(t, New(src).ReplaceNIn("d1", 5, ir.InitHeUniform))
	if !ir.SameShape(g.Inputs[0].Shape, []int{5}) || !ir.SameShape(shapeOf(g, "d1", "W"), []int{5, 16}) {
		t.Fatal(g.Inputs[0].Shape, shapeOf(g, "d1", "W"))
	}
	if _, err := New(src).ReplaceNIn("d2", 5, "").Build(); err == nil || !strings.Contains(err.Error(), "replace_nout") {
		t.Fatal("replace_nin of a vertex not reading a graph input must fail with advice:", err)
	}
}

func TestBuildReportsEveryProblem(t *testing.T) {
	src := mlp(t)
	_, err := New(src).
		ReplaceNOut("nope", 3, "", "").
		Widen("out", 2, WidenPreserve).
		Add("extra", &ir.Dense{Units: 3}, "missing").
		Remove("x", false).
		FreezeThrough("zzz").
		ReplaceNOut("d1", 0, "", "").
		Build()
	probs := Problems(err)
	if len(probs) != 6 {
		t.Fatalf("want 6 problems, got %d: %v", len(probs), err)
	}
	for _, want := range []string{`"nope"`, "widen supports", `"missing"`, "graph input", `"zzz"`, "positive"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}

func TestRemoveAndAdd(t *testing.T) {
	src := mlp(t)
	// DL4J's classic: replace the output layer keeping its connections
	g := mustBuild(t, New(src).Remove("out", true).Add("out", &ir.Output{Units: 3, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, "d2"))
	if !ir.SameShape(shapeOf(g, "out", "W"), []int{12, 3}) || g.Outputs[0].Vertex != "out" {
		t.Fatal("replace output failed")
	}
	if _, err := New(src).Remove("out", true).Build(); err == nil || !strings.Contains(err.Error(), "nothing was added") {
		t.Fatal("an unfilled hole must be reported:", err)
	}
	g = mustBuild(t, New(src).Remove("d2", false).Add("new_out", &ir.Output{Units: 2, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, "d1").SetOutputs("new_out"))
	if g.Vertex("out") != nil || g.Vertex("d2") != nil || len(g.Vertices) != 2 {
		t.Fatal("remove without connections must drop the dependants:", vertexNames(g))
	}
	b := branches(t)
	g = mustBuild(t, New(b).RemoveOutputs(1))
	for _, gone := range []string{"out2", "e", "cat"} {
		if g.Vertex(gone) != nil {
			t.Error(gone, "should be removed with its output")
		}
	}
	if g.Vertex("a") == nil || len(g.Outputs) != 1 {
		t.Error("shared vertices must stay")
	}
}

func TestFineTuneNeverChangesOutputLayer(t *testing.T) {
	src := mlp(t)
	src.Train = &ir.TrainConfig{Updater: ir.UpdSGD, LearningRate: 0.1, L2: 1e-4}
	src.Vertex("d1").Train = &ir.TrainConfig{LearningRate: 0.5}
	g := mustBuild(t, New(src).FineTune(ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 1e-3}).
		AddWith("aux", &ir.Dense{Units: 2}, AddOptions{Train: &ir.TrainConfig{LearningRate: 0.01}}, "d2"))
	if g.Train.Updater != ir.UpdAdam || g.Train.LearningRate != 1e-3 || g.Train.L2 != 1e-4 {
		t.Fatalf("%+v", g.Train)
	}
	if g.Vertex("d1").Train != nil || g.Vertex("aux").Train.LearningRate != 0.01 {
		t.Fatal("per-vertex overrides")
	}
	o := g.Vertex("out").Layer.(*ir.Output)
	if o.Activation.Kind != ir.ActSoftmax || o.Loss != ir.LossMCXENT {
		t.Fatal(o)
	}
	if _, err := New(src).FineTune(ir.TrainConfig{Updater: "adamax", LearningRate: -1}).Build(); len(Problems(err)) != 2 {
		t.Fatal("bad fine-tune values must all be reported:", err)
	}
}

func TestReplaceNOutThroughReshapePermuteAndRecurrent(t *testing.T) {
	g := graphOf(t, []ir.Input{{Name: "x", Shape: []int{2, 4, 4}}}, []*ir.Vertex{
		vx("c", &ir.Conv{Rank: 2, Filters: 3, Kernel: []int{3, 3}, Padding: ir.PadSame}, "x"),
		vx("r", &ir.Reshape{Shape: []int{3, 16}}, "c"),
		vx("p", &ir.Permute{Perm: []int{1, 0}}, "r"),
		vx("bi", &ir.Bidirectional{Layer: &ir.LSTM{Units: 5, Activation: ir.Act(ir.ActTanh), RecurrentActivation: ir.Act(ir.ActSigmoid), ReturnSequences: true}, Merge: ir.BiConcat}, "p"),
		vx("last", &ir.LastTimeStep{}, "bi"),
		vx("flat_in", &ir.Reshape{Shape: []int{-1}}, "last"),
		vx("out", &ir.Output{Units: 2, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, "flat_in"),
	}, "out")
	n := mustBuild(t, New(g).ReplaceNOut("c", 6, "", ""))
	if s := shapeOf(n, "bi", "fw/W"); !ir.SameShape(s, []int{6, 20}) {
		t.Fatal("bi fw/W", s)
	}
	if r := n.Vertex("r").Layer.(*ir.Reshape).Shape; r[0] != 6 {
		t.Fatal("reshape target", r)
	}
	n = mustBuild(t, New(g).ReplaceNOut("bi", 4, "", ""))
	if s := shapeOf(n, "out", "W"); !ir.SameShape(s, []int{8, 2}) {
		t.Fatal("out W after a Bidirectional resize", s)
	}
	x := randTensor(1, 2, 2, 4, 4)
	predict(t, n, x)
	// replacing a vertex in DL4J style and resizing it in the same builder
	m := mustBuild(t, New(mlp(t)).ReplaceNOut("out", 3, "", "").Remove("out", true).
		Add("out", &ir.Output{Units: 5, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, "d2"))
	if m.Vertex("out").Layer.(*ir.Output).Units != 3 {
		t.Fatal("a resize of a re-added vertex must run after the add")
	}
}
