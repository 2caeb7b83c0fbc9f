package onnx

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/retarget-dev/retarget/internal/onnxpb"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// smallModel is an opset-13 model; an input's dims are ints or a string
// (a symbolic size).
type smallModel struct {
	inputs  map[string][]any
	order   []string
	nodes   []*onnxpb.NodeProto
	inits   []*onnxpb.TensorProto
	outputs []string
}

func (s *smallModel) input(name string, dims ...any) *smallModel {
	if s.inputs == nil {
		s.inputs = map[string][]any{}
	}
	s.inputs[name] = dims
	s.order = append(s.order, name)
	return s
}

func (s *smallModel) node(op string, ins []string, out string, attrs ...*onnxpb.AttributeProto) *smallModel {
	s.nodes = append(s.nodes, &onnxpb.NodeProto{Name: proto.String(out), OpType: proto.String(op), Input: ins, Output: []string{out}, Attribute: attrs})
	return s
}

func (s *smallModel) ints(name string, v ...int64) *smallModel {
	s.inits = append(s.inits, &onnxpb.TensorProto{Name: proto.String(name), Dims: []int64{int64(len(v))}, DataType: proto.Int32(7), Int64Data: v})
	return s
}

func (s *smallModel) model() *onnxpb.ModelProto {
	vi := func(name string, dims []any) *onnxpb.ValueInfoProto {
		var ds []*onnxpb.TensorShapeProto_Dimension
		for _, d := range dims {
			switch d := d.(type) {
			case int:
				ds = append(ds, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
			case string:
				ds = append(ds, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d}})
			}
		}
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(1), Shape: &onnxpb.TensorShapeProto{Dim: ds}}}}}
	}
	g := &onnxpb.GraphProto{Name: proto.String("small"), Node: s.nodes, Initializer: s.inits}
	for _, n := range s.order {
		g.Input = append(g.Input, vi(n, s.inputs[n]))
	}
	for _, o := range s.outputs {
		g.Output = append(g.Output, &onnxpb.ValueInfoProto{Name: proto.String(o)})
	}
	return &onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(13)}}}
}

func aI(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

// Gemm(aᵀ, b) of two inputs that share the batch contracts it: a [3 3]
// without batch, computed from the whole batch.
func TestGeneralGemmTransA(t *testing.T) {
	m := (&smallModel{outputs: []string{"y"}}).input("a", "N", 2).input("b", "batch", 3).
		node("Gemm", []string{"a", "b"}, "y", aI("transA", 1)).model()
	g, err := importProto(m, "", Options{KeepDense: true})
	if err != nil {
		t.Fatal(err)
	}
	if g.Inputs[1].NoBatch {
		t.Fatal("b has a symbolic axis 0 like a: it shares the batch")
	}
	net, err := nn.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	a := ir.FromData([]float32{1, 2, 3, 4, 5, 6}, 3, 2)
	b := ir.FromData([]float32{1, 0, 1, 0, 1, 1, 2, 2, 0}, 3, 3)
	out, err := net.Predict(a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{11, 13, 4, 14, 16, 6} // aᵀ·b
	if !ir.SameShape(out[0].Shape, []int{2, 3}) {
		t.Fatalf("shape %v", out[0].Shape)
	}
	for i, w := range want {
		if out[0].Data[i] != w {
			t.Fatalf("got %v, want %v", out[0].Data, want)
		}
	}
}

// What the general ops cannot hold is refused with the reason.
func TestGeneralRefusals(t *testing.T) {
	for _, c := range []struct {
		name string
		m    *onnxpb.ModelProto
		want string
	}{
		{"concat along the batch", (&smallModel{outputs: []string{"y"}}).input("a", "N", 3).input("b", "N", 3).
			node("Concat", []string{"a", "b"}, "y", aI("axis", 0)).model(), "TensorConcat along the batch axis"},
		{"tile of the batch", (&smallModel{outputs: []string{"y"}}).input("a", "N", 3).ints("r", 2, 1).
			node("Tile", []string{"a", "r"}, "y").model(), "the batch size would change"},
	} {
		_, err := importProto(c.m, "", Options{KeepDense: true})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
	// a value without a batch axis reaching a layer-only op
	m := (&smallModel{outputs: []string{"y"}}).input("a", "N", 3).input("b", 3, 4, 4).
		node("MaxPool", []string{"b"}, "y", &onnxpb.AttributeProto{Name: proto.String("kernel_shape"),
			Type: onnxpb.AttributeProto_INTS.Enum(), Ints: []int64{2, 2}}).model()
	_, err := importProto(m, "", Options{})
	var bf *BatchFreeError
	if !errors.As(err, &bf) || bf.Value != "b" {
		t.Errorf("MaxPool of a batch-free input: %v, want a BatchFreeError naming b", err)
	}
}

func aF(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

// Slice bounds computed from the batch size: x[:N] of the batch axis is
// all of it; (N+1)/2 (PyTorch 1.13's chunk) is refused with the reason.
func TestGeneralSliceBatchBounds(t *testing.T) {
	base := func() *smallModel {
		return (&smallModel{outputs: []string{"y"}}).input("x", "N", 3).ints("zero", 0).ints("one", 1).ints("two", 2).
			node("Shape", []string{"x"}, "s").node("Gather", []string{"s", "zero"}, "n")
	}
	m := base().node("Slice", []string{"x", "zero", "n", "zero"}, "y").model()
	g, err := importProto(m, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	full, _ := g.FullShapes()
	if s := full[g.Outputs[0].Vertex]; !ir.SameShape(s, []int{ir.Batch, 3}) {
		t.Errorf("x[:N] has shape %s, want [B 3]", ir.FormatShape(s))
	}
	m = base().node("Add", []string{"n", "one"}, "n1").node("Div", []string{"n1", "two"}, "h").
		node("Slice", []string{"x", "zero", "h", "zero"}, "y").model()
	if _, err := importProto(m, "", Options{}); err == nil || !strings.Contains(err.Error(), "computed from the batch size at run time") {
		t.Errorf("x[:(N+1)/2]: %v", err)
	}
}
