package onnx

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/retarget-dev/retarget/internal/onnxpb"
	"github.com/retarget-dev/retarget/internal/testenv"
	"github.com/retarget-dev/retarget/ir"
)

func readModel(t testing.TB, path string) *onnxpb.ModelProto {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(b, m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestUnsupportedOpsListedOnce(t *testing.T) {
	m := readModel(t, "../../testdata/onnx/cnn_op13.onnx")
	n := 0
	for _, nd := range m.Graph.Node {
		switch nd.GetOpType() {
		case "Relu":
			nd.OpType = proto.String("FancyRelu")
			n++
		case "MaxPool":
			nd.OpType = proto.String("LpPool")
		}
	}
	m.Graph.Node[0].Domain = proto.String("com.example")
	_, err := importProto(m, "", Options{})
	var ue *UnsupportedOpsError
	if !errors.As(err, &ue) {
		t.Fatalf("got %v, want *UnsupportedOpsError", err)
	}
	if len(ue.Ops) != 3 {
		t.Fatalf("ops %+v, want FancyRelu, LpPool and the com.example op", ue.Ops)
	}
	msg := err.Error()
	for _, want := range []string{`"FancyRelu" x2`, `"LpPool" x1`, `"com.example:`, `"/Relu", "/Relu_1"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if n != 2 {
		t.Fatalf("fixture changed: %d Relu nodes", n)
	}
}

func TestExternalDataMustStayInFolder(t *testing.T) {
	src := "../../testdata/onnx/external/mlp_ext.onnx"
	for _, loc := range []string{"../mlp_ext.data", "/etc/passwd", "sub/../../x.data"} {
		m := readModel(t, src)
		for _, init := range m.Graph.Initializer {
			for _, kv := range init.ExternalData {
				if kv.GetKey() == "location" {
					kv.Value = proto.String(loc)
				}
			}
		}
		dir := t.TempDir()
		_, err := importProto(m, dir, Options{})
		var ee *ExternalDataError
		if !errors.As(err, &ee) || !strings.Contains(err.Error(), "outside") {
			t.Errorf("location %q: got %v, want an ExternalDataError about leaving the folder", loc, err)
		}
	}
	// A symlink next to the model that points elsewhere is refused too.
	dir := t.TempDir()
	other := t.TempDir()
	data, _ := os.ReadFile("../../testdata/onnx/external/mlp_ext.data")
	os.WriteFile(filepath.Join(other, "mlp_ext.data"), data, 0o644)
	os.Symlink(filepath.Join(other, "mlp_ext.data"), filepath.Join(dir, "mlp_ext.data"))
	b, _ := os.ReadFile(src)
	os.WriteFile(filepath.Join(dir, "m.onnx"), b, 0o644)
	if _, err := Import(filepath.Join(dir, "m.onnx"), Options{}); err == nil {
		t.Error("symlinked external data outside the folder accepted")
	}
	// Lengths past the end of the file are refused before allocating.
	m := readModel(t, src)
	m.Graph.Initializer[0].ExternalData = append(m.Graph.Initializer[0].ExternalData,
		&onnxpb.StringStringEntryProto{Key: proto.String("offset"), Value: proto.String("999999999")})
	if _, err := importProto(m, "../../testdata/onnx/external", Options{}); err == nil {
		t.Error("offset past the end accepted")
	}
}

func TestCorruptFilesDoNotPanic(t *testing.T) {
	b, err := os.ReadFile("../../testdata/onnx/cnn_op13.onnx")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 10, 100, len(b) / 2, len(b) - 1} {
		if _, err := ImportFrom(bytes.NewReader(b[:n]), Options{}); err == nil && n < len(b) {
			t.Errorf("truncated at %d bytes: no error", n)
		}
	}
	for k := 0; k < len(b); k += 97 {
		c := append([]byte(nil), b...)
		c[k] ^= 0x5a
		ImportFrom(bytes.NewReader(c), Options{}) // must not panic
	}
	var fe *FormatError
	if _, err := Import(filepath.Join(t.TempDir(), "missing.onnx"), Options{}); !errors.As(err, &fe) {
		t.Errorf("missing file: %v", err)
	}
}

func TestBatchAxisRefused(t *testing.T) {
	m := readModel(t, "../../testdata/onnx/mlp_softmax_op11.onnx")
	for _, nd := range m.Graph.Node {
		if nd.GetOpType() == "Softmax" {
			for _, a := range nd.Attribute {
				if a.GetName() == "axis" {
					a.I = proto.Int64(0)
				}
			}
		}
	}
	_, err := importProto(m, "", Options{})
	var be *BatchAxisError
	if !errors.As(err, &be) {
		t.Fatalf("got %v, want a BatchAxisError", err)
	}
}

func TestOutputLayerAndNames(t *testing.T) {
	g, err := Import("../../testdata/onnx/mlp_softmax_op11.onnx", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if g.Outputs[0].Name != "probs" {
		t.Errorf("output name %q", g.Outputs[0].Name)
	}
	v := g.Vertex(g.Outputs[0].Vertex)
	if v.Layer.Kind() != "Output" {
		t.Fatalf("trailing layer %s, want Output", v.Layer.Kind())
	}
	g2, err := Import("../../testdata/onnx/cnn_op13.onnx", Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := g2.Vertex(g2.Outputs[0].Vertex)
	if out.Layer.Kind() != "Output" || !strings.Contains(string(mustJSON(t, out)), `"from_logits":true`) {
		t.Errorf("logits head: %s", mustJSON(t, out))
	}
	if g2.Inputs[0].Layout != "NCHW" {
		t.Errorf("image input layout %q", g2.Inputs[0].Layout)
	}
	kinds := map[string]int{}
	for _, v := range g2.Vertices {
		kinds[v.Layer.Kind()]++
	}
	if kinds["Conv2D"] != 2 || kinds["BatchNorm"] != 2 || kinds["MaxPool2D"] != 1 {
		t.Errorf("layer kinds %v", kinds)
	}
	if g3, _ := Import("../../testdata/onnx/cnn_op13.onnx", Options{KeepDense: true}); g3.Vertex(g3.Outputs[0].Vertex).Layer.Kind() != "Dense" {
		t.Error("KeepDense ignored")
	}
}

func mustJSON(t *testing.T, v *ir.Vertex) []byte {
	b, err := ir.MarshalLayer(v.Layer)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestInteropMobileNetV2 exports torchvision's mobilenet_v2 (random weights) at
// test time, as it is too large to commit, and checks nn against PyTorch.
func TestInteropMobileNetV2(t *testing.T) {
	if testing.Short() {
		t.Skip("exports a torchvision model; not in -short")
	}
	py, err := testenv.Python("torch", "torchvision", "onnx")
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	cmd := exec.Command(py, "../../testdata/gen/onnx_fixtures.py", dir, "--big")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fixture generation: %v\n%s", err, out)
	}
	d := checkParity(t, filepath.Join(dir, "mobilenet_v2.onnx"))
	t.Logf("mobilenet_v2: max abs diff vs PyTorch %.3g", d)
}

// Operator and node names come from the file: bytes that are not UTF-8
// are escaped, never printed raw.
func TestErrorListingsQuoteNames(t *testing.T) {
	m := readModel(t, "../../testdata/onnx/cnn_op13.onnx")
	m.Graph.Node[0].OpType = proto.String("Re\xfflu\x1b[2J")
	m.Graph.Node[0].Name = proto.String("bad\xfe/name")
	_, err := importProto(m, "", Options{})
	if err == nil {
		t.Fatal("imported an unknown operator")
	}
	msg := err.Error()
	if !utf8.ValidString(msg) || strings.ContainsRune(msg, 0x1b) {
		t.Fatalf("raw bytes in %q", msg)
	}
	for _, want := range []string{`"Re\xfflu\x1b[2J" x1`, `"bad\xfe/name"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %s", msg, want)
		}
	}
	ne := (&NodeError{File: "m.onnx", Node: "n\xff", OpType: "C\xfeonv", Err: errors.New("x")}).Error()
	if !utf8.ValidString(ne) || !strings.Contains(ne, `node "n\xff" (op "C\xfeonv")`) {
		t.Errorf("node error %q", ne)
	}
}
