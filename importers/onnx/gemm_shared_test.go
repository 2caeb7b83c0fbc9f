package onnx

import (
	"encoding/binary"
	"math"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/retarget-dev/retarget/internal/onnxpb"
)

// sharedGemmModel: a Gemm (transB=1) reads B reshaped (a folded view of
// it, its only reader) before two more Gemms read B itself, one with
// alpha=2.
func sharedGemmModel() ([]byte, []float32) {
	const units, in = 3, 4
	w := make([]float32, units*in)
	raw := make([]byte, 4*len(w))
	for k := range w {
		w[k] = float32(k) - 5.5
		binary.LittleEndian.PutUint32(raw[4*k:], math.Float32bits(w[k]))
	}
	attr := func(name string, i int64, f float32) *onnxpb.AttributeProto {
		if name == "alpha" {
			return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(f)}
		}
		return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(i)}
	}
	dims := func(d ...int64) *onnxpb.TypeProto {
		var ds []*onnxpb.TensorShapeProto_Dimension
		for _, v := range d {
			ds = append(ds, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: v}})
		}
		return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(dtFloat), Shape: &onnxpb.TensorShapeProto{Dim: ds}}}}
	}
	shape := make([]byte, 16)
	binary.LittleEndian.PutUint64(shape, units)
	binary.LittleEndian.PutUint64(shape[8:], in)
	m := &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(13)}},
		Graph: &onnxpb.GraphProto{
			Name: proto.String("shared"),
			Initializer: []*onnxpb.TensorProto{
				{Name: proto.String("W"), DataType: proto.Int32(dtFloat), Dims: []int64{units, in}, RawData: raw},
				{Name: proto.String("shape"), DataType: proto.Int32(dtInt64), Dims: []int64{2}, RawData: shape},
			},
			Input: []*onnxpb.ValueInfoProto{{Name: proto.String("x"), Type: dims(2, in)}},
			Node: []*onnxpb.NodeProto{
				{Name: proto.String("r"), OpType: proto.String("Reshape"), Input: []string{"W", "shape"}, Output: []string{"Wr"}},
				{Name: proto.String("g3"), OpType: proto.String("Gemm"), Input: []string{"x", "Wr"}, Output: []string{"y3"},
					Attribute: []*onnxpb.AttributeProto{attr("transB", 1, 0)}},
				{Name: proto.String("g1"), OpType: proto.String("Gemm"), Input: []string{"x", "W"}, Output: []string{"y1"},
					Attribute: []*onnxpb.AttributeProto{attr("transB", 1, 0)}},
				{Name: proto.String("g2"), OpType: proto.String("Gemm"), Input: []string{"x", "W"}, Output: []string{"y2"},
					Attribute: []*onnxpb.AttributeProto{attr("transB", 1, 0), attr("alpha", 0, 2)}},
			},
			Output: []*onnxpb.ValueInfoProto{{Name: proto.String("y1"), Type: dims(2, units)},
				{Name: proto.String("y2"), Type: dims(2, units)}, {Name: proto.String("y3"), Type: dims(2, units)}},
		},
	}
	b, _ := proto.Marshal(m)
	return b, w
}

// TestGemmSharedWeights: transposing a Gemm's weights in place must not
// change them for the other nodes reading the same initializer.
func TestGemmSharedWeights(t *testing.T) {
	b, w := sharedGemmModel()
	for _, owned := range []bool{false, true} {
		var m *onnxpb.ModelProto
		var err error
		if owned {
			m, err = decodeOwned(append([]byte(nil), b...))
		} else {
			m = &onnxpb.ModelProto{}
			err = proto.Unmarshal(b, m)
		}
		if err != nil {
			t.Fatal(err)
		}
		g, err := importProto(m, "", Options{KeepDense: true})
		if err != nil {
			t.Fatal(err)
		}
		for v, scale := range map[string]float32{"g1": 1, "g2": 2, "g3": 1} {
			vx := g.Vertex(v)
			if vx == nil {
				t.Fatalf("no vertex %s", v)
			}
			got := vx.Params["W"]
			for i := 0; i < 4; i++ {
				for u := 0; u < 3; u++ {
					if want := scale * w[u*4+i]; got.Data[i*3+u] != want {
						t.Fatalf("owned=%v %s: W[%d][%d] = %v, want %v", owned, v, i, u, got.Data[i*3+u], want)
					}
				}
			}
		}
	}
}
