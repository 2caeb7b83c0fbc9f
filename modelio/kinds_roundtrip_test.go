package modelio_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	kexp "github.com/retarget-dev/retarget/exporters/keras"
	"github.com/retarget-dev/retarget/exporters/native"
	exponnx "github.com/retarget-dev/retarget/exporters/onnx"
	kimp "github.com/retarget-dev/retarget/importers/keras"
	imponnx "github.com/retarget-dev/retarget/importers/onnx"
	"github.com/retarget-dev/retarget/internal/onnxpb"
	"github.com/retarget-dev/retarget/internal/testenv"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
	"github.com/retarget-dev/retarget/npy"
	"google.golang.org/protobuf/proto"
)

// kindCase is one small graph around one vertex ("k") of the kind under
// test, like Keras's run_layer_test: x → [pre] → k → output.
type kindCase struct {
	kind, name string
	g          *ir.Graph
	ids        int // > 0: the input holds integer ids below ids (Embedding)
}

const (
	img = iota // [3, 6, 6], channels-last in Keras
	seq        // [5, 4] (time, features)
	vec        // [6]
	sig        // [3, 8] (channels, width), channels-last in Keras
	vol        // [2, 4, 4, 4] (channels, depth, height, width), channels-last in Keras
)

var shapeOf = map[int][]int{img: {3, 6, 6}, seq: {5, 4}, vec: {6}, sig: {3, 8}, vol: {2, 4, 4, 4}}

// one builds x → (pre...) → k → output "y".
func one(in int, l ir.Layer, pre ...ir.Layer) *ir.Graph {
	g := &ir.Graph{Name: "case", Inputs: []ir.Input{{Name: "x", Shape: shapeOf[in]}}}
	if in == img {
		g.Inputs[0].Layout = ir.LayoutNHWC
	}
	if in == sig {
		g.Inputs[0].Layout = ir.LayoutNWC
	}
	if in == vol {
		g.Inputs[0].Layout = ir.LayoutNDHWC
	}
	prev := "x"
	for i, p := range pre {
		n := fmt.Sprintf("pre%d", i)
		g.Vertices = append(g.Vertices, &ir.Vertex{Name: n, Layer: p, Inputs: []string{prev}})
		prev = n
	}
	g.Vertices = append(g.Vertices, &ir.Vertex{Name: "k", Layer: l, Inputs: []string{prev}})
	g.Outputs = []ir.GraphOutput{{Name: "y", Vertex: "k"}}
	// an image or signal that stays one leaves channels last, as Keras has it
	if shapes, err := g.Shapes(); err == nil {
		if r := len(shapes["k"]); in == img && r == 3 {
			g.Outputs[0].Layout = ir.LayoutNHWC
		} else if in == sig && r == 2 {
			g.Outputs[0].Layout = ir.LayoutNWC
		} else if in == vol && r == 4 {
			g.Outputs[0].Layout = ir.LayoutNDHWC
		}
	}
	return g
}

// two builds x → tanh "a", x → sigmoid "b", k(a, b) → output "y".
func two(in int, l ir.Layer) *ir.Graph {
	g := one(in, l)
	g.Vertices = []*ir.Vertex{
		{Name: "a", Layer: &ir.ActivationLayer{Activation: ir.Act(ir.ActTanh)}, Inputs: []string{"x"}},
		{Name: "b", Layer: &ir.ActivationLayer{Activation: ir.Act(ir.ActSigmoid)}, Inputs: []string{"x"}},
		{Name: "k", Layer: l, Inputs: []string{"a", "b"}}}
	return g
}

func act(k ir.ActKind) ir.Activation { return ir.Act(k) }

