package nn

import (
	"fmt"
	"math"
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

// TestPredictSplitsTheTail: an inference network with large convolution
// planes before dense layers runs the convolutions in small batches and
// the dense layers on the gathered examples (one read of their weights
// for many rows), with the outputs of one whole pass; values asked for in
// the head take the unsplit path.
func TestPredictSplitsTheTail(t *testing.T) {
	relu := ir.Act(ir.ActReLU)
	g := Sequential("vgg_like", []int{3, 96, 96},
		&ir.Conv{Rank: 2, Filters: 64, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: relu},
		&ir.Pool{Rank: 2, Op: ir.PoolMax, Kernel: []int{8, 8}},
		&ir.Flatten{},
		&ir.Dense{Units: 300, Activation: relu},
		&ir.Dense{Units: 10, Activation: ir.Activation{Kind: ir.ActSoftmax, Axis: -1}})
	net, whole := splitAndWhole(t, g)
	// 3·96² + 64·96² values per example in the convolution: 13 examples
	// per head pass; the tail is the two dense layers
	if net.opts.BatchSize != 13 || net.tail.from == 0 || net.nodes[net.tail.from].v.Layer.Kind() != "Dense" {
		t.Fatalf("head batch %d, tail from %d: not the split the case is about", net.opts.BatchSize, net.tail.from)
	}
	var err error
	x := RandTensor(rand.New(rand.NewSource(2)), -1, 1, 40, 3, 96, 96)
	for _, vertices := range [][]string{nil, {g.Vertices[1].Name}, {g.Vertices[4].Name, g.Vertices[3].Name}} {
		var got, want []*ir.Tensor
		if vertices == nil {
			got, err = net.Predict(x)
			if err == nil {
				want, err = whole.Predict(x)
			}
		} else {
			got, err = net.PredictVertices(vertices, x)
			if err == nil {
				want, err = whole.PredictVertices(vertices, x)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		for k := range want {
			if !ir.SameShape(got[k].Shape, want[k].Shape) {
				t.Fatalf("%v: shape %v, want %v", vertices, got[k].Shape, want[k].Shape)
			}
			nearOnePass(t, fmt.Sprintf("%v output %d", vertices, k), got[k].Data, want[k].Data)
		}
	}
}

// TestPredictTailFollowsTheExamples: the fewer examples a Predict gets,
// the longer a tail fits the memory budget; with 20 examples the second
// convolution (a small plane) joins the dense layers, with 64 its gathered
// input would take more than a quarter of the budget and the tail is the dense
// layers. Either way the outputs are those of one whole pass.
func TestPredictTailFollowsTheExamples(t *testing.T) {
	relu := ir.Act(ir.ActReLU)
	g := Sequential("tail_follows", []int{3, 96, 96},
		&ir.Conv{Rank: 2, Filters: 64, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: relu},
		&ir.Pool{Rank: 2, Op: ir.PoolMax, Kernel: []int{4, 4}},
		&ir.Conv{Rank: 2, Filters: 32, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: relu},
		&ir.Pool{Rank: 2, Op: ir.PoolMax, Kernel: []int{4, 4}},
		&ir.Flatten{},
		&ir.Dense{Units: 300, Activation: relu},
		&ir.Dense{Units: 10, Activation: ir.Activation{Kind: ir.ActSoftmax, Axis: -1}})
	net, whole := splitAndWhole(t, g)
	for _, c := range []struct {
		examples int
		first    string // the tail's first layer
	}{{20, "Conv2D"}, {64, "Dense"}, {20, "Conv2D"}} {
		x := RandTensor(rand.New(rand.NewSource(int64(c.examples))), -1, 1, c.examples, 3, 96, 96)
		got, err := net.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		if net.opts.BatchSize != 13 || net.tail.from == 0 || net.nodes[net.tail.from].v.Layer.Kind() != c.first {
			t.Fatalf("%d examples: head batch %d, tail from %d, want a tail from a %s", c.examples, net.opts.BatchSize, net.tail.from, c.first)
		}
		want, err := whole.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		nearOnePass(t, fmt.Sprintf("%d examples", c.examples), got[0].Data, want[0].Data)
	}
}

// splitAndWhole initialises g and compiles it for inference twice: with
// the batches (and tail) its memory budget picks, and in whole batches of
// 64.
func splitAndWhole(t *testing.T, g *ir.Graph) (split, whole *Net[float32]) {
	t.Helper()
	if err := InitGraph(g, ir.InitHeUniform, 1); err != nil {
		t.Fatal(err)
	}
	split, err := CompileWith[float32](g, Options{Inference: true})
	if err == nil {
		whole, err = CompileWith[float32](g, Options{Inference: true, BatchSize: 64})
	}
	if err != nil {
		t.Fatal(err)
	}
	return split, whole
}

// nearOnePass fails unless a split pass's values got are those of one
// whole pass, want, within float32 rounding.
func nearOnePass(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i, w := range want {
		if d := math.Abs(float64(got[i] - w)); d > 1e-5*(1+math.Abs(float64(w))) {
			t.Fatalf("%s [%d] = %g split, %g in one pass", what, i, got[i], w)
		}
	}
}
