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
	var ref *ir.Graph
	r := rand.New(rand.NewSource(1))
	for trial := 0; trial < 8; trial++ {
		b := New(src)
		for _, i := range r.Perm(len(edits)) {
			edits[i](b)
		}
		g := mustBuild(t, b)
		if ref == nil {
			ref = g
			if g.Vertex("d1").Frozen {
				t.Fatal("unfreeze must win")
			}
			if g.Vertex("aux").Layer.(*ir.Dense).Units != 7 || !ir.SameShape(shapeOf(g, "aux_out", "W"), []int{7, 2}) {
				t.Fatal("widen of an added vertex must run after the add")
			}
			continue
		}
		if !sameGraph(t, ref, g) {
			t.Fatalf("trial %d: a different order gave a different graph", trial)
		}
	}
}
