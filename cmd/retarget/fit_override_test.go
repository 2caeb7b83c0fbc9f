package main

import (
	"path/filepath"
	"testing"

	"github.com/retarget-dev/retarget/exporters/native"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// fit without training flags keeps each vertex's own training override
// (as a plan's `add: {train: ...}` writes it); with a flag, the fine-tune
// configuration replaces them, as FineTune documents.
func TestFitKeepsVertexOverridesWithoutFlags(t *testing.T) {
	dir := t.TempDir()
	g := &ir.Graph{
		Inputs: []ir.Input{{Name: "x", Shape: []int{2}}},
		Vertices: []*ir.Vertex{
			{Name: "h", Layer: &ir.Dense{Units: 4, Activation: ir.Act(ir.ActTanh)}, Inputs: []string{"x"},
				Train: &ir.TrainConfig{LearningRate: 0.003}},
			{Name: "out", Layer: &ir.Output{Units: 2, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, Inputs: []string{"h"}},
		},
		Outputs: []ir.GraphOutput{{Name: "out", Vertex: "out"}},
		Train:   &ir.TrainConfig{Updater: ir.UpdSGD, LearningRate: 0.1},
	}
	if err := nn.InitGraph(g, ir.InitXavierUniform, 3); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "m.rtm")
	if err := native.Export(model, g); err != nil {
		t.Fatal(err)
	}
	x := writeNPY(t, dir, "x.npy", []int{4, 2}, []float32{0, 1, 1, 0, 1, 1, 0, 0})
	y := writeNPY(t, dir, "y.npy", []int{4}, []float32{0, 1, 0, 1})
	data := "type=npy,features=" + x + ",labels=" + y

	keep := filepath.Join(dir, "keep.rtm")
	if _, stderr, err := run("fit", model, "--data", data, "-o", keep); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	k, err := native.Import(keep)
	if err != nil {
		t.Fatal(err)
	}
	if tc := k.Vertex("h").Train; tc == nil || tc.LearningRate != 0.003 {
		t.Fatalf("fit without flags dropped the override: %+v", tc)
	}

	tuned := filepath.Join(dir, "tuned.rtm")
	if _, stderr, err := run("fit", model, "--data", data, "--lr", "0.01", "-o", tuned); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	f, err := native.Import(tuned)
	if err != nil {
		t.Fatal(err)
	}
	if f.Vertex("h").Train != nil || f.Train.LearningRate != 0.01 {
		t.Fatalf("fit --lr: override %+v, graph %+v", f.Vertex("h").Train, f.Train)
	}
}
