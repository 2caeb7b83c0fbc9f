package onnx

import (
	"math"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	exponnx "github.com/retarget-dev/retarget/exporters/onnx"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
	"github.com/retarget-dev/retarget/retarget"
)

// fineTune retargets g to k classes at head (freezing through freeze when
// given), trains a few steps on (x, y) and checks that the loss falls,
// frozen tensors stay bit-identical and some trainable one moves. It
// returns the trained graph and the network.
func fineTune(t *testing.T, g *ir.Graph, head, freeze string, k int, x, y *ir.Tensor) (*ir.Graph, *nn.Net[float32]) {
	t.Helper()
	b := retarget.New(g).FineTune(ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 1e-2, Seed: 1}).ReplaceNOut(head, k, "", "")
	if freeze != "" {
		b = b.FreezeThrough(freeze)
	}
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	before := g.Clone()
	net, err := nn.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	it, err := nn.NewArrayIterator(x, y, 8, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	first := math.NaN()
	for step := 0; step < 12; step++ {
		if step%(x.Shape[0]/8) == 0 {
			if err := it.Reset(); err != nil {
				t.Fatal(err)
			}
		}
		bt, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.FitBatch(bt)
		if err != nil {
			t.Fatal(err)
		}
		if step == 0 {
			first = l
		}
	}
	if err := it.Reset(); err != nil {
		t.Fatal(err)
	}
	bt, _ := it.Next()
	after, err := net.FitBatch(bt) // the loss of the first batch after training
	if err != nil {
		t.Fatal(err)
	}
	if !(after < first) {
		t.Errorf("loss did not fall: %.4g -> %.4g", first, after)
	}
	t.Logf("fine-tune: loss %.4f -> %.4f", first, after)
	moved := false
	for _, v := range g.Vertices {
		for name, p := range v.Params {
			same := p.Equal(before.Vertex(v.Name).Params[name])
			if v.Frozen && !same {
				t.Errorf("frozen %s/%s changed", v.Name, name)
			}
			moved = moved || !v.Frozen && !same
		}
	}
	if !moved {
		t.Error("no trainable tensor moved")
	}
	return g, net
}

// idsData makes n token sequences whose step-1 token tells the class;
// with pad, sequences end in 0..3 padding tokens (id 0).
func idsData(seed int64, n, steps, vocab, k int, pad bool) (*ir.Tensor, *ir.Tensor) {
	r := rand.New(rand.NewSource(seed))
	x, y := ir.NewTensor(n, steps), ir.NewTensor(n, k)
	for i := 0; i < n; i++ {
		c := i % k
		y.Data[i*k+c] = 1
		padded := 0
		if pad {
			padded = r.Intn(4)
		}
		for j := 0; j < steps; j++ {
			if j < steps-padded {
				x.Data[i*steps+j] = float32(1 + r.Intn(vocab-1))
			}
		}
		x.Data[i*steps+1] = float32(1 + c)
	}
	return x, y
}

func imageData(seed int64, n, k int, shape ...int) (*ir.Tensor, *ir.Tensor) {
	r := rand.New(rand.NewSource(seed))
	x, y := ir.NewTensor(append([]int{n}, shape...)...), ir.NewTensor(n, k)
	per := ir.NumElements(shape)
	for i := 0; i < n; i++ {
		c := i % k
		y.Data[i*k+c] = 1
		for j := 0; j < per; j++ {
			x.Data[i*per+j] = float32(r.NormFloat64()) + float32(c)*0.5
		}
	}
	return x, y
}

