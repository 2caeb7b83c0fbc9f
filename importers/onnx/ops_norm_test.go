package onnx

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/retarget-dev/retarget/exporters/native"
	exponnx "github.com/retarget-dev/retarget/exporters/onnx"
	"github.com/retarget-dev/retarget/internal/numtest"
	"github.com/retarget-dev/retarget/internal/onnxpb"
	"github.com/retarget-dev/retarget/internal/testenv"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

func trainable(t *testing.T, g *ir.Graph) int {
	t.Helper()
	shapes, err := g.Shapes()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range g.Vertices {
		for _, s := range v.Layer.Params(v.InputShapes(shapes)) {
			if p := v.Params[s.Name]; s.Trainable && p != nil {
				n += p.Len()
			}
		}
	}
	return n
}

// PyTorch's nn.LayerNorm, written as LayerNormalization at opset 17 and as
// ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add at 13, imports as
// two trainable LayerNorm vertices with PyTorch's parameter count, and
// predicts PyTorch's outputs to 1e-5.
func TestLayerNormFixtures(t *testing.T) {
	for _, tc := range []struct{ file, ln, ln2 string }{
		{"layernorm_op13", "/ln/Add_1", "/ln2/Add_1"},
		{"layernorm_op17", "/ln/LayerNormalization", "/ln2/LayerNormalization"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := "../../testdata/onnx/" + tc.file + ".onnx"
			g, err := Import(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, v := range g.Vertices {
				kinds = append(kinds, v.Layer.Kind())
			}
			if got := strings.Join(kinds, " "); got != "Dense LayerNorm Activation LayerNorm" {
				t.Errorf("vertices %s, want Dense LayerNorm Activation LayerNorm", got)
			}
			for name, axis := range map[string]int{tc.ln: -1, tc.ln2: -2} {
				v := g.Vertex(name)
				if v == nil {
					t.Fatalf("no vertex %q", name)
				}
				if l, ok := v.Layer.(*ir.LayerNorm); !ok || l.Axis != axis || l.NoScale || l.NoCenter {
					t.Errorf("%s: %s %+v, want LayerNorm over axis %d with scale and centre", name, v.Layer.Kind(), v.Layer, axis)
				}
			}
			var want struct{ Trainable int }
			b, err := os.ReadFile(strings.TrimSuffix(path, ".onnx") + ".json")
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &want); err != nil || want.Trainable == 0 {
				t.Fatalf("fixture without the trainable count (%v); rerun testdata/gen/onnx_fixtures.py --only=layernorm", err)
			}
			if n := trainable(t, g); n != want.Trainable {
				t.Errorf("%d trainable parameters, PyTorch has %d", n, want.Trainable)
			}
			if d := checkParity(t, path); d < 0 || d > 1e-5 {
				t.Errorf("max abs diff vs PyTorch %g", d)
			}
		})
	}
}

func setAttrInt(n *onnxpb.NodeProto, name string, v int64) {
	for _, a := range n.Attribute {
		if a.GetName() == name {
			a.I = proto.Int64(v)
			return
		}
	}
	n.Attribute = append(n.Attribute, &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)})
}

func TestLayerNormalizationRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(n *onnxpb.NodeProto, g *onnxpb.GraphProto)
		want string
	}{
		{"mean output used", func(n *onnxpb.NodeProto, g *onnxpb.GraphProto) {
			n.Output = append(n.Output, "mean")
			g.Output = append(g.Output, &onnxpb.ValueInfoProto{Name: proto.String("mean")})
		}, "Mean/InvStdDev outputs are used"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := readModel(t, "../../testdata/onnx/layernorm_op17.onnx")
			for _, n := range m.Graph.Node {
				if n.GetName() == "/ln2/LayerNormalization" {
					tc.edit(n, m.Graph)
				}
			}
			_, err := importProto(m, "", Options{})
			var ne *NodeError
			if !errors.As(err, &ne) || ne.Node != "/ln2/LayerNormalization" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a NodeError on /ln2/LayerNormalization saying %q", err, tc.want)
			}
		})
	}
}