// kindCases lists every kind with the variants that matter.
func kindCases() []kindCase {
	var cs []kindCase
	add := func(kind, name string, g *ir.Graph) { cs = append(cs, kindCase{kind: kind, name: name, g: g}) }
	relu := act(ir.ActReLU)

	add("Dense", "relu", one(vec, &ir.Dense{Units: 4, Activation: relu}))
	add("Dense", "nobias", one(vec, &ir.Dense{Units: 4, NoBias: true}))
	add("Dense", "sequence", one(seq, &ir.Dense{Units: 3, Activation: act(ir.ActTanh)}))
	add("Output", "softmax", one(vec, &ir.Output{Units: 3, Activation: act(ir.ActSoftmax), Loss: ir.LossMCXENT}))
	add("Output", "sigmoid", one(vec, &ir.Output{Units: 2, Activation: act(ir.ActSigmoid), Loss: ir.LossXENT}))
	add("RnnOutput", "softmax", one(seq, &ir.RnnOutput{Units: 3, Activation: act(ir.ActSoftmax), Loss: ir.LossMCXENT}))
	add("Embedding", "", one(vec, &ir.Embedding{InputDim: 10, OutputDim: 4}))
	cs[len(cs)-1].ids = 10

	add("Conv2D", "same", one(img, &ir.Conv{Rank: 2, Filters: 4, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: relu}))
	add("Conv2D", "valid-stride", one(img, &ir.Conv{Rank: 2, Filters: 4, Kernel: []int{3, 3}, Strides: []int{2, 2}, Padding: ir.PadValid}))
	add("Conv2D", "explicit", one(img, &ir.Conv{Rank: 2, Filters: 2, Kernel: []int{3, 3}, Padding: ir.PadExplicit, Pads: []int{1, 1, 1, 1}}))
	add("Conv2D", "dilated", one(img, &ir.Conv{Rank: 2, Filters: 2, Kernel: []int{2, 2}, Dilations: []int{2, 2}, Padding: ir.PadValid}))
	add("Conv2D", "depthwise", one(img, &ir.Conv{Rank: 2, Filters: 6, Groups: 3, Kernel: []int{3, 3}, Padding: ir.PadSame}))
	add("Conv1D", "valid", one(sig, &ir.Conv{Rank: 1, Filters: 4, Kernel: []int{3}, Padding: ir.PadValid, Activation: relu}))
	add("Conv1D", "causal", one(sig, &ir.Conv{Rank: 1, Filters: 2, Kernel: []int{3}, Padding: ir.PadCausal}))
	add("Conv1D", "same", one(sig, &ir.Conv{Rank: 1, Filters: 2, Kernel: []int{3}, Padding: ir.PadSame}))
	add("ConvTranspose2D", "valid", one(img, &ir.ConvTranspose2D{Filters: 2, Kernel: []int{3, 3}, Strides: []int{2, 2}, Padding: ir.PadValid}))
	add("ConvTranspose2D", "same", one(img, &ir.ConvTranspose2D{Filters: 2, Kernel: []int{3, 3}, Strides: []int{2, 2}, Padding: ir.PadSame}))
	add("ConvTranspose1D", "valid", one(sig, &ir.ConvTranspose2D{Rank: 1, Filters: 2, Kernel: []int{3}, Strides: []int{2}, Padding: ir.PadValid}))
	add("SeparableConv2D", "", one(img, &ir.SeparableConv2D{Filters: 4, Kernel: []int{3, 3}, DepthMultiplier: 1, Padding: ir.PadSame}))

	for _, op := range []ir.PoolOp{ir.PoolMax, ir.PoolAvg} {
		p2 := &ir.Pool{Rank: 2, Op: op, Kernel: []int{2, 2}, Padding: ir.PadValid}
		add(p2.Kind(), "2x2", one(img, p2))
		add(p2.Kind(), "3x3-s2-same", one(img, &ir.Pool{Rank: 2, Op: op, Kernel: []int{3, 3}, Strides: []int{2, 2}, Padding: ir.PadSame}))
		p1 := &ir.Pool{Rank: 1, Op: op, Kernel: []int{2}, Padding: ir.PadValid}
		add(p1.Kind(), "2", one(sig, p1))
		for _, r := range []int{1, 2} {
			in := map[int]int{1: sig, 2: img}[r]
			gp := &ir.GlobalPool{Rank: r, Op: op}
			add(gp.Kind(), "", one(in, gp))
			add(gp.Kind(), "keepdims", one(in, &ir.GlobalPool{Rank: r, Op: op, KeepDims: true}))
		}
	}
	add("Conv3D", "same", one(vol, &ir.Conv{Rank: 3, Filters: 3, Kernel: []int{3, 3, 3}, Padding: ir.PadSame, Activation: relu}))
	add("Conv3D", "valid-stride", one(vol, &ir.Conv{Rank: 3, Filters: 2, Kernel: []int{2, 2, 2}, Strides: []int{2, 2, 2}, Padding: ir.PadValid}))
	add("ConvTranspose3D", "valid", one(vol, &ir.ConvTranspose2D{Rank: 3, Filters: 2, Kernel: []int{2, 2, 2}, Strides: []int{2, 2, 2}, Padding: ir.PadValid}))
	add("MaxPool2D", "dilated", one(img, &ir.Pool{Rank: 2, Op: ir.PoolMax, Kernel: []int{2, 2}, Strides: []int{1, 1}, Dilations: []int{2, 2}, Padding: ir.PadValid}))
	for _, op := range []ir.PoolOp{ir.PoolMax, ir.PoolAvg} {
		p3 := &ir.Pool{Rank: 3, Op: op, Kernel: []int{2, 2, 2}, Padding: ir.PadValid}
		add(p3.Kind(), "2x2x2", one(vol, p3))
		gp := &ir.GlobalPool{Rank: 3, Op: op}
		add(gp.Kind(), "", one(vol, gp))
		add(gp.Kind(), "keepdims", one(vol, &ir.GlobalPool{Rank: 3, Op: op, KeepDims: true}))
	}
	add("BatchNorm", "volume", one(vol, &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.99}))
	add("BatchNorm", "image", one(img, &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.99}))
	add("InstanceNorm", "image", one(img, &ir.InstanceNorm{Epsilon: 1e-5}))
	add("InstanceNorm", "sequence", one(sig, &ir.InstanceNorm{Epsilon: 1e-3}))
	add("BatchNorm", "vector", one(vec, &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.99}))
	add("LayerNorm", "", one(seq, &ir.LayerNorm{Epsilon: 1e-5, Axis: -1}))

	for _, a := range ir.KnownActivations {
		x := ir.Activation{Kind: a}
		switch a {
		case ir.ActLeakyReLU:
			x.Alpha = 0.1
		case ir.ActELU:
			x.Alpha = 1
		case ir.ActHardSigmoid:
			x.Alpha, x.Beta = 0.2, 0.5
		case ir.ActThresholdReLU:
			x.Alpha = 0.3
		case ir.ActClip:
			x.Alpha, x.Beta = -0.5, 0.5
		case ir.ActSoftmax, ir.ActLogSoftmax:
			x.Axis = -1
		}
		add("Activation", string(a), one(vec, &ir.ActivationLayer{Activation: x}))
	}
	add("Dropout", "", one(vec, &ir.Dropout{Rate: 0.3}))
	add("Dropout", "spatial", one(img, &ir.Dropout{Rate: 0.3, Spatial: true}))
	add("PReLU", "vector", one(vec, &ir.PReLU{}))
	add("PReLU", "image-shared", one(img, &ir.PReLU{SharedAxes: []int{1, 2}}))
	add("Rescaling", "", one(vec, &ir.Rescaling{Scale: 0.5, Offset: 0.25}))
	for _, u := range []ir.UnaryOp{ir.UnarySqrt, ir.UnaryExp, ir.UnaryLog, ir.UnaryNeg, ir.UnaryAbs, ir.UnaryErf,
		ir.UnaryReciprocal, ir.UnarySquare, ir.UnaryPow} {
		// sigmoid first: sqrt, log and reciprocal need positive inputs
		add("Unary", string(u), one(vec, &ir.Unary{Op: u, Exponent: 3}, &ir.ActivationLayer{Activation: act(ir.ActSigmoid)}))
	}
	cg := one(vec, &ir.Merge{Op: ir.MergeAdd})
	cg.Vertices = []*ir.Vertex{{Name: "c", Layer: &ir.Constant{Shape: []int{6}}},
		{Name: "k", Layer: &ir.Merge{Op: ir.MergeAdd}, Inputs: []string{"x", "c"}}}
	add("Constant", "", cg)
	for _, m := range []ir.MergeOp{ir.MergeAdd, ir.MergeSubtract, ir.MergeMultiply, ir.MergeDivide, ir.MergeAverage,
		ir.MergeMaximum, ir.MergeMinimum, ir.MergePow} {
		g := two(vec, &ir.Merge{Op: m})
		if m == ir.MergePow { // a positive base
			g.Vertices[0].Layer = &ir.ActivationLayer{Activation: ir.Act(ir.ActSoftplus)}
		}
		add("Merge", string(m), g)
	}
	add("Concat", "features", two(seq, &ir.Concat{Axis: -1}))
	cc := two(img, &ir.Concat{Axis: 0})
	cc.Inputs[0].Shape = []int{2, 4, 5} // channels last differs from channels first
	add("Concat", "channels", cc)
	add("Flatten", "image", one(img, &ir.Flatten{}))
	add("Flatten", "sequence", one(seq, &ir.Flatten{}))
	add("Reshape", "", one(vec, &ir.Reshape{Shape: []int{2, 3}}))
	add("Permute", "", one(seq, &ir.Permute{Perm: []int{1, 0}}))
	add("Pad", "zeros-2d", one(img, &ir.Pad{Rank: 2, Mode: ir.PadConstant, Pads: []int{1, 0, 1, 2}}))
	add("Pad", "reflect-2d", one(img, &ir.Pad{Rank: 2, Mode: ir.PadReflect, Pads: []int{1, 1, 1, 1}}))
	add("Pad", "zeros-1d", one(sig, &ir.Pad{Rank: 1, Mode: ir.PadConstant, Pads: []int{2, 1}}))
	add("Cropping", "2d", one(img, &ir.Cropping{Rank: 2, Crops: []int{1, 0, 1, 2}}))
	add("Cropping", "1d", one(sig, &ir.Cropping{Rank: 1, Crops: []int{1, 2}}))
	add("Slice", "", one(vec, &ir.Slice{Axes: []int{0}, Starts: []int{1}, Ends: []int{5}}))
	add("UpSampling", "nearest-2d", one(img, &ir.UpSampling{Rank: 2, Size: []int{2, 2}, Mode: "nearest"}))
	add("UpSampling", "linear-2d", one(img, &ir.UpSampling{Rank: 2, Size: []int{2, 2}, Mode: "linear"}))
	add("UpSampling", "nearest-1d", one(sig, &ir.UpSampling{Rank: 1, Size: []int{2}, Mode: "nearest"}))
	add("RepeatVector", "", one(vec, &ir.RepeatVector{N: 3}))
	add("Tile", "image", one(img, &ir.Tile{Repeats: []int{1, 2, 3}}))
	d2s := one(img, &ir.DepthToSpace{Block: 2, Mode: "DCR"})
	d2s.Inputs[0].Shape = []int{4, 3, 3}
	add("DepthToSpace", "DCR", d2s)
	d2s = one(img, &ir.DepthToSpace{Block: 2, Mode: "CRD"})
	d2s.Inputs[0].Shape = []int{4, 3, 3}
	add("DepthToSpace", "CRD", d2s)
	add("SpaceToDepth", "", one(img, &ir.SpaceToDepth{Block: 2}))
	for _, op := range []string{"mean", "sum", "max"} {
		add("Reduce", op, one(seq, &ir.Reduce{Op: op, Axes: []int{-1}}))
	}
	add("Reduce", "mean-keepdims", one(seq, &ir.Reduce{Op: "mean", Axes: []int{0}, KeepDims: true}))
	add("MultiHeadAttention", "self", one(seq, &ir.MultiHeadAttention{Heads: 2, KeyDim: 3}))
	add("MultiHeadAttention", "cross", two(seq, &ir.MultiHeadAttention{Heads: 2, KeyDim: 2, OutputDim: 5}))
	add("MultiHeadAttention", "causal", one(seq, &ir.MultiHeadAttention{Heads: 1, KeyDim: 4, Causal: true}))
	add("Attention", "dot-scale", two(seq, &ir.Attention{Score: ir.ScoreDot, UseScale: true}))
	add("Attention", "concat", two(seq, &ir.Attention{Score: ir.ScoreConcat, UseScale: true}))
	add("Attention", "additive", two(seq, &ir.Attention{Score: ir.ScoreAdditive, UseScale: true, Dim: 4}))
	add("Attention", "causal", two(seq, &ir.Attention{Score: ir.ScoreAdditive, Causal: true}))
	add("Attention", "across-the-batch", two(vec, &ir.Attention{Score: ir.ScoreDot}))
	add("LastTimeStep", "", one(seq, &ir.LastTimeStep{}))
	add("Masking", "", one(seq, &ir.Masking{Value: 0}))

	tanh, sigm := act(ir.ActTanh), act(ir.ActSigmoid)
	add("SimpleRNN", "last", one(seq, &ir.SimpleRNN{Units: 3, Activation: tanh}))
	add("SimpleRNN", "sequences-backwards", one(seq, &ir.SimpleRNN{Units: 3, Activation: tanh, ReturnSequences: true, GoBackwards: true}))
	add("LSTM", "last", one(seq, &ir.LSTM{Units: 3, Activation: tanh, RecurrentActivation: sigm}))
	add("LSTM", "sequences", one(seq, &ir.LSTM{Units: 3, Activation: tanh, RecurrentActivation: sigm, ReturnSequences: true}))
	add("LSTM", "backwards", one(seq, &ir.LSTM{Units: 3, Activation: tanh, RecurrentActivation: sigm, GoBackwards: true}))
	add("GRU", "reset-after", one(seq, &ir.GRU{Units: 3, Activation: tanh, RecurrentActivation: sigm, ResetAfter: true}))
	add("GRU", "reset-before-sequences", one(seq, &ir.GRU{Units: 3, Activation: tanh, RecurrentActivation: sigm, ReturnSequences: true}))
	for _, m := range []ir.BiMerge{ir.BiConcat, ir.BiSum} {
		add("Bidirectional", "lstm-"+string(m), one(seq, &ir.Bidirectional{Merge: m,
			Layer: &ir.LSTM{Units: 3, Activation: tanh, RecurrentActivation: sigm, ReturnSequences: true}}))
	}
	add("Bidirectional", "gru-last", one(seq, &ir.Bidirectional{Merge: ir.BiConcat,
		Layer: &ir.GRU{Units: 2, Activation: tanh, RecurrentActivation: sigm, ResetAfter: true}}))
	addTensorCases(add)
	return append(cs, tensorElemCases()...)
}

