package onnx

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"path/filepath"
	"testing"

	"github.com/retarget-dev/retarget/exporters/native"
	exponnx "github.com/retarget-dev/retarget/exporters/onnx"
	"github.com/retarget-dev/retarget/internal/testenv"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
	"github.com/retarget-dev/retarget/npy"
	"github.com/retarget-dev/retarget/retarget"
)

// TestTransformersAsGeneralOps imports the ViT and BERT-style fixtures with
// the attention matcher off: every node of the attention (heads by
// Reshape/Transpose over the batch, products of two computed tensors, the
// [B·T, D] projections) imports as general tensor ops, matches PyTorch,
// and our ONNX export of that graph matches in ONNX Runtime and reads back;
// .rtm keeps it.
func TestTransformersAsGeneralOps(t *testing.T) {
	noAttentionMatch = true
	defer func() { noAttentionMatch = false }()
	for _, name := range []string{"vit_tiny_op13", "bert_tiny_op13", "bert_tiny_op14"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("../../testdata/onnx", name+".onnx")
			fx := loadFixture(t, path)
			g, err := Import(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			tensorOps := 0
			for _, v := range g.Vertices {
				if _, ok := v.Layer.(*ir.MultiHeadAttention); ok {
					t.Fatalf("vertex %q is a MultiHeadAttention with the matcher off", v.Name)
				}
				if ir.IsTensorOp(v.Layer) {
					tensorOps++
				}
			}
			if tensorOps < 10 {
				t.Fatalf("%d general tensor ops: the attention did not go the general path", tensorOps)
			}
			close := func(what string, h *ir.Graph) {
				t.Helper()
				outs, _, err := predict(h, fx.Inputs)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if d, err := maxAbsDiff(outs[0], fx.Outputs[0]); err != nil || d > 1e-4 {
					t.Errorf("%s: differs from PyTorch by %g (%v)", what, d, err)
				}
			}
			close("import", g)
			var buf bytes.Buffer
			if err := native.ExportTo(&buf, g); err != nil {
				t.Fatal(err)
			}
			back, err := native.ImportFrom(&buf)
			if err != nil {
				t.Fatal(err)
			}
			close(".rtm", back)
			ours := filepath.Join(t.TempDir(), "ours.onnx")
			if err := exponnx.Export(ours, g, exponnx.Options{}); err != nil {
				t.Fatal(err)
			}
			again, err := Import(ours, Options{})
			if err != nil {
				t.Fatal(err)
			}
			close("our ONNX export", again)
			if why := testenv.ORTMissing(); why != "" {
				t.Skip(why)
			}
			in := fx.Inputs[0]
			x := tensorFromFixture(in)
			p := filepath.Join(t.TempDir(), "x.npy")
			if err := npy.WriteFile(p, x.Shape, x.Data); err != nil {
				t.Fatal(err)
			}
			out, err := testenv.RunORT(ours, p)
			if err != nil {
				t.Fatalf("onnxruntime: %v", err)
			}
			var res struct {
				Outputs []fixtureArray `json:"outputs"`
			}
			if err := json.Unmarshal(out, &res); err != nil || len(res.Outputs) == 0 {
				t.Fatalf("onnxruntime output: %v", err)
			}
			res.Outputs[0].Name = fx.Outputs[0].Name
			outs, _, _ := predict(g, fx.Inputs)
			if d, err := maxAbsDiff(outs[0], res.Outputs[0]); err != nil || d > 1e-4 {
				t.Errorf("onnxruntime on our export differs from the engine by %g (%v)", d, err)
			}
		})
	}
}

// TestRetargetGeneralTransformer retargets the BERT-style encoder imported
// as general tensor ops (attention matcher off): the embeddings and the
// first layer are frozen (their TensorConstants too), the CLS head gets 4
// classes, and a few Adam steps lower the loss, gradients flowing back
// through the tensor ops into the second layer's attention weights; the
// frozen values stay bit-identical.
func TestRetargetGeneralTransformer(t *testing.T) {
	noAttentionMatch = true
	g, err := Import("../../testdata/onnx/bert_tiny_op13.onnx", Options{})
	noAttentionMatch = false
	if err != nil {
		t.Fatal(err)
	}
	g, err = retarget.New(g).FineTune(ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 1e-2, Seed: 1}).
		FreezeThrough("/enc/layers.0/norm2/Add_1").ReplaceNOut("/head/Gemm", 4, "", "").Build()
	if err != nil {
		t.Fatal(err)
	}
	for name, frozen := range map[string]bool{"onnx::MatMul_286": true, "enc.layers.0.self_attn.out_proj.weight": true,
		"onnx::MatMul_289": false, "enc.layers.1.self_attn.out_proj.weight": false} {
		if v := g.Vertex(name); v == nil || v.Frozen != frozen || !v.Layer.(*ir.TensorConstant).Trainable {
			t.Fatalf("%s: %+v, want a learned TensorConstant, frozen %v", name, v, frozen)
		}
	}
	before := g.Clone()
	// the class sits in the first token after CLS
	rng := rand.New(rand.NewSource(2))
	x, y := ir.NewTensor(32, 7), ir.NewTensor(32, 4)
	for i := 0; i < 32; i++ {
		y.Data[i*4+i%4] = 1
		for j := 0; j < 7; j++ {
			x.Data[i*7+j] = float32(rng.Intn(50))
		}
		x.Data[i*7+1] = float32(i % 4)
	}
	net, err := nn.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	it, err := nn.NewArrayIterator(x, y, 8, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	var losses []float64
	for epoch := 0; epoch < 4; epoch++ {
		if err := it.Reset(); err != nil {
			t.Fatal(err)
		}
		for {
			b, err := it.Next()
			if err != nil {
				break
			}
			l, err := net.FitBatch(b)
			if err != nil {
				t.Fatal(err)
			}
			losses = append(losses, l)
		}
	}
	first, last := (losses[0]+losses[1]+losses[2]+losses[3])/4, (losses[12]+losses[13]+losses[14]+losses[15])/4
	if !(last < 0.8*first) {
		t.Errorf("the loss did not fall: epoch 1 %.4f, epoch 4 %.4f (%v)", first, last, losses)
	}
	moved := map[string]bool{}
	for _, v := range g.Vertices {
		old := before.Vertex(v.Name)
		for k, p := range v.Params {
			same := p.Equal(old.Params[k])
			if v.Frozen && !same {
				t.Errorf("frozen %s/%s changed", v.Name, k)
			}
			moved[v.Name] = moved[v.Name] || !same
		}
	}
	if !moved["onnx::MatMul_289"] || !moved["enc.layers.1.self_attn.out_proj.weight"] {
		t.Errorf("layer 1's attention weights did not train: %v", moved)
	}
	t.Logf("loss: epoch 1 %.4f, epoch 4 %.4f", first, last)
}
