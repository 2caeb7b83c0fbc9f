package onnxpb

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/internal/testenv"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

const fixturePath = "../../testdata/onnx/onnxpb_fixture.onnx"

func f32le(vals ...float32) []byte {
	b := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

func floatTensor(name string, dims []int64, vals ...float32) *TensorProto {
	return &TensorProto{
		Name:     proto.String(name),
		DataType: proto.Int32(int32(TensorProto_FLOAT)),
		Dims:     dims,
		RawData:  f32le(vals...),
	}
}

func tensorValueInfo(name string, dims ...any) *ValueInfoProto {
	shape := &TensorShapeProto{}
	for _, d := range dims {
		switch d := d.(type) {
		case int:
			shape.Dim = append(shape.Dim, &TensorShapeProto_Dimension{
				Value: &TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
		case string:
			shape.Dim = append(shape.Dim, &TensorShapeProto_Dimension{
				Value: &TensorShapeProto_Dimension_DimParam{DimParam: d}})
		}
	}
	return &ValueInfoProto{
		Name: proto.String(name),
		Type: &TypeProto{Value: &TypeProto_TensorType{TensorType: &TypeProto_Tensor{
			ElemType: proto.Int32(int32(TensorProto_FLOAT)),
			Shape:    shape,
		}}},
	}
}

func intsAttr(name string, v ...int64) *AttributeProto {
	return &AttributeProto{
		Name: proto.String(name),
		Type: AttributeProto_INTS.Enum(),
		Ints: v,
	}
}

// smallModel is x[N,3,4,4] -> Conv(1x1, 2 out) -> Relu -> Flatten -> Gemm -> y[N,5].
func smallModel() *ModelProto {
	convW := make([]float32, 2*3)
	for i := range convW {
		convW[i] = float32(i) / 10
	}
	gemmW := make([]float32, 5*32)
	for i := range gemmW {
		gemmW[i] = float32(i%7) - 3
	}
	return &ModelProto{
		IrVersion: proto.Int64(int64(Version_IR_VERSION_2021_7_30)),
		OpsetImport: []*OperatorSetIdProto{
			{Domain: proto.String(""), Version: proto.Int64(13)},
		},
		ProducerName:    proto.String("retarget"),
		ProducerVersion: proto.String("test"),
		DocString:       proto.String("onnxpb round-trip test model"),
		MetadataProps: []*StringStringEntryProto{
			{Key: proto.String("source"), Value: proto.String("onnxpb_test.go")},
			{Key: proto.String("license"), Value: proto.String("MIT")},
		},
		Graph: &GraphProto{
			Name: proto.String("conv_relu_gemm"),
			Node: []*NodeProto{
				{
					Name:   proto.String("conv0"),
					OpType: proto.String("Conv"),
					Input:  []string{"x", "conv.w", "conv.b"},
					Output: []string{"c"},
					Attribute: []*AttributeProto{
						intsAttr("kernel_shape", 1, 1),
						intsAttr("pads", 0, 0, 0, 0),
						intsAttr("strides", 1, 1),
						{Name: proto.String("group"), Type: AttributeProto_INT.Enum(), I: proto.Int64(1)},
					},
				},
				{Name: proto.String("relu0"), OpType: proto.String("Relu"), Input: []string{"c"}, Output: []string{"r"}},
				{
					Name: proto.String("flatten0"), OpType: proto.String("Flatten"),
					Input: []string{"r"}, Output: []string{"f"},
					Attribute: []*AttributeProto{{Name: proto.String("axis"), Type: AttributeProto_INT.Enum(), I: proto.Int64(1)}},
				},
				{
					Name: proto.String("gemm0"), OpType: proto.String("Gemm"),
					Input: []string{"f", "fc.w", "fc.b"}, Output: []string{"y"},
					Attribute: []*AttributeProto{
						{Name: proto.String("alpha"), Type: AttributeProto_FLOAT.Enum(), F: proto.Float32(1)},
						{Name: proto.String("transB"), Type: AttributeProto_INT.Enum(), I: proto.Int64(1)},
					},
				},
			},
			Initializer: []*TensorProto{
				floatTensor("conv.w", []int64{2, 3, 1, 1}, convW...),
				floatTensor("conv.b", []int64{2}, 0.5, -0.5),
				floatTensor("fc.w", []int64{5, 32}, gemmW...),
				floatTensor("fc.b", []int64{5}, 1, 2, 3, 4, 5),
			},
			Input:  []*ValueInfoProto{tensorValueInfo("x", "N", 3, 4, 4)},
			Output: []*ValueInfoProto{tensorValueInfo("y", "N", 5)},
		},
	}
}

func TestRoundTrip(t *testing.T) {
	m := smallModel()
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var got ModelProto
	if err := proto.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(m, &got) {
		t.Fatalf("round trip changed the model:\nwant %v\ngot  %v", m, &got)
	}
	if n := len(got.GetGraph().GetNode()); n != 4 {
		t.Errorf("nodes = %d, want 4", n)
	}
	if got.GetGraph().GetNode()[3].GetOpType() != "Gemm" {
		t.Errorf("last node = %q, want Gemm", got.GetGraph().GetNode()[3].GetOpType())
	}
	if raw := got.GetGraph().GetInitializer()[3].GetRawData(); !bytes.Equal(raw, f32le(1, 2, 3, 4, 5)) {
		t.Errorf("fc.b raw_data = %x", raw)
	}
	if d := got.GetGraph().GetInput()[0].GetType().GetTensorType().GetShape().GetDim()[0]; d.GetDimParam() != "N" {
		t.Errorf("x dim 0 = %v, want dim_param N", d)
	}
	data2, err := proto.MarshalOptions{Deterministic: true}.Marshal(&got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, data2) {
		t.Errorf("re-marshal differs: %d vs %d bytes", len(data), len(data2))
	}
}

// onnxPython returns a python3 that can import onnx, or skips the test.
func onnxPython(t *testing.T) string {
	t.Helper()
	py, err := testenv.Python("onnx")
	if err != nil {
		t.Skip(err)
	}
	return py
}

func TestPythonOnnxChecker(t *testing.T) {
	py := onnxPython(t)
	data, err := proto.Marshal(smallModel())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "small.onnx")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c",
		"import onnx,sys; m=onnx.load(sys.argv[1]); onnx.checker.check_model(m); print(len(m.graph.node))",
		path).CombinedOutput()
	if err != nil {
		t.Fatalf("onnx checker: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "4" {
		t.Errorf("python saw %q nodes, want 4", got)
	}
}

// TestFixturePythonEqual has Go re-encode the fixture and python (onnx)
// decode both files and compare them message-wise.
func TestFixturePythonEqual(t *testing.T) {
	py := onnxPython(t)
	m := loadFixture(t)
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "reencoded.onnx")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", `import onnx,sys
a=onnx.load(sys.argv[1], load_external_data=False)
b=onnx.load(sys.argv[2], load_external_data=False)
print(a == b)`, fixturePath, path).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "True" {
		t.Errorf("python compares fixture and Go re-encoding: %q, want True", got)
	}
}

func loadFixture(t *testing.T) *ModelProto {
	t.Helper()
	data, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	m := &ModelProto{}
	if err := proto.Unmarshal(data, m); err != nil {
		t.Fatal(err)
	}
	return m
}

// unknownFields reports every message below m that holds fields the schema
// does not know, which is what a wrong field number in onnx.proto produces.
func unknownFields(m protoreflect.Message, path string, report func(string)) {
	if len(m.GetUnknown()) > 0 {
		report(path)
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind {
			return true
		}
		p := path + "." + string(fd.Name())
		if fd.IsList() {
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				unknownFields(l.Get(i).Message(), p, report)
			}
		} else {
			unknownFields(v.Message(), p, report)
		}
		return true
	})
}

func TestFixture(t *testing.T) {
	raw, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	m := loadFixture(t)

	unknownFields(m.ProtoReflect(), "model", func(p string) {
		t.Errorf("unknown fields in %s", p)
	})
	// protobuf-go writes oneof members after the other fields, so the bytes
	// may be ordered differently, but a correct schema (same wire types,
	// same packing) re-encodes the fixture to the same size.
	if n := proto.Size(m); n != len(raw) {
		t.Errorf("re-encoded fixture is %d bytes, file is %d", n, len(raw))
	}

	eq := func(what string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	eqInts := func(what string, got, want []int64) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s = %v, want %v", what, got, want)
			return
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s = %v, want %v", what, got, want)
				return
			}
		}
	}
	entries := func(what string, got []*StringStringEntryProto, want ...string) {
		t.Helper()
		if len(got) != len(want)/2 {
			t.Errorf("%s has %d entries, want %d", what, len(got), len(want)/2)
			return
		}
		for i, e := range got {
			if e.GetKey() != want[2*i] || e.GetValue() != want[2*i+1] {
				t.Errorf("%s[%d] = %q:%q, want %q:%q", what, i, e.GetKey(), e.GetValue(), want[2*i], want[2*i+1])
			}
		}
	}

	// ModelProto.
	eq("ir_version", m.GetIrVersion(), int64(8))
	eq("producer_name", m.GetProducerName(), "onnxpb-fixture")
	eq("producer_version", m.GetProducerVersion(), "1.2.3")
	eq("domain", m.GetDomain(), "dev.retarget")
	eq("model_version", m.GetModelVersion(), int64(42))
	eq("model doc_string", m.GetDocString(), "fixture for internal/onnxpb")
	entries("metadata_props", m.GetMetadataProps(), "author", "retarget", "purpose", "fixture")
	if ops := m.GetOpsetImport(); len(ops) != 2 {
		t.Errorf("opset_import = %v", ops)
	} else {
		eq("opset[0].domain", ops[0].GetDomain(), "")
		eq("opset[0].version", ops[0].GetVersion(), int64(13))
		eq("opset[1].domain", ops[1].GetDomain(), "com.retarget.test")
		eq("opset[1].version", ops[1].GetVersion(), int64(1))
	}

	// GraphProto.
	g := m.GetGraph()
	eq("graph name", g.GetName(), "fixture_graph")
	eq("graph doc_string", g.GetDocString(), "graph doc")
	if len(g.GetNode()) != 4 || len(g.GetInitializer()) != 9 || len(g.GetOutput()) != 3 ||
		len(g.GetValueInfo()) != 5 || len(g.GetSparseInitializer()) != 1 {
		t.Fatalf("graph sizes: %d nodes, %d initializers, %d outputs, %d value_info, %d sparse",
			len(g.GetNode()), len(g.GetInitializer()), len(g.GetOutput()), len(g.GetValueInfo()), len(g.GetSparseInitializer()))
	}

	// Inputs: dim_param, dim_value, denotations, doc_string.
	x := g.GetInput()[0]
	eq("input name", x.GetName(), "X")
	eq("input doc_string", x.GetDocString(), "input image")
	eq("input type denotation", x.GetType().GetDenotation(), "TENSOR")
	xt := x.GetType().GetTensorType()
	eq("input elem_type", xt.GetElemType(), int32(TensorProto_FLOAT))
	dims := xt.GetShape().GetDim()
	if len(dims) != 4 {
		t.Fatalf("input dims = %v", dims)
	}
	eq("dim0 dim_param", dims[0].GetDimParam(), "N")
	eq("dim0 denotation", dims[0].GetDenotation(), "DATA_BATCH")
	eq("dim1 dim_value", dims[1].GetDimValue(), int64(3))
	eq("dim1 denotation", dims[1].GetDenotation(), "DATA_CHANNEL")
	eq("dim3 dim_value", dims[3].GetDimValue(), int64(4))
	eq("output Z dim_param", g.GetOutput()[1].GetType().GetTensorType().GetShape().GetDim()[0].GetDimParam(), "Q")

	// value_info: sequence, map, optional, sparse tensor, unknown dim.
	vi := g.GetValueInfo()
	seq := vi[0].GetType().GetSequenceType().GetElemType().GetTensorType()
	eq("seq elem_type", seq.GetElemType(), int32(TensorProto_INT64))
	eq("seq dim", seq.GetShape().GetDim()[0].GetDimValue(), int64(5))
	mp := vi[1].GetType().GetMapType()
	eq("map doc_string", vi[1].GetDocString(), "a map")
	eq("map key_type", mp.GetKeyType(), int32(TensorProto_STRING))
	eq("map value elem_type", mp.GetValueType().GetTensorType().GetElemType(), int32(TensorProto_DOUBLE))
	opt := vi[2].GetType().GetOptionalType().GetElemType().GetTensorType()
	eq("optional elem_type", opt.GetElemType(), int32(TensorProto_INT32))
	eq("optional dim", opt.GetShape().GetDim()[0].GetDimValue(), int64(7))
	sp := vi[3].GetType().GetSparseTensorType()
	eq("sparse type elem_type", sp.GetElemType(), int32(TensorProto_FLOAT))
	eq("sparse type dim1", sp.GetShape().GetDim()[1].GetDimParam(), "K")
	if d := vi[4].GetType().GetTensorType().GetShape().GetDim()[0]; d.GetValue() != nil {
		t.Errorf("empty dim has value %v", d.GetValue())
	}

	// Initializers: every typed data field.
	init := map[string]*TensorProto{}
	for _, tp := range g.GetInitializer() {
		init[tp.GetName()] = tp
	}
	w := init["W"]
	eq("W data_type", w.GetDataType(), int32(TensorProto_FLOAT))
	eq("W doc_string", w.GetDocString(), "conv weight")
	eqInts("W dims", w.GetDims(), []int64{2, 3, 1, 1})
	if !bytes.Equal(w.GetRawData(), f32le(1, 2, 3, 4, 5, 6)) {
		t.Errorf("W raw_data = %x", w.GetRawData())
	}
	if fd := init["B"].GetFloatData(); len(fd) != 2 || fd[0] != 0.5 || fd[1] != -0.5 {
		t.Errorf("B float_data = %v", fd)
	}
	eqInts("I64 int64_data", init["I64"].GetInt64Data(), []int64{-1, 0, 1 << 40})
	if dd := init["D"].GetDoubleData(); len(dd) != 2 || dd[0] != 3.25 || dd[1] != -1e300 {
		t.Errorf("D double_data = %v", dd)
	}
	if ud := init["U"].GetUint64Data(); len(ud) != 2 || ud[0] != 7 || ud[1] != math.MaxUint64 {
		t.Errorf("U uint64_data = %v", ud)
	}
	if sd := init["S"].GetStringData(); len(sd) != 2 || string(sd[0]) != "hello" || string(sd[1]) != "wörld" {
		t.Errorf("S string_data = %q", sd)
	}
	eq("S data_type", init["S"].GetDataType(), int32(TensorProto_STRING))
	h := init["H"]
	eq("H data_type", h.GetDataType(), int32(TensorProto_FLOAT16))
	if id := h.GetInt32Data(); len(id) != 2 || id[0] != 0x3c00 || id[1] != 0xc000 {
		t.Errorf("H int32_data = %x", id)
	}
	eq("BF data_type", init["BF"].GetDataType(), int32(TensorProto_BFLOAT16))
	if !bytes.Equal(init["BF"].GetRawData(), []byte{0x80, 0x3f, 0x00, 0x40}) {
		t.Errorf("BF raw_data = %x", init["BF"].GetRawData())
	}
	seg := init["SEG"].GetSegment()
	eq("SEG segment.begin", seg.GetBegin(), int64(2))
	eq("SEG segment.end", seg.GetEnd(), int64(4))

	// Sparse initializer and quantization annotation.
	si := g.GetSparseInitializer()[0]
	eq("sparse values name", si.GetValues().GetName(), "SP")
	eqInts("sparse indices", si.GetIndices().GetInt64Data(), []int64{1, 5})
	eqInts("sparse dims", si.GetDims(), []int64{2, 3})
	if qa := g.GetQuantizationAnnotation(); len(qa) != 1 {
		t.Errorf("quantization_annotation = %v", qa)
	} else {
		eq("quant tensor_name", qa[0].GetTensorName(), "W")
		entries("quant params", qa[0].GetQuantParameterTensorNames(),
			"SCALE_TENSOR", "W_scale", "ZERO_POINT_TENSOR", "W_zp")
	}

	// Conv node.
	conv := g.GetNode()[0]
	eq("conv op_type", conv.GetOpType(), "Conv")
	eq("conv name", conv.GetName(), "conv")
	eq("conv doc_string", conv.GetDocString(), "1x1 conv")
	if strings.Join(conv.GetInput(), ",") != "X,W,B" || strings.Join(conv.GetOutput(), ",") != "C" {
		t.Errorf("conv io = %v -> %v", conv.GetInput(), conv.GetOutput())
	}
	eq("conv attr0 name", conv.GetAttribute()[0].GetName(), "kernel_shape")
	eqInts("conv kernel_shape", conv.GetAttribute()[0].GetInts(), []int64{1, 1})

	// A node carrying one attribute of every type.
	aa := g.GetNode()[2]
	eq("AllAttrs domain", aa.GetDomain(), "com.retarget.test")
	eq("AllAttrs doc_string", aa.GetDocString(), "node with every attribute type")
	attr := map[string]*AttributeProto{}
	for _, a := range aa.GetAttribute() {
		attr[a.GetName()] = a
	}
	typ := func(name string, want AttributeProto_AttributeType) *AttributeProto {
		t.Helper()
		a := attr[name]
		if a.GetType() != want {
			t.Errorf("%s type = %v, want %v", name, a.GetType(), want)
		}
		return a
	}
	a := typ("a_float", AttributeProto_FLOAT)
	eq("a_float", a.GetF(), float32(1.5))
	eq("a_float doc_string", a.GetDocString(), "a float attribute")
	eq("a_int", typ("a_int", AttributeProto_INT).GetI(), int64(-7))
	eq("a_string", string(typ("a_string", AttributeProto_STRING).GetS()), "text")
	at := typ("a_tensor", AttributeProto_TENSOR).GetT()
	eq("a_tensor name", at.GetName(), "attr_t")
	if id := at.GetInt32Data(); len(id) != 2 || id[0] != 3 || id[1] != 4 {
		t.Errorf("a_tensor int32_data = %v", id)
	}
	ag := typ("a_graph", AttributeProto_GRAPH).GetG()
	eq("a_graph name", ag.GetName(), "g_one")
	eq("a_graph doc_string", ag.GetDocString(), "subgraph doc")
	eq("a_graph node op", ag.GetNode()[0].GetOpType(), "Identity")
	as := typ("a_sparse", AttributeProto_SPARSE_TENSOR).GetSparseTensor()
	eqInts("a_sparse dims", as.GetDims(), []int64{4})
	eqInts("a_sparse indices", as.GetIndices().GetInt64Data(), []int64{3})
	if v := as.GetValues().GetFloatData(); len(v) != 1 || v[0] != 2.5 {
		t.Errorf("a_sparse values = %v", v)
	}
	atp := typ("a_tp", AttributeProto_TYPE_PROTO).GetTp().GetTensorType()
	eq("a_tp elem_type", atp.GetElemType(), int32(TensorProto_FLOAT))
	eq("a_tp dim0", atp.GetShape().GetDim()[0].GetDimValue(), int64(2))
	eq("a_tp dim1", atp.GetShape().GetDim()[1].GetDimParam(), "M")
	if fl := typ("a_floats", AttributeProto_FLOATS).GetFloats(); len(fl) != 2 || fl[0] != 0.25 || fl[1] != 0.5 {
		t.Errorf("a_floats = %v", fl)
	}
	eqInts("a_ints", typ("a_ints", AttributeProto_INTS).GetInts(), []int64{1, -2, 3})
	if ss := typ("a_strings", AttributeProto_STRINGS).GetStrings(); len(ss) != 2 || string(ss[0]) != "x" || string(ss[1]) != "yz" {
		t.Errorf("a_strings = %q", ss)
	}
	ts := typ("a_tensors", AttributeProto_TENSORS).GetTensors()
	if len(ts) != 2 {
		t.Fatalf("a_tensors has %d tensors", len(ts))
	}
	ext := ts[1]
	eq("EXT name", ext.GetName(), "EXT")
	eq("EXT data_location", ext.GetDataLocation(), TensorProto_EXTERNAL)
	eq("a_tensors[0] data_location", ts[0].GetDataLocation(), TensorProto_DEFAULT)
	eqInts("EXT dims", ext.GetDims(), []int64{4, 4})
	entries("EXT external_data", ext.GetExternalData(),
		"location", "onnxpb_fixture.bin", "offset", "4096", "length", "64")
	if gs := typ("a_graphs", AttributeProto_GRAPHS).GetGraphs(); len(gs) != 2 || gs[0].GetName() != "g_a" || gs[1].GetDocString() != "b" {
		t.Errorf("a_graphs = %v", gs)
	}
	if sps := typ("a_sparses", AttributeProto_SPARSE_TENSORS).GetSparseTensors(); len(sps) != 2 || sps[1].GetValues().GetName() != "SP" {
		t.Errorf("a_sparses = %v", sps)
	}
	tps := typ("a_tps", AttributeProto_TYPE_PROTOS).GetTypeProtos()
	if len(tps) != 3 {
		t.Fatalf("a_tps has %d entries", len(tps))
	}
	eq("a_tps[0] seq elem", tps[0].GetSequenceType().GetElemType().GetTensorType().GetElemType(), int32(TensorProto_UINT8))
	eq("a_tps[1] elem_type", TensorProto_DataType(tps[1].GetTensorType().GetElemType()), TensorProto_FLOAT8E4M3FN)
	eq("a_tps[2] opaque domain", tps[2].GetOpaqueType().GetDomain(), "com.retarget.test")
	eq("a_tps[2] opaque name", tps[2].GetOpaqueType().GetName(), "Blob")

	// Function call node and the model-local function.
	call := g.GetNode()[3]
	eq("call op_type", call.GetOpType(), "ScaledRelu")
	eq("call alpha", call.GetAttribute()[0].GetF(), float32(0.75))
	if len(m.GetFunctions()) != 1 {
		t.Fatalf("functions = %d", len(m.GetFunctions()))
	}
	fn := m.GetFunctions()[0]
	eq("function name", fn.GetName(), "ScaledRelu")
	eq("function domain", fn.GetDomain(), "com.retarget.test")
	eq("function doc_string", fn.GetDocString(), "relu(x) * alpha")
	eq("function io", strings.Join(fn.GetInput(), ",")+"->"+strings.Join(fn.GetOutput(), ","), "x->y")
	eq("function attribute", strings.Join(fn.GetAttribute(), ","), "alpha")
	eq("function opset", fn.GetOpsetImport()[0].GetVersion(), int64(13))
	eq("function nodes", len(fn.GetNode()), 3)
	ref := fn.GetNode()[0].GetAttribute()[0]
	eq("ref attr name", ref.GetName(), "value_float")
	eq("ref_attr_name", ref.GetRefAttrName(), "alpha")
	eq("ref attr type", ref.GetType(), AttributeProto_FLOAT)
	eq("function mul op", fn.GetNode()[2].GetOpType(), "Mul")

	// TrainingInfoProto.
	if len(m.GetTrainingInfo()) != 1 {
		t.Fatalf("training_info = %d", len(m.GetTrainingInfo()))
	}
	ti := m.GetTrainingInfo()[0]
	eq("initialization name", ti.GetInitialization().GetName(), "init_graph")
	eq("algorithm name", ti.GetAlgorithm().GetName(), "algo_graph")
	entries("initialization_binding", ti.GetInitializationBinding(), "W", "W_init")
	entries("update_binding", ti.GetUpdateBinding(), "B", "B_new")
}

func TestEnums(t *testing.T) {
	for _, c := range []struct {
		got  int32
		want int32
	}{
		{int32(TensorProto_FLOAT16), 10},
		{int32(TensorProto_BFLOAT16), 16},
		{int32(TensorProto_FLOAT8E4M3FN), 17},
		{int32(TensorProto_FLOAT8E4M3FNUZ), 18},
		{int32(TensorProto_FLOAT8E5M2), 19},
		{int32(TensorProto_FLOAT8E5M2FNUZ), 20},
		{int32(TensorProto_INT4), 22},
		{int32(TensorProto_FLOAT4E2M1), 23},
		{int32(TensorProto_FLOAT8E8M0), 24},
		{int32(TensorProto_INT2), 26},
		{int32(AttributeProto_SPARSE_TENSORS), 12},
		{int32(AttributeProto_TYPE_PROTOS), 14},
		{int32(Version_IR_VERSION), 13},
	} {
		if c.got != c.want {
			t.Errorf("enum value %d, want %d", c.got, c.want)
		}
	}
}