// chain builds x → vertices (named v0, v1, ... in order, each reading the
// earlier ones by index, -1 for x) with the last one "k".
func chain(in int, steps ...tensorStep) *ir.Graph {
	g := one(in, &ir.Flatten{})
	g.Vertices = nil
	name := func(i int) string {
		switch {
		case i < 0:
			return "x"
		case i == len(steps)-1:
			return "k"
		}
		return fmt.Sprintf("v%d", i)
	}
	for i, st := range steps {
		var ins []string
		for _, j := range st.in {
			ins = append(ins, name(j))
		}
		g.Vertices = append(g.Vertices, &ir.Vertex{Name: name(i), Layer: st.l, Inputs: ins})
	}
	g.Outputs = []ir.GraphOutput{{Name: "y", Vertex: "k"}}
	return g
}

type tensorStep struct {
	l  ir.Layer
	in []int
}

func step(l ir.Layer, in ...int) tensorStep { return tensorStep{l, in} }

// addTensorCases: graphs of general tensor ops whose output has the batch
// first, each built so that the ONNX importer needs the general op again
// (an op on the batch axis, a product of two computed tensors, a value
// without a batch axis): a layer vertex could not hold it.
func addTensorCases(add func(kind, name string, g *ir.Graph)) {
	// the Gram matrix xᵀx ([6 6], no batch) of x [B 6] is steps 0 and 1
	gram := []tensorStep{step(&ir.TensorTranspose{Perm: []int{1, 0}}, -1), step(&ir.TensorMatMul{}, 0, -1)}
	with := func(more ...tensorStep) []tensorStep { return append(append([]tensorStep(nil), gram...), more...) }
	add("TensorMatMul", "gram", chain(vec, with(step(&ir.TensorMatMul{}, -1, 1))...))
	add("TensorTranspose", "batch-free", chain(vec, with(step(&ir.TensorTranspose{Perm: []int{1, 0}}, 1), step(&ir.TensorMatMul{}, -1, 2))...))
	add("TensorTranspose", "batch-last", chain(vec, step(&ir.TensorTranspose{Perm: []int{1, 0}}, -1),
		step(&ir.TensorReshape{Shape: []int{2, 3, ir.Batch}}, 0), step(&ir.TensorTranspose{Perm: []int{2, 0, 1}}, 1)))
	add("TensorReshape", "batch-free", chain(vec, with(step(&ir.TensorReshape{Shape: []int{36}}, 1),
		step(&ir.TensorReshape{Shape: []int{6, -1}}, 2), step(&ir.TensorMatMul{}, -1, 3))...))
	add("TensorReshape", "batch-last", chain(vec, step(&ir.TensorTranspose{Perm: []int{1, 0}}, -1),
		step(&ir.TensorReshape{Shape: []int{3, 2, -1}}, 0), step(&ir.TensorTranspose{Perm: []int{2, 1, 0}}, 1)))
	add("TensorSlice", "batch-head", chain(vec, step(&ir.TensorSlice{Axes: []int{0, 1}, Starts: []int{0, 5}, Ends: []int{1, 0}, Steps: []int{1, -2}}, -1),
		step(&ir.TensorExpand{Shape: []int{ir.Batch, 3}}, 0)))
	add("TensorExpand", "batch-free", chain(vec, with(step(&ir.TensorExpand{Shape: []int{ir.Batch, 6, 6}}, 1))...))
	add("TensorConcat", "batch-ends", chain(vec, step(&ir.TensorSlice{Axes: []int{0}, Starts: []int{0}, Ends: []int{1}}, -1),
		step(&ir.TensorSlice{Axes: []int{0}, Starts: []int{-1}, Ends: []int{math.MaxInt32}}, -1),
		step(&ir.TensorConcat{Axis: 1}, 0, 1), step(&ir.TensorExpand{Shape: []int{ir.Batch, 12}}, 2)))
	add("TensorGather", "last-example", chain(vec, step(&ir.TensorGather{Axis: 0, Indices: []int{-1}}, -1),
		step(&ir.TensorExpand{Shape: []int{ir.Batch, 6}}, 0)))
	add("TensorGather", "index-matrix", chain(vec, step(&ir.TensorGather{Axis: 1, Indices: []int{5, 0, 2, 2}, IndexShape: []int{2, 2}}, -1)))
	add("TensorTile", "batch-free", chain(vec, with(step(&ir.TensorTile{Repeats: []int{1, 2}}, 1), step(&ir.TensorMatMul{}, -1, 2))...))
}

