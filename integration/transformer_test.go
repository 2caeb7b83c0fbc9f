package integration_test

import (
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	kerasimp "github.com/retarget-dev/retarget/importers/keras"
	"github.com/retarget-dev/retarget/nn"

	onnximp "github.com/retarget-dev/retarget/importers/onnx"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/retarget"
)

// countKinds counts the vertices of each kind.
func countKinds(g *ir.Graph) map[string]int {
	m := map[string]int{}
	for _, v := range g.Vertices {
		m[v.Layer.Kind()]++
	}
	return m
}

// TestImportedViT retargets the torchvision VisionTransformer exported by
// PyTorch (testdata/gen/onnx_transformer_fixtures.py): an identity block
// inserted after the first encoder block and the second block's MLP
// widened keep the outputs; then the patch embedding and the first block
// are frozen, the head gets 3 classes, and the rest trains.
func TestImportedViT(t *testing.T) {
	src := importONNX(t, "vit_tiny_op13")
	if k := countKinds(src); k["MultiHeadAttention"] != 2 {
		t.Fatalf("want 2 MultiHeadAttention vertices, got kinds %v", k)
	}
	x := randInput(src, 4, 1)
	block0 := "/encoder/layers/encoder_layer_0/Add_1"
	ident := &ir.Dense{Units: 16}
	g, _ := build(t, retarget.New(src).Insert("inserted", ident, block0, ir.InitIdentity))
	preserved(t, "identity Dense after block 0", src, g, x)
	g, _ = build(t, retarget.New(src).Widen("/encoder/layers/encoder_layer_1/mlp/mlp.0/MatMul", 8, retarget.WidenPreserve))
	preserved(t, "block 1 MLP widened", src, g, x)

	g, _ = build(t, retarget.New(src).
		FineTune(ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 1e-2, Seed: 1}).
		FreezeThrough(block0).
		ReplaceNOut("/heads/head/Gemm", 3, "", ""))
	for _, name := range []string{"/conv_proj/Conv", "/Expand", "/encoder/layers/encoder_layer_0/self_attention"} {
		if v := g.Vertex(name); v == nil || !v.Frozen {
			t.Errorf("%s is not frozen", name)
		}
	}
	if v := g.Vertex("/encoder/layers/encoder_layer_1/self_attention"); v == nil || v.Frozen {
		t.Errorf("block 1 attention is frozen")
	}
	tx, ty := images(3, 16, 3, src.Inputs[0].Shape...)
	first, last := fitFew(t, g, tx, ty, 8, 10)
	t.Logf("fit: loss %.4f -> %.4f", first, last)
	g.Name = "vit_tiny_retargeted"
	onnxPath := roundTrip(t, g, x, map[string]string{".h5": "the Keras exporter has no MultiHeadAttention yet"})
	sameKindsAndParams(t, g, onnxPath)
}

// sameKindsAndParams re-imports an exported ONNX file and checks that its
// attention vertices and trainable parameter count are those of g.
func sameKindsAndParams(t *testing.T, g *ir.Graph, onnxPath string) {
	t.Helper()
	if onnxPath == "" {
		return
	}
	g2, err := onnximp.Import(onnxPath, onnximp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := countKinds(g)["MultiHeadAttention"], countKinds(g2)["MultiHeadAttention"]; a != b {
		t.Errorf("re-imported ONNX has %d MultiHeadAttention vertices, want %d", b, a)
	}
	for _, v := range g.Vertices {
		if v.Layer.Kind() == "MultiHeadAttention" && g2.Vertex(v.Name) == nil {
			t.Errorf("re-imported ONNX lost vertex %s", v.Name)
		}
	}
	_, want, err := retarget.ParamCounts(g)
	if err != nil {
		t.Fatal(err)
	}
	_, got, err := retarget.ParamCounts(g2)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("re-imported ONNX has %d trainable parameters, want %d", got, want)
	}
}

// tokens makes n sequences of ids in [0, vocab) whose first token tells
// the class (k classes), with one-hot labels.
func tokens(seed int64, n, steps, vocab, k int) (*ir.Tensor, *ir.Tensor) {
	r := rand.New(rand.NewSource(seed))
	x, y := ir.NewTensor(n, steps), ir.NewTensor(n, k)
	for i := 0; i < n; i++ {
		c := i % k
		y.Data[i*k+c] = 1
		for j := 0; j < steps; j++ {
			x.Data[i*steps+j] = float32(r.Intn(vocab))
		}
		x.Data[i*steps+1] = float32(c) // the class token sits at step 1
	}
	return x, y
}