// With the attention matcher off, the ViT and BERT fixtures import as
// general tensor ops (TensorMatMul, TensorSoftmax, ...), predict what
// PyTorch did, and fine-tune a new head: the gradient reaches the query
// columns of the packed in-projection, which only the scores (through
// TensorMatMul and TensorSoftmax) read.
func TestAttentionThroughGeneralOps(t *testing.T) {
	noAttentionMatch = true
	defer func() { noAttentionMatch = false }()
	for _, name := range []string{"vit_tiny_op13", "vit_tiny_op14", "bert_tiny_op13", "bert_tiny_op14"} {
		t.Run(name, func(t *testing.T) {
			path := "../../testdata/onnx/" + name + ".onnx"
			g, err := Import(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			k := countKinds(g)
			if k["MultiHeadAttention"] != 0 || k["TensorMatMul"] < 4 || k["TensorSoftmax"] != 2 {
				t.Fatalf("kinds %v: want the attention as general ops", k)
			}
			fx := loadFixture(t, path)
			outs, _, err := predict(g, fx.Inputs)
			if err != nil {
				t.Fatal(err)
			}
			d, err := maxAbsDiff(outs[0], fx.Outputs[0])
			if err != nil || d > 1e-5 {
				t.Fatalf("max abs diff vs PyTorch %g (%v)", d, err)
			}
			t.Logf("general ops vs PyTorch max abs diff %.3g (kinds %v)", d, k)

			var x, y *ir.Tensor
			head := "/head/Gemm"
			if strings.HasPrefix(name, "vit") {
				x, y = imageData(1, 16, 3, g.Inputs[0].Shape...)
				head = "/heads/head/Gemm"
			} else {
				x, y = idsData(1, 16, 7, 50, 3, false)
			}
			tg, net := fineTune(t, g, head, "", 3, x, y)
			// the packed in-projection weight of a block, a learned
			// [E, 3E] TensorConstant feeding a TensorMatMul; query columns first
			var inProj string
			for _, v := range tg.Vertices {
				if c, ok := v.Layer.(*ir.TensorConstant); ok && c.Trainable && len(c.Shape) == 2 && c.Shape[1] == 3*c.Shape[0] && inProj == "" {
					inProj = v.Name
				}
			}
			if inProj == "" {
				t.Fatal("no packed in-projection weight")
			}
			gw := net.Params(inProj).Grads["value"]
			e := gw.Shape[0]
			var q float64
			for i := 0; i < e; i++ {
				for j := 0; j < e; j++ {
					q += math.Abs(float64(gw.Data[i*3*e+j]))
				}
			}
			if q == 0 {
				t.Errorf("%s: no gradient on the query columns (nothing flows through the scores)", inProj)
			}
		})
	}
}

// A BERT-style encoder whose forward computes its padding mask from the ids
// (testdata/gen/onnx_transformer_fixtures.py, bert_masked): the matcher
// does not fold the masked attention, so Equal, Where, ConstantOfShape and
// the attention import as general ops; the engine matches PyTorch and ONNX
// Runtime on ids with padding and fine-tunes a new head with the
// embeddings and the first layer frozen.
func TestMaskedBERT(t *testing.T) {
	for _, name := range []string{"bert_masked_op13", "bert_masked_op14"} {
		t.Run(name, func(t *testing.T) {
			path := "../../testdata/onnx/" + name + ".onnx"
			g, err := Import(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if w := g.Meta["onnx_warnings"]; w != "" {
				t.Errorf("import warnings: %s", w) // the mask's casts to bool are exact
			}
			k := countKinds(g)
			if k["TensorWhere"] == 0 || k["TensorBinary"] == 0 || k["TensorSoftmax"] != 2 {
				t.Fatalf("kinds %v: want the mask and attention as general ops", k)
			}
			fx := loadFixture(t, path)
			zeros := 0
			for _, v := range fx.Inputs[0].Data {
				if v == 0 {
					zeros++
				}
			}
			if zeros < 4 {
				t.Fatalf("the fixture ids hold %d padding tokens", zeros)
			}
			outs, _, err := predict(g, fx.Inputs)
			if err != nil {
				t.Fatal(err)
			}
			d, err := maxAbsDiff(outs[0], fx.Outputs[0])
			if err != nil || d > 1e-5 {
				t.Fatalf("max abs diff vs PyTorch %g (%v)", d, err)
			}
			// each example alone gives its row of the batch (the batch × heads
			// axis is sized by the pass)
			ids := fx.Inputs[0]
			steps := ids.Shape[1]
			for i := 0; i < ids.Shape[0]; i++ {
				one := fixtureArray{Name: ids.Name, Shape: []int{1, steps}, Data: ids.Data[i*steps : (i+1)*steps]}
				got, _, err := predict(g, []fixtureArray{one})
				if err != nil {
					t.Fatal(err)
				}
				k := len(got[0].Data)
				row := fixtureArray{Shape: []int{1, k}, Data: fx.Outputs[0].Data[i*k : (i+1)*k]}
				if d, err := maxAbsDiff(got[0], row); err != nil || d > 1e-5 {
					t.Fatalf("example %d alone: max abs diff %g (%v)", i, d, err)
				}
			}
			ort := ortRun(t, path, fx.Inputs)
			do, err := maxAbsDiff(outs[0], ort[0])
			if err != nil || do > 1e-5 {
				t.Fatalf("max abs diff vs ONNX Runtime %g (%v)", do, err)
			}
			t.Logf("engine vs PyTorch %.3g, vs ONNX Runtime %.3g (kinds %v)", d, do, k)

			x, y := idsData(2, 32, 7, 50, 4, true)
			tg, _ := fineTune(t, g, "/head/Gemm", "/enc/layers.0/norm2/Add_1", 4, x, y)
			for _, n := range []string{"/tok/Gather", "/enc/layers.0/norm2/Add_1"} {
				if v := tg.Vertex(n); v == nil || !v.Frozen {
					t.Errorf("%s is not frozen", n)
				}
			}
			// the retargeted model exports to ONNX that ONNX Runtime runs as
			// the engine does, and imports back with the same predictions
			file := filepath.Join(t.TempDir(), "retargeted.onnx")
			if err := exponnx.Export(file, tg, exponnx.Options{Opset: 14}); err != nil {
				t.Fatal(err)
			}
			mine, _, err := predict(tg, fx.Inputs)
			if err != nil {
				t.Fatal(err)
			}
			if d, err := maxAbsDiff(mine[0], ortRunIDs(t, file, fx.Inputs, false)[0]); err != nil || d > 1e-5 {
				t.Errorf("exported model in ONNX Runtime vs engine: %g (%v)", d, err)
			}
			back, err := Import(file, Options{})
			if err != nil {
				t.Fatal(err)
			}
			again, _, err := predict(back, fx.Inputs)
			if err != nil {
				t.Fatal(err)
			}
			var want fixtureArray
			want.Shape = mine[0].Shape
			for _, v := range mine[0].Data {
				want.Data = append(want.Data, float64(v))
			}
			if d, err := maxAbsDiff(again[0], want); err != nil || d > 1e-5 {
				t.Errorf("re-imported export vs engine: %g (%v)", d, err)
			}
			if a, b := frozenParams(t, tg), frozenParams(t, back); a != b || a == 0 {
				t.Errorf("the re-imported export has %d frozen trainable values, want %d", b, a)
			}
		})
	}
}

// frozenParams counts the values of trainable parameters in frozen
// vertices.
func frozenParams(t *testing.T, g *ir.Graph) int {
	t.Helper()
	shapes, err := g.Shapes()
	if err != nil {
		t.Fatal(err)
	}
	full, err := g.FullShapes()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range g.Vertices {
		if !v.Frozen {
			continue
		}
		for _, s := range v.Layer.Params(v.LayerShapes(shapes, full)) {
			if s.Trainable {
				n += ir.NumElements(s.Shape)
			}
		}
	}
	return n
}
