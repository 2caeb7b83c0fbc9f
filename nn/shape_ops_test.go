package nn

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

func TestGradShapeOps(t *testing.T) {
	cases := []struct {
		in []int
		l  ir.Layer
	}{
		{[]int{2, 3, 4}, &ir.Flatten{}},
		{[]int{2, 3, 4}, &ir.Reshape{Shape: []int{4, -1}}},
		{[]int{2, 3, 4}, &ir.Permute{Perm: []int{2, 0, 1}}},
		{[]int{2, 3, 4}, &ir.Pad{Rank: 2, Mode: ir.PadConstant, Pads: []int{1, 0, 2, 1}, Value: 0.5}},
		{[]int{2, 3, 4}, &ir.Pad{Rank: 2, Mode: ir.PadReflect, Pads: []int{2, 1, 1, 3}}},
		{[]int{2, 3, 4}, &ir.Pad{Rank: 1, Mode: ir.PadEdge, Pads: []int{2, 3}}},
		{[]int{2, 5, 4}, &ir.Cropping{Rank: 2, Crops: []int{1, 0, 2, 1}}},
		{[]int{2, 5, 6}, &ir.Slice{Axes: []int{1, 2}, Starts: []int{1, -1}, Ends: []int{5, 0}, Steps: []int{2, -2}}},
		{[]int{2, 5, 6}, &ir.Slice{Axes: []int{0}, Starts: []int{1}, Ends: []int{100}}},
		{[]int{8, 2, 3}, &ir.DepthToSpace{Block: 2, Mode: "DCR"}},
		{[]int{8, 2, 3}, &ir.DepthToSpace{Block: 2, Mode: "CRD"}},
		{[]int{2, 4, 6}, &ir.SpaceToDepth{Block: 2}},
		{[]int{2, 3, 4}, &ir.UpSampling{Rank: 2, Size: []int{2, 3}, Mode: "nearest"}},
		{[]int{2, 3, 4}, &ir.UpSampling{Rank: 2, Size: []int{2, 3}, Mode: "linear"}},
		{[]int{2, 5}, &ir.UpSampling{Rank: 1, Size: []int{3}, Mode: "linear"}},
		{[]int{2, 3, 4}, &ir.Reduce{Op: "mean", Axes: []int{1, 2}}},
		{[]int{2, 3, 4}, &ir.Reduce{Op: "sum", Axes: []int{0}, KeepDims: true}},
		{[]int{2, 3, 4}, &ir.Reduce{Op: "max", Axes: []int{-1}}},
		{[]int{3, 4}, &ir.ActivationLayer{Activation: ir.Activation{Kind: ir.ActSoftmax, Axis: 0}}},
		{[]int{3, 4}, &ir.ActivationLayer{Activation: ir.Act(ir.ActGELU)}},
		{[]int{3, 4}, &ir.PReLU{SharedAxes: []int{1}}},
		{[]int{3, 4}, &ir.PReLU{}},
		{[]int{3, 4}, &ir.Rescaling{Scale: 0.5, Offset: -1}},
		{[]int{3, 4}, &ir.Dropout{Rate: 0.4}},
		{[]int{3, 4, 2}, &ir.Dropout{Rate: 0.5, Spatial: true}},
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("%s_%d", c.l.Kind(), i), func(t *testing.T) {
			coreCheckLayer(t, fmt.Sprintf("shape_%d", i), c.in, c.l, -1, 1)
		})
	}
	for _, op := range []ir.UnaryOp{ir.UnarySqrt, ir.UnaryExp, ir.UnaryLog, ir.UnaryNeg, ir.UnaryAbs, ir.UnaryErf, ir.UnaryReciprocal, ir.UnarySquare, ir.UnaryPow} {
		t.Run(string(op), func(t *testing.T) {
			coreCheckLayer(t, "unary_"+string(op), []int{3, 4}, &ir.Unary{Op: op, Exponent: 1.7}, 0.5, 2)
		})
	}
}

// coreTwoInputs builds a graph of a two-input layer, each input through
// a Rescaling so that the merge sees computed values.
func coreTwoInputs(a, b []int, l ir.Layer) *ir.Graph {
	return &ir.Graph{Name: l.Kind(),
		Inputs: []ir.Input{{Name: "a", Shape: a}, {Name: "b", Shape: b}},
		Vertices: []*ir.Vertex{
			{Name: "m", Layer: l, Inputs: []string{"a", "b"}},
		},
		Outputs: []ir.GraphOutput{{Name: "m", Vertex: "m"}},
	}
}

func TestGradMerge(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	shapes := [][2][]int{{{3, 4}, {3, 4}}, {{3, 4}, {1, 4}}, {{3, 4}, {4}}, {{3, 1}, {1, 4}}}
	for _, op := range []ir.MergeOp{ir.MergeAdd, ir.MergeSubtract, ir.MergeMultiply, ir.MergeDivide, ir.MergeAverage, ir.MergeMaximum, ir.MergeMinimum, ir.MergePow} {
		for si, sh := range shapes {
			t.Run(fmt.Sprintf("%s_%d", op, si), func(t *testing.T) {
				g := coreTwoInputs(sh[0], sh[1], &ir.Merge{Op: op})
				lo := -1.0
				if op == ir.MergeDivide || op == ir.MergePow {
					lo = 0.5
				}
				x := RandTensor(rng, lo, 2, append([]int{2}, sh[0]...)...)
				y := RandTensor(rng, lo, 2, append([]int{2}, sh[1]...)...)
				GradCheck(t, g, []*ir.Tensor{x, y}, nil)
			})
		}
	}
	// three inputs, one a Constant broadcast over the batch
	g := &ir.Graph{Name: "merge3", Inputs: []ir.Input{{Name: "a", Shape: []int{2, 3}}, {Name: "b", Shape: []int{2, 3}}},
		Vertices: []*ir.Vertex{
			{Name: "c", Layer: &ir.Constant{Shape: []int{1, 3}}, Params: map[string]*ir.Tensor{"value": ir.FromData([]float32{0.5, -1, 2}, 1, 3)}},
			{Name: "m", Layer: &ir.Merge{Op: ir.MergeMultiply}, Inputs: []string{"a", "b", "c"}},
		},
		Outputs: []ir.GraphOutput{{Name: "m", Vertex: "m"}}}
	GradCheck(t, g, []*ir.Tensor{RandTensor(rng, -1, 1, 3, 2, 3), RandTensor(rng, -1, 1, 3, 2, 3)}, nil)
}

