package retarget

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// TestRandomEditsNeverPanic applies random (often invalid) edit sets: Build
// must return a valid graph or errors, never panic, and never touch the
// source.
func TestRandomEditsNeverPanic(t *testing.T) {
	srcs := []*ir.Graph{mlp(t), branches(t), cnnBN(t), rnnNet(t, &ir.GRU{Units: 3, ReturnSequences: true, ResetAfter: true})}
	r := rand.New(rand.NewSource(1))
	layers := []func() ir.Layer{
		func() ir.Layer { return &ir.Dense{Units: 1 + r.Intn(6)} },
		func() ir.Layer { return &ir.Dropout{Rate: 0.1} },
		func() ir.Layer { return &ir.Flatten{} },
		func() ir.Layer { return &ir.Merge{Op: ir.MergeAdd} },
		func() ir.Layer {
			return &ir.Conv{Rank: 2, Filters: 1 + r.Intn(4), Kernel: []int{3, 3}, Padding: ir.PadSame}
		},
		func() ir.Layer { return &ir.BatchNorm{Epsilon: 1e-3} },
	}
	inits := []ir.WeightInit{"", ir.InitIdentity, ir.InitHeNormal, "bogus"}
	modes := []WidenMode{WidenPreserve, WidenNet2Net, WidenRandom, "odd"}
	built := 0
	for trial := 0; trial < 300; trial++ {
		src := srcs[trial%len(srcs)]
		keep := src.Clone()
		names := append(vertexNames(src), "x", "nope", "n1", "n2")
		pick := func() string { return names[r.Intn(len(names))] }
		b := New(src)
		for k := 0; k < 1+r.Intn(4); k++ {
			switch r.Intn(11) {
			case 0:
				b.ReplaceNOut(pick(), r.Intn(6), inits[r.Intn(4)], "")
			case 1:
				b.ReplaceNIn(pick(), r.Intn(6), "")
			case 2:
				b.Widen(pick(), r.Intn(4), modes[r.Intn(4)])
			case 3:
				b.Remove(pick(), r.Intn(2) == 0)
			case 4:
				b.RemoveOutputs(r.Intn(3))
			case 5:
				b.Add(fmt.Sprint("n", 1+r.Intn(2)), layers[r.Intn(len(layers))](), pick(), pick())
			case 6:
				b.Insert(fmt.Sprint("n", 1+r.Intn(2)), layers[r.Intn(len(layers))](), pick(), inits[r.Intn(4)])
			case 7:
				b.SetInputs(pick(), pick())
			case 8:
				b.SetOutputs(pick())
			case 9:
				b.FreezeThrough(pick())
			case 10:
				b.Unfreeze(pick())
			}
		}
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("trial %d panicked: %v", trial, p)
				}
			}()
			g, err := b.Build()
			if err == nil {
				built++
				if verr := g.Validate(); verr != nil {
					t.Fatalf("trial %d: Build returned an invalid graph: %v", trial, verr)
				}
			}
		}()
		if !sameGraph(t, src, keep) {
			t.Fatalf("trial %d changed the source", trial)
		}
	}
	t.Logf("%d of 300 random edit sets built", built)
	if built == 0 {
		t.Fatal("no random edit set built: the Validate check above never ran")
	}
}
