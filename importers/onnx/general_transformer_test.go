package onnx

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/retarget-dev/retarget/exporters/native"
	exponnx "github.com/retarget-dev/retarget/exporters/onnx"
	"github.com/retarget-dev/retarget/internal/testenv"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/npy"
)

// TestTransformersAsGeneralOps: the ViT and BERT-style fixtures imported
// as general tensor ops (attention matcher off; TestAttentionThroughGeneralOps
// fine-tunes them) go through .rtm and our ONNX export: ONNX Runtime runs
// that export as the engine does, and it reads back.
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