func TestGradConcat(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for _, c := range []struct {
		a, b []int
		axis int
	}{{[]int{2, 3}, []int{2, 5}, -1}, {[]int{2, 3}, []int{4, 3}, 0}, {[]int{2, 3, 4}, []int{2, 1, 4}, 1}} {
		g := coreTwoInputs(c.a, c.b, &ir.Concat{Axis: c.axis})
		GradCheck(t, g, []*ir.Tensor{RandTensor(rng, -1, 1, append([]int{2}, c.a...)...), RandTensor(rng, -1, 1, append([]int{2}, c.b...)...)}, nil)
	}
}

// A vertex read by two consumers (and by one twice) accumulates both
// gradients.
func TestGradFanOut(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	g := &ir.Graph{Name: "fan", Inputs: []ir.Input{{Name: "x", Shape: []int{4}}},
		Vertices: []*ir.Vertex{
			{Name: "d", Layer: &ir.Dense{Units: 3, Activation: ir.Act(ir.ActTanh)}, Inputs: []string{"x"}},
			{Name: "e", Layer: &ir.Dense{Units: 3}, Inputs: []string{"d"}},
			{Name: "sq", Layer: &ir.Merge{Op: ir.MergeMultiply}, Inputs: []string{"d", "d"}},
			{Name: "dd", Layer: &ir.Merge{Op: ir.MergeAdd}, Inputs: []string{"d", "d"}}, // one gradient, passed to both inputs
			{Name: "s", Layer: &ir.Merge{Op: ir.MergeAdd}, Inputs: []string{"e", "sq", "x2", "dd"}},
			{Name: "x2", Layer: &ir.Reshape{Shape: []int{3}}, Inputs: []string{"d"}},
			{Name: "out", Layer: &ir.Output{Units: 2, Loss: ir.LossMSE}, Inputs: []string{"s"}},
		},
		Outputs: []ir.GraphOutput{{Name: "out", Vertex: "out"}, {Name: "aux", Vertex: "d"}}}
	coreInit(t, g, 4)
	GradCheck(t, g, []*ir.Tensor{RandTensor(rng, -1, 1, 3, 4)}, []*ir.Tensor{RandTensor(rng, -1, 1, 3, 2), nil})
}

func TestDropoutOverrideAndInference(t *testing.T) {
	g := Sequential("drop", []int{200}, &ir.Dropout{Rate: 0.5})
	net, _ := Compile(g)
	x := &Mat[float32]{Shape: []int{1, 200}, Data: make([]float32, 200)}
	for i := range x.Data {
		x.Data[i] = 1
	}
	out, _ := net.Forward([]*Mat[float32]{x}, true)
	zeros := 0
	for _, v := range out[0].Data {
		if v == 0 {
			zeros++
		} else if v != 2 {
			t.Fatalf("kept value %v, want 2 (inverted dropout)", v)
		}
	}
	if zeros < 60 || zeros > 140 {
		t.Fatalf("%d of 200 dropped at rate 0.5", zeros)
	}
	out, _ = net.Forward([]*Mat[float32]{x}, false)
	if out[0].Data[0] != 1 {
		t.Fatal("dropout active at inference")
	}
	zero := 0.0
	g.Train = &ir.TrainConfig{Dropout: &zero}
	net, _ = Compile(g)
	out, _ = net.Forward([]*Mat[float32]{x}, true)
	for _, v := range out[0].Data {
		if v != 1 {
			t.Fatal("TrainConfig.Dropout = 0 did not turn dropout off")
		}
	}
}

// A trainable Constant (a class token) prepended to a sequence: its value's
// gradient is the output gradient summed over the batch.
func TestGradTrainableConstant(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	g := &ir.Graph{Name: "token", Inputs: []ir.Input{{Name: "x", Shape: []int{3, 4}}},
		Vertices: []*ir.Vertex{
			{Name: "tok", Layer: &ir.Constant{Shape: []int{1, 4}, Trainable: true}, Params: map[string]*ir.Tensor{"value": RandTensor(rng, -1, 1, 1, 4)}},
			{Name: "cat", Layer: &ir.Concat{Axis: 0}, Inputs: []string{"tok", "x"}},
			{Name: "d", Layer: &ir.Dense{Units: 2, Activation: ir.Act(ir.ActTanh)}, Inputs: []string{"cat"}},
		},
		Outputs: []ir.GraphOutput{{Name: "d", Vertex: "d"}}}
	if err := InitGraph(g, ir.InitXavierUniform, 2); err != nil {
		t.Fatal(err)
	}
	GradCheck(t, g, []*ir.Tensor{RandTensor(rng, -1, 1, 3, 3, 4)}, nil)
}

func TestGradTile(t *testing.T) {
	coreCheckLayer(t, "tile", []int{2, 3}, &ir.Tile{Repeats: []int{2, 3}}, -1, 1)
	coreCheckLayer(t, "tile3", []int{2, 1, 3}, &ir.Tile{Repeats: []int{1, 4, 2}}, -1, 1)
}