// knownGaps are round trips that do not keep everything yet, by
// "kind/variant via format", with the reason; they are logged, and the
// test fails when one starts to pass (remove it then).
var knownGaps = map[string]string{
	"Activation/identity via ONNX":           "an identity activation is written as Identity, which the importer drops",
	"Bidirectional/lstm-sum via ONNX":        "the sum of both directions comes back as ReduceSum + Reshape after a concatenating Bidirectional",
	"SimpleRNN/sequences-backwards via ONNX": "go_backwards is written as a reverse RNN whose output the importer flips back with two Slice vertices",
	"Dropout/spatial via Keras":              "SpatialDropout2D on a channels-last input no image layer reads comes back with a Permute",
	"Flatten/image via Keras":                "a Flatten of a channels-last input no image layer reads comes back as Permute + Flatten + Reshape",
	"LastTimeStep via Keras":                 "a LastTimeStep not after a recurrent layer is written as Cropping1D + Reshape and comes back as those",
	"TensorSoftmax/axis0 via ONNX":           "before opset 13 a softmax off the last axis is written between two Transposes, which come back as TensorTranspose vertices",
}

// fill gives every parameter random values (positive variances), so that
// a weight dropped or transposed on the way shows in the predictions, and
// freezes the vertex under test.
func fill(t *testing.T, g *ir.Graph, seed int64) {
	t.Helper()
	if err := nn.InitGraph(g, ir.InitXavierUniform, seed); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(seed))
	for _, v := range g.Vertices {
		for name, p := range v.Params {
			for i := range p.Data {
				p.Data[i] = float32(r.Float64() - 0.5)
				if name == "var" {
					p.Data[i] = float32(0.5 + r.Float64())
				}
			}
		}
		if v.Name == "k" && len(v.Params) > 0 {
			v.Frozen = true
		}
	}
}