// A decomposition whose pieces have other consumers, or that normalises
// other axes than it reduces, stays as it is.
func TestLayerNormFusionNeedsTheWholePattern(t *testing.T) {
	m := readModel(t, "../../testdata/onnx/layernorm_op13.onnx")
	for _, n := range m.Graph.Node {
		if n.GetName() == "/ln2/ReduceMean_1" { // variance over the last axis only
			setAttrInt(n, "keepdims", 1)
			for _, a := range n.Attribute {
				if a.GetName() == "axes" {
					a.Ints = []int64{-1}
				}
			}
		}
	}
	g, err := importProto(m, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range g.Vertices {
		if _, ok := v.Layer.(*ir.LayerNorm); ok {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d LayerNorm vertices, want 1 (only /ln is a layer normalisation)", n)
	}
}

// Before opset 7 a PRelu slope of shape (C,) is per channel on axis 1.
func TestPReluOpset6(t *testing.T) {
	path := "../../testdata/onnx/prelu_op6.onnx"
	g, err := Import(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := g.Vertex("/per_channel/PRelu")
	if l, ok := v.Layer.(*ir.PReLU); !ok || !ir.SameShape(v.Params["alpha"].Shape, []int{3, 1, 1}) || len(l.SharedAxes) != 2 {
		t.Errorf("per-channel PRelu: %s %+v alpha %v, want alpha (3,1,1)", v.Layer.Kind(), v.Layer, v.Params["alpha"].Shape)
	}
	if d := checkParity(t, path); d < 0 || d > 1e-5 {
		t.Errorf("max abs diff vs PyTorch %g", d)
	}
}

// The ONNX backend suite's PReLU models (PyTorch 0.3 exports at opset 6)
// give the suite's outputs.
func TestPReluBackendSuite(t *testing.T) {
	py, err := testenv.Python("onnx")
	if err != nil {
		t.Skip(err)
	}
	out, err := exec.Command(py, "-c", "import onnx, os; print(os.path.dirname(onnx.__file__))").Output()
	if err != nil {
		t.Skip(err)
	}
	root := strings.TrimSpace(string(out))
	for _, name := range []string{"test_PReLU_1d", "test_PReLU_1d_multiparam", "test_PReLU_2d", "test_PReLU_2d_multiparam",
		"test_PReLU_3d", "test_PReLU_3d_multiparam"} {
		dir := filepath.Join(root, "backend", "test", "data", "pytorch-converted", name)
		t.Run(name, func(t *testing.T) {
			if _, err := os.Stat(dir); err != nil {
				t.Skip(err)
			}
			g, err := Import(filepath.Join(dir, "model.onnx"), Options{KeepDense: true})
			if err != nil {
				t.Fatal(err)
			}
			x, y := readPB(t, filepath.Join(dir, "test_data_set_0", "input_0.pb")), readPB(t, filepath.Join(dir, "test_data_set_0", "output_0.pb"))
			outs, _, err := predict(g, []fixtureArray{x})
			if err != nil {
				t.Fatal(err)
			}
			if d := numtest.MaxAbsDiff(outs[0].Data, y.Data); d > 1e-6 {
				t.Errorf("max abs diff %g vs the suite's output", d)
			}
		})
	}
}

func readPB(t *testing.T, path string) fixtureArray {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tp := &onnxpb.TensorProto{}
	if err := proto.Unmarshal(b, tp); err != nil {
		t.Fatal(err)
	}
	v, err := (&tensorReader{file: path, limit: len(b)}).decode(tp)
	if err != nil {
		t.Fatal(err)
	}
	return fixtureArray{Shape: v.shape, Data: v.floats()}
}

// fixedBatchModel is y = x + K for x of fixed shape (2, 3) and a constant
// K of shape (2, 3).
func fixedBatchModel(k []float32) *onnxpb.ModelProto {
	vi := func(name string) *onnxpb.ValueInfoProto {
		dims := []*onnxpb.TensorShapeProto_Dimension{
			{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 2}},
			{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 3}}}
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(dtFloat), Shape: &onnxpb.TensorShapeProto{Dim: dims}}}}}
	}
	node := &onnxpb.NodeProto{Name: proto.String("add"), OpType: proto.String("Add"), Input: []string{"x", "K"}, Output: []string{"y"}}
	init := &onnxpb.TensorProto{Name: proto.String("K"), Dims: []int64{2, 3}, DataType: proto.Int32(dtFloat), FloatData: k}
	return &onnxpb.ModelProto{IrVersion: proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(13)}},
		Graph: &onnxpb.GraphProto{Name: proto.String("fixed"), Node: []*onnxpb.NodeProto{node}, Initializer: []*onnxpb.TensorProto{init},
			Input: []*onnxpb.ValueInfoProto{vi("x")}, Output: []*onnxpb.ValueInfoProto{vi("y")}}}
}

