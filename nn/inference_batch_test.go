package nn

import (
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// TestMemoryBatch: an inference network whose activations dwarf its
// parameters predicts in small batches (same outputs), a small one keeps
// the default, and an explicit BatchSize wins.
func TestMemoryBatch(t *testing.T) {
	relu := ir.Act(ir.ActReLU)
	big := Sequential("big", []int{3, 512, 512},
		&ir.Conv{Rank: 2, Filters: 16, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: relu},
		&ir.GlobalPool{Rank: 2, Op: ir.PoolAvg})
	if err := InitGraph(big, ir.InitHeUniform, 1); err != nil {
		t.Fatal(err)
	}
	net, err := CompileWith[float32](big, Options{Inference: true})
	if err != nil {
		t.Fatal(err)
	}
	// per example 3·512² + 16·512² values against 448 parameters: 8 Mi
	// elements of budget hold 1 example
	if net.opts.BatchSize != 1 {
		t.Fatalf("batch %d, want 1", net.opts.BatchSize)
	}
	ref, err := CompileWith[float32](big, Options{Inference: true, BatchSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	if ref.opts.BatchSize != 3 {
		t.Fatalf("explicit batch size replaced: %d", ref.opts.BatchSize)
	}
	x := RandTensor(rand.New(rand.NewSource(1)), -1, 1, 3, 3, 512, 512)
	a, err := net.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ref.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a[0].Data {
		if a[0].Data[i] != b[0].Data[i] {
			t.Fatalf("output %d: %g in batches of 1, %g in a batch of 3", i, a[0].Data[i], b[0].Data[i])
		}
	}
	cnn := speedCNN()
	if err := InitGraph(cnn, ir.InitHeUniform, 1); err != nil {
		t.Fatal(err)
	}
	small, err := CompileInference(cnn)
	if err != nil {
		t.Fatal(err)
	}
	if small.opts.BatchSize != 64 {
		t.Fatalf("small network: batch %d, want 64", small.opts.BatchSize)
	}
}
