package integration_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	kerasexp "github.com/retarget-dev/retarget/exporters/keras"
	kerasimp "github.com/retarget-dev/retarget/importers/keras"
	onnximp "github.com/retarget-dev/retarget/importers/onnx"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/npy"
	"github.com/retarget-dev/retarget/retarget"
)

const kerasReal = "../../shared/fixtures/keras-real"

func importONNX(t *testing.T, name string) *ir.Graph {
	t.Helper()
	g, err := onnximp.Import(filepath.Join("../testdata/onnx", name+".onnx"), onnximp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func randInput(g *ir.Graph, n int, seed int64) *ir.Tensor {
	x, _ := images(seed, n, 2, g.Inputs[0].Shape...)
	return x
}

// TestImportedONNXCNN retargets the exported PyTorch CNN (conv, BN, relu,
// pool, grouped conv, Gemm classifier).
func TestImportedONNXCNN(t *testing.T) {
	src := importONNX(t, "cnn_op13")
	x := randInput(src, 6, 1)
	// conv1 feeds a grouped (2 groups, not depthwise) conv: widening it
	// must be refused with an error naming the vertex, not a panic
	_, err := retarget.New(src).Widen("/conv1/Conv", 2, retarget.WidenPreserve).Build()
	var be *retarget.BuildError
	if !errors.As(err, &be) || !strings.Contains(err.Error(), "/conv2/Conv") {
		t.Errorf("widen before a grouped conv: %v", err)
	}
	g, notes := build(t, retarget.New(src).Insert("ins", identityConv(), "/Relu", ir.InitIdentity))
	if len(notes) > 0 {
		t.Errorf("notes: %v", notes)
	}
	preserved(t, "identity conv after /Relu", src, g, x, "/Reshape")

	// replace bn2 by a fresh BatchNorm: the same as resetting its statistics
	fresh := &ir.BatchNorm{Epsilon: 1e-5, Momentum: 0.9}
	g, _ = build(t, retarget.New(src).Remove("/bn2/BatchNormalization", true).Add("/bn2/BatchNormalization", fresh, "/conv2/Conv"))
	ref := src.Clone()
	bn := ref.Vertex("/bn2/BatchNormalization")
	for k, p := range bn.Params {
		v := float32(0)
		if k == "gamma" || k == "var" {
			v = 1
		}
		for i := range p.Data {
			p.Data[i] = v
		}
	}
	preserved(t, "bn2 replaced", ref, g, x)

	g, _ = build(t, retarget.New(src).
		FineTune(ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 1e-2, Seed: 1}).
		FreezeThrough("/Reshape").
		ReplaceNOut("/fc/Gemm", 4, "", "").
		Insert("ins", identityConv(), "/Relu", ir.InitIdentity))
	tx, ty := images(3, 16, 4, src.Inputs[0].Shape...)
	first, last := fitFew(t, g, tx, ty, 8, 6)
	t.Logf("fit: loss %.4f -> %.4f", first, last)
	g.Name = "cnn_op13_retargeted"
	roundTrip(t, g, x, nil)
}

// TestImportedONNXConv1D widens through PReLU, pooling, a Reshape to a
// sequence, a Conv1D, a Slice and a Flatten.
func TestImportedONNXConv1D(t *testing.T) {
	src := importONNX(t, "cnn_op9")
	x := randInput(src, 5, 2)
	for _, mode := range []retarget.WidenMode{retarget.WidenPreserve, retarget.WidenNet2Net} {
		g, notes := build(t, retarget.New(src).Widen("/conv/Conv", 3, mode).Widen("/conv1d/Conv", 2, mode))
		if len(notes) > 0 {
			t.Errorf("%s notes: %v", mode, notes)
		}
		if s := g.Vertex("/Reshape").Layer.(*ir.Reshape).Shape; s[0] != 7 {
			t.Errorf("%s: the Reshape after the widened conv has shape %v", mode, s)
		}
		preservedTol(t, string(mode)+" widen", src, g, x, 2e-6)
	}
	g, _ := build(t, retarget.New(src).Widen("/conv/Conv", 3, retarget.WidenPreserve).
		Widen("/conv1d/Conv", 2, retarget.WidenPreserve).ReplaceNOut("/fc/Gemm", 2, "", "").FreezeThrough("/Flatten"))
	g.Name = "cnn_op9_retargeted"
	// Keras has no Slice layer, nor an average pool with explicit padding
	// excluded from the mean: the exporter must list both, not write a file
	err := kerasexp.Export(filepath.Join(t.TempDir(), "m.h5"), g)
	var ue *kerasexp.UnsupportedError
	if !errors.As(err, &ue) || len(ue.Vertices) != 2 {
		t.Errorf("keras export of Slice and padded AveragePool: %v", err)
	}
	roundTrip(t, g, x, map[string]string{".h5": "not expressible in Keras (checked above)"})
}

// TestImportedONNXMLP is the Dense case: widen, identity insert, new class
// count, fit, export.
func TestImportedONNXMLP(t *testing.T) {
	src := importONNX(t, "mlp_softmax_op11")
	x := randInput(src, 8, 3)
	for _, mode := range []retarget.WidenMode{retarget.WidenPreserve, retarget.WidenNet2Net} {
		g, notes := build(t, retarget.New(src).Widen("/fc1/Gemm", 5, mode).Widen("/fc2/Gemm", 3, mode).
			Insert("ins", &ir.Dense{Activation: ir.Act(ir.ActReLU)}, "/Relu", ir.InitIdentity))
		if len(notes) > 0 {
			t.Errorf("%s notes: %v", mode, notes)
		}
		preservedTol(t, string(mode)+" widen + insert", src, g, x, 2e-6)
	}
	g, _ := build(t, retarget.New(src).
		FineTune(ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 1e-2, Seed: 1}).
		Widen("/fc1/Gemm", 5, retarget.WidenPreserve).
		FreezeThrough("/Tanh").
		Unfreeze("/fc2/Gemm").
		ReplaceNOut("/fc3/Gemm", 3, "", ""))
	if !g.Vertex("/fc1/Gemm").Frozen || !g.Vertex("/Relu").Frozen || g.Vertex("/fc2/Gemm").Frozen || g.Vertex("/Tanh").Frozen {
		t.Error("frozen flags after FreezeThrough(/Tanh) and Unfreeze(/fc2/Gemm)")
	}
	// a new input size re-initialises the first layer only
	g2, notes := build(t, retarget.New(src).ReplaceNIn("/fc1/Gemm", 24, ""))
	if !ir.SameShape(g2.Inputs[0].Shape, []int{24}) || !ir.SameShape(g2.Vertex("/fc1/Gemm").Params["W"].Shape, []int{24, 32}) ||
		!g2.Vertex("/fc2/Gemm").Params["W"].Equal(src.Vertex("/fc2/Gemm").Params["W"]) || len(notes) != 1 {
		t.Errorf("replace_nin: input %v, W %v, notes %v", g2.Inputs[0].Shape, g2.Vertex("/fc1/Gemm").Params["W"].Shape, notes)
	}
	if out := predict(t, g2, randInput(g2, 3, 9)); !ir.SameShape(out.Shape, []int{3, 5}) {
		t.Errorf("replace_nin output %v", out.Shape)
	}
	tx, ty := images(4, 24, 3, src.Inputs[0].Shape...)
	first, last := fitFew(t, g, tx, ty, 8, 9)
	t.Logf("fit: loss %.4f -> %.4f", first, last)
	g.Name = "mlp_retargeted"
	roundTrip(t, g, x, nil)
}

