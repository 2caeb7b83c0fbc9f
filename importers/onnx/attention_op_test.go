package onnx

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	exponnx "github.com/retarget-dev/retarget/exporters/onnx"
	"github.com/retarget-dev/retarget/internal/onnxpb"
	"github.com/retarget-dev/retarget/internal/testenv"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
	"github.com/retarget-dev/retarget/npy"
)

// attentionOpFixtures maps each fixture to whether the attention matcher
// folds it into one MultiHeadAttention vertex (3-D, no mask, plain scale).
var attentionOpFixtures = []struct {
	name   string
	folded bool
}{{"attention_op23_mha", true}, {"attention_op23_gqa_mask", false}, {"attention_op23_causal4d", false}}

// TestAttentionOp imports ONNX's Attention operator (opset 23; the
// fixtures' outputs come from a numpy implementation of its specification,
// testdata/gen/onnx_attention_op.py) — as one MultiHeadAttention vertex
// where the matcher recognises it, as general tensor ops otherwise and with
// the matcher off —, checks the gradients, exports the graph to ONNX (at
// opset 17) and checks that file and the source in ONNX Runtime.
func TestAttentionOp(t *testing.T) {
	for _, fc := range attentionOpFixtures {
		for _, match := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/matcher=%v", fc.name, match), func(t *testing.T) {
				defer func(old bool) { noAttentionMatch = old }(noAttentionMatch)
				noAttentionMatch = !match
				checkAttentionOp(t, fc.name, match && fc.folded)
			})
		}
	}
}

func checkAttentionOp(t *testing.T, name string, folded bool) {
	src := filepath.Join("..", "..", "testdata", "onnx", name+".onnx")
	fx := loadFixture(t, src)
	g, err := Import(src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	kinds := kindCounts(g)
	mha := 0
	for _, v := range g.Vertices {
		if _, ok := v.Layer.(*ir.MultiHeadAttention); ok {
			mha++
		}
	}
	switch {
	case folded && (mha != 1 || len(kinds) != 0):
		t.Fatalf("%d MultiHeadAttention vertices and general ops %v: want the one vertex", mha, kinds)
	case !folded && (mha != 0 || kinds["TensorSoftmax"] != 1 || kinds["TensorMatMul"] != 2):
		t.Fatalf("kinds %v: want one softmax between two products", kinds)
	}
	if d := checkParity(t, src); d > fx.Atol {
		t.Fatalf("differs from the specification by %g", d)
	}
	var xs []*ir.Tensor
	for _, in := range fx.Inputs {
		xs = append(xs, tensorFromFixture(in))
	}
	nn.GradCheck(t, g, xs, nil, nn.GradCheckOptions{SkipInputs: true, MaxPerTensor: 40})

	dir := t.TempDir()
	ours := filepath.Join(dir, "ours.onnx")
	if err := exponnx.Export(ours, g, exponnx.Options{Opset: 17}); err != nil {
		t.Fatal(err)
	}
	again, err := Import(ours, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := predict(g, fx.Inputs)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := predict(again, fx.Inputs)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := maxAbsDiff(got[0], fx.Outputs[0]); err != nil || d > fx.Atol {
		t.Errorf("our export read back differs by %g (%v)", d, err)
	}
	if why := testenv.ORTMissing(); why != "" {
		t.Skip(why)
	}
	var paths []string
	for _, in := range fx.Inputs {
		p := filepath.Join(dir, in.Name+".npy")
		tt := tensorFromFixture(in)
		if in.Name == "mask" {
			err = writeBoolNpy(p, tt)
		} else {
			err = npy.WriteFile(p, tt.Shape, tt.Data)
		}
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	for _, model := range []string{src, ours} {
		if model == ours && len(paths) > 1 {
			paths[1] = strings.TrimSuffix(paths[1], ".npy") + "_f.npy" // our export takes the mask as 0/1 floats
			tt := tensorFromFixture(fx.Inputs[1])
			if err := npy.WriteFile(paths[1], tt.Shape, tt.Data); err != nil {
				t.Fatal(err)
			}
		}
		out, err := testenv.RunORT(append([]string{model}, paths...)...)
		if err != nil {
			t.Fatalf("onnxruntime on %s: %v", filepath.Base(model), err)
		}
		var res struct {
			Outputs []fixtureArray `json:"outputs"`
		}
		if err := json.Unmarshal(out, &res); err != nil || len(res.Outputs) != 1 {
			t.Fatalf("onnxruntime output of %s: %v", model, err)
		}
		if d, err := maxAbsDiff(want[0], res.Outputs[0]); err != nil || d > 1e-5 {
			t.Errorf("onnxruntime on %s differs from the engine by %g (%v)", filepath.Base(model), d, err)
		}
	}
}

// TestAttentionOpRefusesCache: a key/value cache is named in the error.
func TestAttentionOpRefusesCache(t *testing.T) {
	c := &converter{}
	n := &node{NodeProto: &onnxpb.NodeProto{OpType: proto.String("Attention"), Input: []string{"q", "k", "v", "", "past_k", "past_v"},
		Output: []string{"y"}}, label: "attn"}
	if err := c.attentionOp(n); err == nil || !strings.Contains(err.Error(), "past_key") {
		t.Fatalf("got %v, want the cache refused by name", err)
	}
}

// writeBoolNpy writes 0/1 values as a numpy bool array.
func writeBoolNpy(path string, t *ir.Tensor) error {
	dims := make([]string, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = fmt.Sprint(d)
	}
	header := fmt.Sprintf("{'descr': '|b1', 'fortran_order': False, 'shape': (%s,), }", strings.Join(dims, ", "))
	for (10+len(header)+1)%64 != 0 {
		header += " "
	}
	header += "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), 0, 0)
	binary.LittleEndian.PutUint16(b[8:], uint16(len(header)))
	b = append(b, header...)
	for _, v := range t.Data {
		if v != 0 {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	return os.WriteFile(path, b, 0o644)
}