// caseInput is a random batch of 2 in IR layout.
func caseInput(c kindCase, seed int64) *nn.Mat[float32] {
	shape := c.g.Inputs[0].FullShape()
	for i, d := range shape {
		if d == ir.Batch {
			shape[i] = 2
		}
	}
	m := nn.NewMat[float32](shape...)
	r := rand.New(rand.NewSource(seed))
	for i := range m.Data {
		if c.ids > 0 {
			m.Data[i] = float32(r.Intn(c.ids))
		} else {
			m.Data[i] = float32(2*r.Float64() - 1)
		}
	}
	return m
}

func forward(g *ir.Graph, x *nn.Mat[float32]) (*nn.Mat[float32], error) {
	net, err := nn.Compile(g)
	if err != nil {
		return nil, err
	}
	outs, err := net.Forward([]*nn.Mat[float32]{x}, false)
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}

// diff is the largest absolute difference; NaN anywhere or different sizes
// give +Inf.
func diff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	m := 0.0
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if math.IsNaN(d) {
			return math.Inf(1)
		}
		m = max(m, d)
	}
	return m
}

func kindsOf(g *ir.Graph) []string {
	var out []string
	for _, v := range g.Vertices {
		out = append(out, v.Layer.Kind())
	}
	sort.Strings(out)
	return out
}

func trainableCount(t *testing.T, g *ir.Graph) int {
	t.Helper()
	shapes, err := g.Shapes()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range g.Vertices {
		for _, s := range v.Layer.Params(v.InputShapes(shapes)) {
			if s.Trainable {
				n += ir.NumElements(s.Shape)
			}
		}
	}
	return n
}

