package nn

import (
	"errors"
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// inferenceTestGraph has what buffer reuse must get right: a value read
// by two consumers (conv1 → pool and concat), fused conv → BatchNorm →
// ReLU, pass-through vertices (Dropout, Flatten views), a merge, an
// intermediate vertex that is also a graph output, and a dead vertex.
func inferenceTestGraph(t *testing.T) *ir.Graph {
	g := &ir.Graph{Name: "inference", Inputs: []ir.Input{{Name: "x", Shape: []int{3, 8, 8}}}}
	add := func(name string, l ir.Layer, in ...string) {
		g.Vertices = append(g.Vertices, &ir.Vertex{Name: name, Layer: l, Inputs: in})
	}
	relu := ir.Act(ir.ActReLU)
	add("conv1", &ir.Conv{Rank: 2, Filters: 4, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: relu}, "x")
	add("pool", &ir.Pool{Rank: 2, Op: ir.PoolMax, Kernel: []int{2, 2}}, "conv1")
	add("up", &ir.Conv{Rank: 2, Filters: 4, Kernel: []int{1, 1}}, "pool")
	add("conv2", &ir.Conv{Rank: 2, Filters: 4, Kernel: []int{3, 3}, Padding: ir.PadSame, NoBias: true}, "pool")
	add("bn", &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.9}, "conv2")
	add("relu", &ir.ActivationLayer{Activation: relu}, "bn")
	add("drop", &ir.Dropout{Rate: 0.5}, "relu")
	add("sum", &ir.Merge{Op: ir.MergeAdd}, "drop", "up")
	add("unused", &ir.ActivationLayer{Activation: ir.Act(ir.ActTanh)}, "sum")
	add("flat_sum", &ir.Flatten{}, "sum")
	add("pool1", &ir.Pool{Rank: 2, Op: ir.PoolAvg, Kernel: []int{2, 2}}, "conv1")
	add("flat_c1", &ir.Flatten{}, "pool1")
	add("cat", &ir.Concat{Axis: 0}, "flat_sum", "flat_c1")
	add("dense", &ir.Dense{Units: 6, Activation: ir.Act(ir.ActTanh)}, "cat")
	add("out", &ir.Output{Units: 3, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, "dense")
	g.Outputs = []ir.GraphOutput{{Name: "out", Vertex: "out"}, {Name: "pool", Vertex: "pool"}}
	coreInit(t, g, 5)
	rng := rand.New(rand.NewSource(9))
	bn := g.Vertex("bn").Params
	for i := range bn["mean"].Data {
		bn["mean"].Data[i] = float32(rng.Float64() - 0.5)
		bn["var"].Data[i] = float32(rng.Float64() + 0.5)
	}
	return g
}

// TestInferenceMatchesCompile: an inference network gives bit-identical
// outputs to a normal one over passes of changing batch size (buffers of
// one pass are reused by the next), through Predict in small batches and
// PredictVertices of intermediate vertices.
func TestInferenceMatchesCompile(t *testing.T) {
	g := inferenceTestGraph(t)
	// the same batch size: the GEMM kernels sum in an order that depends on it
	ref, err := CompileWith[float32](g, Options{BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	inf, err := CompileWith[float32](g, Options{Inference: true, BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	for _, batch := range []int{2, 5, 1, 5} {
		x := []*Mat[float32]{MatFromTensor[float32](RandTensor(rng, -1, 1, batch, 3, 8, 8))}
		want, err := ref.Forward(x, false)
		if err != nil {
			t.Fatal(err)
		}
		got, err := inf.Forward(x, false)
		if err != nil {
			t.Fatal(err)
		}
		for k := range want {
			if !sameMat(want[k], got[k]) {
				t.Fatalf("batch %d: output %d differs: %v vs %v", batch, k, got[k].Data, want[k].Data)
			}
		}
		if inf.Value("conv2") != nil || inf.Value("sum") != nil {
			t.Error("intermediate values should have gone back to the pool")
		}
		if inf.Value("x") == nil || inf.Value("out") == nil {
			t.Error("inputs and outputs must stay readable after a pass")
		}
	}
	x := RandTensor(rng, -1, 1, 5, 3, 8, 8)
	want, err := ref.PredictVertices([]string{"sum", "conv1", "out"}, x)
	if err != nil {
		t.Fatal(err)
	}
	got, err := inf.PredictVertices([]string{"sum", "conv1", "out"}, x)
	if err != nil {
		t.Fatal(err)
	}
	for k := range want {
		if !ir.SameShape(want[k].Shape, got[k].Shape) || !sameFloats(want[k].Data, got[k].Data) {
			t.Errorf("PredictVertices %d differs", k)
		}
	}
	wantP, err := ref.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	gotP, err := inf.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	for k := range wantP {
		if !sameFloats(wantP[k].Data, gotP[k].Data) {
			t.Errorf("Predict output %d differs", k)
		}
	}
}

// TestInferenceReusesBuffers: a chain of same-sized layers runs in a few
// buffers, not one per vertex, and no gradient buffer exists.
func TestInferenceReusesBuffers(t *testing.T) {
	var layers []ir.Layer
	for range 8 {
		layers = append(layers, &ir.Conv{Rank: 2, Filters: 4, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: ir.Act(ir.ActReLU)},
			&ir.ActivationLayer{Activation: ir.Act(ir.ActSigmoid)})
	}
	g := coreInit(t, Sequential("chain", []int{4, 16, 16}, layers...), 3)
	net, err := CompileInference(g)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(2))
	x := []*Mat[float32]{MatFromTensor[float32](RandTensor(rng, -1, 1, 2, 4, 16, 16))}
	for range 3 {
		if _, err := net.Forward(x, false); err != nil {
			t.Fatal(err)
		}
	}
	buffers := len(net.pool.free) + len(net.pool.owner)
	if buffers > 4 {
		t.Errorf("%d buffers for a chain of %d vertices, want at most 4 (output, its input, the im2col scratch and one spare)", buffers, len(g.Vertices))
	}
	for _, v := range g.Vertices {
		if p := net.Params(v.Name); p != nil && len(p.Grads) != 0 {
			t.Errorf("%s: gradient buffers allocated in an inference network", v.Name)
		}
	}
}

// TestInferenceRefusesTraining: every training entry point says why.
func TestInferenceRefusesTraining(t *testing.T) {
	g := inferenceTestGraph(t)
	net, err := CompileInference(g)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(4))
	x := RandTensor(rng, -1, 1, 4, 3, 8, 8)
	y := coreLabels(rng, ir.LossMCXENT, 4, 3)
	in := []*Mat[float32]{MatFromTensor[float32](x)}
	if _, err := net.Forward(in, true); !errors.Is(err, ErrInference) {
		t.Errorf("training Forward: %v", err)
	}
	if err := net.Backward(nil); !errors.Is(err, ErrInference) {
		t.Errorf("Backward: %v", err)
	}
	if _, err := net.TrainStep(in, []*Mat[float32]{MatFromTensor[float32](y), nil}, nil); !errors.Is(err, ErrInference) {
		t.Errorf("TrainStep: %v", err)
	}
	it, err := NewArrayIterator(x, y, 2, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := net.Fit(it, FitConfig{Epochs: 1}); !errors.Is(err, ErrInference) {
		t.Errorf("Fit: %v", err)
	}
	step := g.Step
	net.Update()
	if g.Step != step {
		t.Error("Update advanced the step of an inference network")
	}
	// evaluation is inference: it works and scores the loss-bearing output
	ev, err := net.Evaluate(it)
	if err != nil {
		t.Fatal(err)
	}
	refNet, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := refNet.Evaluate(it)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Accuracy() != ref.Accuracy() {
		t.Errorf("accuracy %v, normal network %v", ev.Accuracy(), ref.Accuracy())
	}
}

func sameMat(a, b *Mat[float32]) bool {
	return ir.SameShape(a.Shape, b.Shape) && sameFloats(a.Data, b.Data)
}

func sameFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