// TestImportedKerasCNN retargets a real Keras 2 file (Conv2D, BN, relu,
// Conv2D, Flatten, Dense regression output).
func TestImportedKerasCNN(t *testing.T) {
	dir := filepath.Join(kerasReal, "fullconfigs", "cnn")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("real Keras fixtures absent (%s): %v", dir, err)
	}
	src, err := kerasimp.Import(filepath.Join(dir, "cnn_batch_norm.h5"), kerasimp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// the import predicts what Keras predicted
	in, err := npy.ReadFile(filepath.Join(dir, "input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := npy.ReadFile(filepath.Join(dir, "predictions.npy"))
	if err != nil {
		t.Fatal(err)
	}
	// input.npy is channels last, as Keras took it; our helpers take the
	// internal layout
	xcl := ir.FromData(in.Data, in.Shape...)
	x := toInternal(xcl)
	if d := maxDiff(predict(t, src, x), ir.FromData(want.Data, want.Shape...)); d > 1e-5 {
		t.Fatalf("import differs from Keras by %.3g", d)
	}
	for _, mode := range []retarget.WidenMode{retarget.WidenPreserve, retarget.WidenNet2Net} {
		g, notes := build(t, retarget.New(src).Widen("conv2d_1", 3, mode).Widen("conv2d_2", 2, mode).
			Insert("ins", identityConv(), "activation_1", ir.InitIdentity))
		if len(notes) > 0 {
			t.Errorf("%s notes: %v", mode, notes)
		}
		preservedTol(t, string(mode)+" widen + insert", src, g, x, 2e-6)
	}
	g, _ := build(t, retarget.New(src).
		FineTune(ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 1e-2, Seed: 1}).
		Widen("conv2d_1", 3, retarget.WidenPreserve).
		Widen("conv2d_2", 2, retarget.WidenPreserve).
		FreezeThrough("flatten_1").
		ReplaceNOut("dense_1", 4, "", ""))
	tx, _ := images(5, 16, 2, src.Inputs[0].Shape...)
	ty, _ := images(6, 16, 2, 4)
	first, last := fitFew(t, g, tx, ty, 8, 6)
	t.Logf("fit: loss %.4f -> %.4f", first, last)
	g.Name = "keras_cnn_retargeted"
	roundTrip(t, g, x, nil)
}

// toInternal turns a channels-last batch [N, d..., C] into [N, C, d...].
func toInternal(x *ir.Tensor) *ir.Tensor {
	rank := len(x.Shape)
	perm := []int{0, rank - 1}
	for i := 1; i < rank-1; i++ {
		perm = append(perm, i)
	}
	d, s := transpose(x.Data, x.Shape, perm)
	return ir.FromData(d, s...)
}