// compare checks what a round trip must keep: the kinds (a trailing Dense
// may come back as the loss-bearing Output, as documented for the
// importers), the trainable parameter count, the frozen flags and the
// predictions. It returns the problems found.
func compare(t *testing.T, c kindCase, back *ir.Graph, x, want *nn.Mat[float32], kindsMayDiffer string) []string {
	var probs []string
	k0, k1 := kindsOf(c.g), kindsOf(back)
	if strings.Join(k0, ",") != strings.Join(k1, ",") && kindsMayDiffer == "" {
		probs = append(probs, fmt.Sprintf("kinds %v came back as %v", k0, k1))
	}
	if n0, n1 := trainableCount(t, c.g), trainableCount(t, back); n0 != n1 {
		probs = append(probs, fmt.Sprintf("%d trainable parameters came back as %d", n0, n1))
	}
	for _, v := range c.g.Vertices {
		if b := back.Vertex(v.Name); v.Frozen && (b == nil || !b.Frozen) {
			probs = append(probs, fmt.Sprintf("vertex %q lost its frozen flag", v.Name))
		}
	}
	// The Keras importer reads a channels-last input that no image layer
	// reads as a plain tensor: feed it (and read its output) channels last.
	bs, err := back.Shapes()
	if err != nil {
		return append(probs, fmt.Sprintf("shapes: %v", err))
	}
	in0 := c.g.Inputs[0].Shape
	if bi := back.Inputs[0].Shape; len(bi) > 1 && !ir.SameShape(bi, in0) && ir.SameShape(bi, channelsLast(in0)) {
		x = moveAxis(x, 1, len(x.Shape)-1)
	}
	got, err := forward(back, x)
	if err != nil {
		return append(probs, fmt.Sprintf("the re-imported graph does not run: %v", err))
	}
	if bo := bs[back.Outputs[0].Vertex]; len(bo) > 1 && !ir.SameShape(bo, want.Shape[1:]) && ir.SameShape(bo, channelsLast(want.Shape[1:])) {
		got = moveAxis(got, len(got.Shape)-1, 1)
	}
	if d := diff(want.Data, got.Data); d > 1e-5 {
		probs = append(probs, fmt.Sprintf("predictions differ by %g", d))
	}
	return probs
}

// keepsDense: a Dense at the end of the graph, which an importer turns
// into the loss-bearing Output.
func trailingDense(g *ir.Graph) bool {
	for _, o := range g.Outputs {
		if v := g.Vertex(o.Vertex); v != nil && v.Layer.Kind() == "Dense" {
			return true
		}
	}
	return false
}

// onnxFile is one exported model for ONNX Runtime, onnx.checker and
// onnx-go.
type onnxFile struct {
	path  string
	label string
	opset int
	x     *nn.Mat[float32]
	want  *nn.Mat[float32]
	// the file takes its input and gives its output channels last (the
	// exporter keeps the source layout at the edges)
	inCL, outCL bool
}