// Constants spanning the batch axis of a fixed-batch model import
// (PyTorch's fixed_batch_op13 fixture: a (1,C,H,W) scale and a bias
// expanded to the batch). Equal slices become one ordinary constant; a
// value per sample becomes a Constant of that batch, which runs on
// batches of that size only (saying so otherwise) and exports with the
// batch fixed again.
func TestFixedBatchConstants(t *testing.T) {
	path := "../../testdata/onnx/fixed_batch_op13.onnx"
	if d := checkParity(t, path); d < 0 || d > 1e-5 {
		t.Errorf("fixed_batch_op13: max abs diff vs PyTorch %g", d)
	}
	for _, k := range [][]float32{{1, 2, 3, 1, 2, 3}, {1, 2, 3, 4, 5, 6}} {
		g, err := importProto(fixedBatchModel(k), "", Options{})
		if err != nil {
			t.Fatal(err)
		}
		perSample := k[3] != k[0]
		for _, v := range g.Vertices {
			if c, ok := v.Layer.(*ir.Constant); ok && (c.Batch == 2) != perSample {
				t.Errorf("K = %v: constant %q with batch %d", k, v.Name, c.Batch)
			}
		}
		rng := rand.New(rand.NewSource(1))
		x := fixtureArray{Shape: []int{2, 3}}
		want := make([]float64, 6)
		for i := range want {
			x.Data = append(x.Data, rng.Float64())
			want[i] = x.Data[i] + float64(k[i])
		}
		outs, _, err := predict(g, []fixtureArray{x})
		if err != nil {
			t.Fatal(err)
		}
		if d := numtest.MaxAbsDiff(outs[0].Data, want); d > 1e-6 {
			t.Errorf("K = %v: x + K differs by %g", k, d)
		}
		if !perSample {
			continue
		}
		three := fixtureArray{Shape: []int{3, 3}, Data: make([]float64, 9)}
		if _, _, err := predict(g, []fixtureArray{three}); err == nil || !strings.Contains(err.Error(), "fixed batch of 2") {
			t.Errorf("a batch of 3: got %v, want an error naming the fixed batch of 2", err)
		}
		// Predict splits 4 examples into the model's batches of 2
		net, err := nn.CompileInference(g)
		if err != nil {
			t.Fatal(err)
		}
		x4 := ir.NewTensor(4, 3)
		for i := range x4.Data {
			x4.Data[i] = float32(x.Data[i%6])
		}
		ys, err := net.Predict(x4)
		if err != nil {
			t.Fatal(err)
		}
		if d := numtest.MaxAbsDiff(ys[0].Data[:6], want); d > 1e-6 {
			t.Errorf("Predict on 4 examples differs by %g", d)
		}
		var mb bytes.Buffer
		if err := exponnx.ExportTo(&mb, g, exponnx.Options{}); err != nil {
			t.Fatal(err)
		}
		m := &onnxpb.ModelProto{}
		if err := proto.Unmarshal(mb.Bytes(), m); err != nil {
			t.Fatal(err)
		}
		if d := m.Graph.Input[0].GetType().GetTensorType().GetShape().GetDim()[0]; d.GetDimValue() != 2 {
			t.Errorf("exported batch dimension %v, want 2", d)
		}
		g2, err := importProto(m, "", Options{})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := native.ExportTo(&buf, g); err != nil {
			t.Fatal(err)
		}
		g3, err := native.ImportFrom(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		for name, h := range map[string]*ir.Graph{"ONNX": g2, ".rtm": g3} {
			outs, _, err = predict(h, []fixtureArray{x})
			if err != nil {
				t.Fatal(err)
			}
			if d := numtest.MaxAbsDiff(outs[0].Data, want); d > 1e-6 {
				t.Errorf("re-imported %s export differs by %g", name, d)
			}
		}
	}
	// a constant spanning the batch axis of a model whose batch is not fixed
	m := fixedBatchModel([]float32{1, 2, 3, 4, 5, 6})
	m.Graph.Input[0].Type.GetTensorType().Shape.Dim[0].Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}
	_, err := importProto(m, "", Options{})
	var be *BatchAxisError
	if !errors.As(err, &be) {
		t.Errorf("got %v, want a BatchAxisError", err)
	}
}
