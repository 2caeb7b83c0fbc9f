package onnx

import (
	"math"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/retarget-dev/retarget/internal/onnxpb"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// geluModel is x → Gelu(approximate) → y at opset 20, x of shape (N, 4).
func geluModel(approximate string) *onnxpb.ModelProto {
	vi := func(name string) *onnxpb.ValueInfoProto {
		dims := []*onnxpb.TensorShapeProto_Dimension{
			{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}},
			{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 4}}}
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(dtFloat), Shape: &onnxpb.TensorShapeProto{Dim: dims}}}}}
	}
	node := &onnxpb.NodeProto{Name: proto.String("act"), OpType: proto.String("Gelu"), Input: []string{"x"}, Output: []string{"y"}}
	if approximate != "" {
		node.Attribute = []*onnxpb.AttributeProto{{Name: proto.String("approximate"),
			Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(approximate)}}
	}
	return &onnxpb.ModelProto{IrVersion: proto.Int64(9),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(20)}},
		Graph: &onnxpb.GraphProto{Name: proto.String("gelu"), Node: []*onnxpb.NodeProto{node},
			Input: []*onnxpb.ValueInfoProto{vi("x")}, Output: []*onnxpb.ValueInfoProto{vi("y")}}}
}

func TestGeluOp(t *testing.T) {
	x := nn.NewMat[float32](3, 4)
	for k := range x.Data {
		x.Data[k] = float32(k)*0.7 - 4
	}
	for _, tc := range []struct {
		approximate string
		f           func(float64) float64
	}{
		{"", func(v float64) float64 { return 0.5 * v * (1 + math.Erf(v/math.Sqrt2)) }},
		{"none", func(v float64) float64 { return 0.5 * v * (1 + math.Erf(v/math.Sqrt2)) }},
		{"tanh", func(v float64) float64 {
			return 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
		}},
	} {
		t.Run("approximate="+tc.approximate, func(t *testing.T) {
			g, err := importProto(geluModel(tc.approximate), "", Options{})
			if err != nil {
				t.Fatal(err)
			}
			kind := ir.ActGELU
			if tc.approximate == "tanh" {
				kind = ir.ActGELUTanh
			}
			if a, ok := g.Vertex("act").Layer.(*ir.ActivationLayer); !ok || a.Activation.Kind != kind || len(g.Vertices) != 1 {
				t.Errorf("want one %s Activation vertex, got %d vertices", kind, len(g.Vertices))
			}
			net, err := nn.Compile(g)
			if err != nil {
				t.Fatal(err)
			}
			outs, err := net.Forward([]*nn.Mat[float32]{x}, false)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range x.Data {
				if want := tc.f(float64(v)); math.Abs(float64(outs[0].Data[k])-want) > 1e-5 {
					t.Errorf("gelu(%g) = %g, want %g", v, outs[0].Data[k], want)
				}
			}
		})
	}
	if _, err := importProto(geluModel("fast"), "", Options{}); err == nil {
		t.Error("approximate=fast imported")
	}
}