// TestEveryKindRoundTrips exports a small graph for every layer kind and
// variant to ONNX at every opset the exporter writes, to Keras HDF5 and to
// .rtm, imports each file back and compares it with the source (compare).
// A kind a format cannot hold must fail with the exporter's registered
// reason, and the README table must say so. ONNX files are also run in
// ONNX Runtime, checked by onnx.checker and decoded by onnx-go.
func TestEveryKindRoundTrips(t *testing.T) {
	cases := kindCases()
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.kind] = true
	}
	for _, k := range ir.Kinds() {
		if !covered[k] {
			t.Errorf("kind %s has no round-trip case: add one to kindCases", k)
		}
	}
	gapsSeen := map[string]bool{}
	onnxNo, kerasNo, kerasLimits := exponnx.Unsupported(), kexp.Unsupported(), kexp.Limits()
	decomposed := exponnx.Decomposed()
	dir := t.TempDir()
	var files []onnxFile
	for ci, c := range cases {
		label := c.kind
		if c.name != "" {
			label += "/" + c.name
		}
		fill(t, c.g, int64(ci+1))
		x := caseInput(c, int64(ci+100))
		want, err := forward(c.g, x)
		if err != nil {
			t.Errorf("%s: the source graph does not run: %v", label, err)
			continue
		}
		report := func(format string, probs []string) {
			gap := knownGaps[label+" via "+strings.Fields(format)[0]]
			for _, p := range probs {
				if gap != "" {
					gapsSeen[label+" via "+strings.Fields(format)[0]] = true
					t.Logf("known gap: %s via %s: %s (%s)", label, format, p, gap)
					continue
				}
				t.Errorf("%s via %s: %s", label, format, p)
			}
		}

		// .rtm
		var buf bytes.Buffer
		if err := native.ExportTo(&buf, c.g); err != nil {
			t.Errorf("%s: .rtm export: %v", label, err)
		} else if back, err := native.ImportFrom(&buf); err != nil {
			t.Errorf("%s: .rtm import: %v", label, err)
		} else {
			report(".rtm", compare(t, c, back, x, want, ""))
		}

		// ONNX at every opset
		for opset := exponnx.MinOpset; opset <= exponnx.MaxOpset; opset++ {
			buf.Reset()
			err := exponnx.ExportTo(&buf, c.g, exponnx.Options{Opset: opset})
			if why, no := onnxNo[c.kind]; no {
				if err == nil || !strings.Contains(err.Error(), why) {
					t.Errorf("%s: ONNX export should fail quoting %q, got %v", label, why, err)
				}
				break
			}
			if err != nil {
				t.Errorf("%s: ONNX opset %d export: %v", label, opset, err)
				continue
			}
			p := filepath.Join(dir, fmt.Sprintf("case%03d_op%d.onnx", ci, opset))
			if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			inCL, outCL := edgeLayouts(t, buf.Bytes())
			files = append(files, onnxFile{path: p, label: fmt.Sprintf("%s opset %d", label, opset), opset: opset, x: x, want: want,
				inCL: inCL, outCL: outCL})
			keep := c.kind != "Output" // the importer makes a trailing Gemm the Output vertex
			back, err := imponnx.ImportFrom(bytes.NewReader(buf.Bytes()), imponnx.Options{KeepDense: keep})
			if err != nil {
				report(fmt.Sprintf("ONNX opset %d", opset), []string{"import: " + firstLine(err)})
				continue
			}
			report(fmt.Sprintf("ONNX opset %d", opset), compare(t, c, back, x, want, decomposed[c.kind]))
		}

		// Keras HDF5
		buf.Reset()
		err = kexp.ExportTo(&buf, c.g)
		if why, no := kerasNo[c.kind]; no {
			if err == nil || !strings.Contains(err.Error(), why) {
				t.Errorf("%s: Keras export should fail quoting %q, got %v", label, why, err)
			}
			continue
		}
		var ue *kexp.UnsupportedError
		if errors.As(err, &ue) && kerasLimits[c.kind] != "" && len(ue.Vertices) == 1 && strings.HasPrefix(ue.Vertices[0], "k ") {
			t.Logf("%s: no Keras form (%s)", label, kerasLimits[c.kind])
			continue
		}
		if err != nil {
			t.Errorf("%s: Keras export: %v", label, err)
			continue
		}
		back, err := kimp.ImportFrom(bytes.NewReader(buf.Bytes()), kimp.Options{})
		if err != nil {
			t.Errorf("%s: Keras import: %v", label, err)
			continue
		}
		mayDiffer := ""
		if trailingDense(c.g) {
			mayDiffer = "the importer makes a trailing Dense the Output vertex"
		}
		report("Keras", compare(t, c, back, x, want, mayDiffer))

		// LoadWeights fills a copy of the graph from the file's weights
		h5 := filepath.Join(dir, fmt.Sprintf("case%03d.h5", ci))
		if err := os.WriteFile(h5, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		blank := c.g.Clone()
		for _, v := range blank.Vertices {
			for _, p := range v.Params {
				clear(p.Data)
			}
		}
		if len(c.g.Vertices) > 0 && hasParams(c.g) {
			if err := kimp.LoadWeights(blank, h5, kimp.LoadWeightsOptions{}); err != nil {
				t.Errorf("%s: Keras LoadWeights: %v", label, err)
			} else if got, err := forward(blank, x); err != nil || diff(want.Data, got.Data) > 1e-5 {
				t.Errorf("%s: after Keras LoadWeights the predictions differ (%v)", label, err)
			}
		}
	}
	for g, why := range knownGaps {
		if !gapsSeen[g] {
			t.Errorf("known gap %q (%s) no longer shows: remove it from knownGaps", g, why)
		}
	}
	t.Logf("%d cases, %d ONNX files", len(cases), len(files))
	runORT(t, dir, files)
	onnxChecker(t, files)
	onnxGo(t, files)
}

