package retarget

import (
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

func TestFreezeThenUnfreezeMovesBoundary(t *testing.T) {
	src := mlp(t)
	frozen := func(g *ir.Graph) map[string]bool {
		m := map[string]bool{}
		for _, v := range g.Vertices {
			m[v.Name] = v.Frozen
		}
		return m
	}
	g := mustBuild(t, New(src).FreezeThrough("d2"))
	if f := frozen(g); !f["d1"] || !f["d2"] || f["out"] {
		t.Fatal(f)
	}
	if b := Boundary(g); len(b) != 1 || b[0] != "d2" {
		t.Fatal(b)
	}
	g2 := mustBuild(t, New(g).Unfreeze("d2"))
	if f := frozen(g2); !f["d1"] || f["d2"] || f["out"] {
		t.Fatal(f)
	}
	if b := Boundary(g2); len(b) != 1 || b[0] != "d1" {
		t.Fatal(b)
	}
	// in one builder, Unfreeze wins whatever the order
	a := mustBuild(t, New(src).Unfreeze("d2").FreezeThrough("d2"))
	if f := frozen(a); !f["d1"] || f["d2"] {
		t.Fatal(f)
	}
}

func TestEditsInAnyOrderGiveTheSameGraph(t *testing.T) {
	src := mlp(t)
	src.Train = &ir.TrainConfig{Updater: ir.UpdSGD, LearningRate: 0.1}
	edits := []func(*Builder){
		func(b *Builder) { b.FineTune(ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 1e-3, Seed: 99}) },
		func(b *Builder) { b.ReplaceNOut("out", 3, "", ir.InitHeNormal) },
		func(b *Builder) { b.Widen("d1", 4, WidenNet2Net) },
		func(b *Builder) { b.Insert("id", &ir.Dense{Units: 12}, "d2", ir.InitIdentity) },
		func(b *Builder) { b.FreezeThrough("d1") },
		func(b *Builder) { b.Unfreeze("d1") },
		func(b *Builder) { b.FreezeThrough("d1") },
		func(b *Builder) { b.Add("aux", &ir.Dense{Units: 5, Activation: ir.Act(ir.ActTanh)}, "id") },
		func(b *Builder) {
			b.Add("aux_out", &ir.Output{Units: 2, Activation: ir.Act(ir.ActSigmoid), Loss: ir.LossXENT}, "aux")
		},
		func(b *Builder) { b.SetOutputs("out", "aux_out") },
		func(b *Builder) { b.Widen("aux", 2, WidenRandom) },
	}
	g := buildAnyOrder(t, src, edits, 8)
	if g.Vertex("d1").Frozen {
		t.Fatal("unfreeze must win")
	}
	if g.Vertex("aux").Layer.(*ir.Dense).Units != 7 || !ir.SameShape(shapeOf(g, "aux_out", "W"), []int{7, 2}) {
		t.Fatal("widen of an added vertex must run after the add")
	}

	// remove + resize: a hole filled by a wider Dense, resizes on both
	// sides of it, a widen followed by an identity insert, a cascade
	// removal and a new output on what is left
	src2 := holeNet(t)
	edits2 := []func(*Builder){
		func(b *Builder) { b.Remove("drop", true) },
		func(b *Builder) { b.Add("drop", &ir.Dense{Units: 10, Activation: ir.Act(ir.ActReLU)}, "d1") },
		func(b *Builder) { b.ReplaceNOut("d1", 12, "", ir.InitHeNormal) },
		func(b *Builder) { b.ReplaceNOut("d2", 9, "", "") },
		func(b *Builder) { b.Widen("d2", 3, WidenNet2Net) },
		func(b *Builder) { b.Insert("ins", &ir.Dense{}, "d2", ir.InitIdentity) },
		func(b *Builder) { b.Remove("aux", false) },
		func(b *Builder) { b.Add("head", &ir.Output{Units: 2, Loss: ir.LossMSE}, "ins") },
		func(b *Builder) { b.SetOutputs("out", "head") },
		func(b *Builder) { b.FreezeThrough("drop") },
	}
	g2 := buildAnyOrder(t, src2, edits2, 12)
	for _, c := range []struct {
		vertex string
		shape  []int
	}{{"d1", []int{8, 12}}, {"drop", []int{12, 10}}, {"d2", []int{10, 12}}, {"ins", []int{12, 12}}, {"out", []int{12, 4}}, {"head", []int{12, 2}}} {
		if s := shapeOf(g2, c.vertex, "W"); !ir.SameShape(s, c.shape) {
			t.Errorf("%s W %v, want %v", c.vertex, s, c.shape)
		}
	}
	if g2.Vertex("aux") != nil || g2.Vertex("aux2") != nil || !g2.Vertex("d1").Frozen || g2.Vertex("d2").Frozen {
		t.Fatal("cascade or freezing wrong")
	}
}

// buildAnyOrder builds src with the edits in trials random orders, checks
// every order gives the same graph and returns it.
func buildAnyOrder(t *testing.T, src *ir.Graph, edits []func(*Builder), trials int) *ir.Graph {
	t.Helper()
	var ref *ir.Graph
	r := rand.New(rand.NewSource(1))
	for trial := 0; trial < trials; trial++ {
		b := New(src)
		perm := r.Perm(len(edits))
		if trial == 0 {
			for i := range perm {
				perm[i] = i
			}
		}
		for _, i := range perm {
			edits[i](b)
		}
		g := mustBuild(t, b)
		if ref == nil {
			ref = g
		} else if !sameGraph(t, ref, g) {
			t.Fatalf("trial %d (order %v): a different order gave a different graph", trial, perm)
		}
	}
	return ref
}