// TestImportedTransformerEncoder retargets a BERT-style encoder exported by
// PyTorch (token embedding, learned positions, torch.nn.TransformerEncoder
// with 2 layers, CLS head): embeddings and the first layer frozen, a new
// 4-class head on the CLS token, trained, exported and re-imported.
func TestImportedTransformerEncoder(t *testing.T) {
	src := importONNX(t, "bert_tiny_op13")
	if k := countKinds(src); k["MultiHeadAttention"] != 2 || k["Embedding"] != 1 {
		t.Fatalf("want 2 MultiHeadAttention and 1 Embedding vertices, got kinds %v", k)
	}
	x, _ := tokens(1, 4, 7, 50, 4)
	layer0 := "/enc/layers.0/norm2/Add_1"
	g, _ := build(t, retarget.New(src).Widen("/enc/layers.1/linear1/MatMul", 8, retarget.WidenPreserve))
	preserved(t, "layer 1 feed-forward widened", src, g, x)
	g, _ = build(t, retarget.New(src).
		FineTune(ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 1e-2, Seed: 1}).
		FreezeThrough(layer0).
		ReplaceNOut("/head/Gemm", 4, "", ""))
	for _, name := range []string{"/tok/Gather", "/Add/const", "/enc/layers.0/self_attn"} {
		if v := g.Vertex(name); v == nil || !v.Frozen {
			t.Errorf("%s is not frozen", name)
		}
	}
	tx, ty := tokens(2, 32, 7, 50, 4)
	first, last := fitFew(t, g, tx, ty, 8, 12)
	t.Logf("fit: loss %.4f -> %.4f", first, last)
	g.Name = "bert_tiny_retargeted"
	onnxPath := roundTrip(t, g, x, map[string]string{".h5": "the Keras exporter has no MultiHeadAttention yet"})
	sameKindsAndParams(t, g, onnxPath)
}

// TestKerasTransformerRoundTrip takes the Keras 3 archive with self- and
// cross-attention (testdata/gen/keras3_fixture.py) through every format:
// each re-imported file has the same attention vertices and trainable
// parameters and predicts the same on both inputs; the ONNX file also runs
// in ONNX Runtime.
func TestKerasTransformerRoundTrip(t *testing.T) {
	g, err := kerasimp.Import("../testdata/keras/k3_transformer.keras", kerasimp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(3))
	x, y := ir.NewTensor(2, 5, 8), ir.NewTensor(2, 6, 7)
	for _, tt := range []*ir.Tensor{x, y} {
		for i := range tt.Data {
			tt.Data[i] = float32(rng.NormFloat64())
		}
	}
	run := func(g *ir.Graph) *ir.Tensor {
		net, err := nn.Compile(g)
		if err != nil {
			t.Fatal(err)
		}
		out, err := net.Predict(x, y)
		if err != nil {
			t.Fatal(err)
		}
		return out[0]
	}
	want := run(g)
	_, trainable, _ := retarget.ParamCounts(g)
	dir := t.TempDir()
	for _, f := range formats {
		t.Run(strings.TrimPrefix(f.ext, "."), func(t *testing.T) {
			p := filepath.Join(dir, "k3_transformer"+f.ext)
			if err := f.save(p, g); err != nil {
				t.Fatalf("export: %v", err)
			}
			g2, err := f.load(p)
			if err != nil {
				t.Fatalf("re-import: %v", err)
			}
			if a, b := countKinds(g)["MultiHeadAttention"], countKinds(g2)["MultiHeadAttention"]; a != b {
				t.Errorf("%d MultiHeadAttention vertices, want %d", b, a)
			}
			if _, n, _ := retarget.ParamCounts(g2); n != trainable {
				t.Errorf("%d trainable parameters, want %d", n, trainable)
			}
			if d := maxDiff(want, run(g2)); d > 1e-5 {
				t.Errorf("predicts differently: %.3g", d)
			}
		})
	}
}