// runORT runs every ONNX file in one ONNX Runtime process and compares its
// outputs with the engine's.
func runORT(t *testing.T, dir string, files []onnxFile) {
	if why := testenv.ORTMissing(); why != "" {
		t.Logf("ONNX Runtime skipped: %s", why)
		return
	}
	type job struct {
		Model  string   `json:"model"`
		Inputs []string `json:"inputs"`
	}
	var jobs []job
	for i, f := range files {
		p := filepath.Join(dir, fmt.Sprintf("in%04d.npy", i))
		x := f.x
		if f.inCL {
			x = moveAxis(x, 1, len(x.Shape)-1)
		}
		if err := npy.WriteFile(p, x.Shape, x.Data); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, job{Model: f.path, Inputs: []string{p}})
	}
	spec := filepath.Join(dir, "jobs.json")
	b, _ := json.Marshal(jobs)
	if err := os.WriteFile(spec, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := testenv.RunORT("--batch", spec)
	if err != nil {
		t.Fatalf("onnxruntime: %v", err)
	}
	var res []struct {
		Outputs []struct {
			Shape []int     `json:"shape"`
			Data  []float64 `json:"data"`
		} `json:"outputs"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i, r := range res {
		f := files[i]
		if r.Error != "" {
			t.Errorf("%s: ONNX Runtime: %s", f.label, r.Error)
			continue
		}
		if ir.NumElements(r.Outputs[0].Shape) != len(r.Outputs[0].Data) {
			t.Errorf("%s: ONNX Runtime output of shape %v holds %d values", f.label, r.Outputs[0].Shape, len(r.Outputs[0].Data))
			continue
		}
		got := nn.NewMat[float32](r.Outputs[0].Shape...)
		for k, v := range r.Outputs[0].Data {
			got.Data[k] = float32(v)
		}
		if f.outCL {
			got = moveAxis(got, len(got.Shape)-1, 1)
		}
		d := diff(f.want.Data, got.Data)
		if d > 1e-4 || !ir.SameShape(got.Shape, f.want.Shape) {
			t.Errorf("%s: ONNX Runtime output %v differs from the engine's %v by %g", f.label, r.Outputs[0].Shape, f.want.Shape, d)
		}
		worst = max(worst, d)
	}
	t.Logf("ONNX Runtime: %d models, largest difference from the engine %.2g", len(res), worst)
}

// onnxChecker runs onnx.checker (full_check) on every file whose opset the
// installed onnx knows.
func onnxChecker(t *testing.T, files []onnxFile) {
	py, err := testenv.Python("onnx")
	if err != nil {
		t.Logf("onnx.checker skipped: %v", err)
		return
	}
	out, err := exec.Command(py, "-c", "import onnx.defs; print(onnx.defs.onnx_opset_version())").Output()
	if err != nil {
		t.Fatalf("onnx: %v", err)
	}
	var maxOpset int
	fmt.Sscan(string(out), &maxOpset)
	var paths []string
	for _, f := range files {
		if f.opset <= maxOpset {
			paths = append(paths, f.path)
		}
	}
	script := `
import sys, onnx
for p in sys.argv[1:]:
    try:
        onnx.checker.check_model(onnx.load(p), full_check=True)
    except Exception as e:
        print(p, str(e).splitlines()[0])
`
	res, err := exec.Command(py, append([]string{"-c", script}, paths...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("onnx.checker: %v\n%s", err, res)
	}
	if s := strings.TrimSpace(string(res)); s != "" {
		t.Errorf("onnx.checker refuses:\n%s", s)
	}
	t.Logf("onnx.checker (full_check): %d models up to opset %d", len(paths), maxOpset)
}

// onnxGo decodes every file with github.com/owulveryck/onnx-go (through
// internal/onnxgoread) and requires it to read the nodes our own decoder
// reads.
func onnxGo(t *testing.T, files []onnxFile) {
	var paths []string
	for _, f := range files {
		paths = append(paths, f.path)
	}
	cmd := exec.Command("go", append([]string{"run", "github.com/retarget-dev/retarget/internal/onnxgoread"}, paths...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("onnxgoread: %v\n%s", err, stderr.String())
	}
	var res []struct {
		File  string   `json:"file"`
		Ops   []string `json:"ops"`
		Error string   `json:"error"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	if len(res) != len(files) {
		t.Fatalf("onnx-go read %d of %d files", len(res), len(files))
	}
	for i, r := range res {
		f := files[i]
		if r.Error != "" {
			if r.Error == "No data found" && f.opset < 13 && strings.HasPrefix(f.label, "UpSampling") {
				// Resize needs its roi input before opset 13; we write it
				// empty, as ONNX allows, and onnx-go cannot decode an
				// empty tensor.
				t.Logf("known onnx-go gap: %s: %s", f.label, r.Error)
				continue
			}
			t.Errorf("%s: onnx-go: %s", f.label, r.Error)
			continue
		}
		if want := onnxOps(t, f.path); strings.Join(r.Ops, ",") != strings.Join(want, ",") {
			t.Errorf("%s: onnx-go read ops %v, our decoder %v", f.label, r.Ops, want)
		}
	}
	t.Logf("onnx-go v0.5.0: decoded %d models", len(res))
}

// onnxOps lists a file's node op types with internal/onnxpb.
func onnxOps(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(b, m); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, n := range m.GetGraph().GetNode() {
		ops = append(ops, n.GetOpType())
	}
	return ops
}

func channelsLast(s []int) []int { return append(append([]int(nil), s[1:]...), s[0]) }

// moveAxis returns m with axis from moved to position to.
func moveAxis(m *nn.Mat[float32], from, to int) *nn.Mat[float32] {
	perm := []int{}
	for i := range m.Shape {
		if i != from {
			perm = append(perm, i)
		}
	}
	perm = append(perm[:to], append([]int{from}, perm[to:]...)...)
	shape := make([]int, len(perm))
	for i, p := range perm {
		shape[i] = m.Shape[p]
	}
	out := nn.NewMat[float32](shape...)
	idx := make([]int, len(shape))
	strides := make([]int, len(m.Shape))
	st := 1
	for i := len(m.Shape) - 1; i >= 0; i-- {
		strides[i] = st
		st *= m.Shape[i]
	}
	for k := range out.Data {
		src := 0
		for i, p := range perm {
			src += idx[i] * strides[p]
		}
		out.Data[k] = m.Data[src]
		for i := len(idx) - 1; i >= 0; i-- {
			if idx[i]++; idx[i] < shape[i] {
				break
			}
			idx[i] = 0
		}
	}
	return out
}

func hasParams(g *ir.Graph) bool {
	for _, v := range g.Vertices {
		if len(v.Params) > 0 {
			return true
		}
	}
	return false
}

// edgeLayouts says whether a model's first input and first output are
// channels last (retarget.layout.<name> in metadata_props: the exporter
// keeps a channels-last source layout at the edges).
func edgeLayouts(t *testing.T, b []byte) (in, out bool) {
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(b, m); err != nil {
		t.Fatal(err)
	}
	cl := func(name string) bool {
		for _, kv := range m.GetMetadataProps() {
			if kv.GetKey() == exponnx.LayoutKey+name {
				switch ir.Layout(kv.GetValue()) {
				case ir.LayoutNHWC, ir.LayoutNWC, ir.LayoutNDHWC:
					return true
				}
			}
		}
		return false
	}
	return cl(m.GetGraph().GetInput()[0].GetName()), cl(m.GetGraph().GetOutput()[0].GetName())
}
