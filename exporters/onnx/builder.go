package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/proto"

	"github.com/retarget-dev/retarget/internal/onnxpb"
	"github.com/retarget-dev/retarget/ir"
)

// builder accumulates the nodes and initializers of one graph.
type builder struct {
	opset  int
	gp     *onnxpb.GraphProto
	used   map[string]bool   // value and initializer names
	value  map[string]string // vertex or input name -> ONNX value name
	shapes map[string][]int
	v      *ir.Vertex // the vertex being emitted
	// nodeNames holds every vertex name (the main node of each vertex
	// takes it) and the names of auxiliary nodes given so far.
	nodeNames map[string]bool
	// batchRef is a graph input whose axis 0 is the batch (trainable
	// constants are expanded to it).
	batchRef string
	// mask maps a vertex to the ONNX value of its sequence mask (masks.go);
	// inMasks are those of the inputs of the vertex being emitted, outMask
	// a mask its emitter made
	mask    map[string]string
	inMasks []string
	outMask string
	// learned lists the values of learned TensorConstants (metadata
	// "retarget.learned": the importer keeps them trainable).
	learned []string
	// fixed lists initializers that are no parameter ("retarget.fixed":
	// the ones a parameterless TensorLayerNorm is written with).
	fixed []string
}

// fresh returns an unused value name based on base.
func (b *builder) fresh(base string) string {
	n := base
	for k := 1; b.used[n]; k++ {
		n = fmt.Sprintf("%s_%d", base, k)
	}
	b.used[n] = true
	return n
}

// tmp names an intermediate value of the current vertex.
func (b *builder) tmp(suffix string) string { return b.fresh(b.v.Name + "/" + suffix) }

func (b *builder) add(op, name string, ins, outs []string, attrs ...*onnxpb.AttributeProto) {
	b.gp.Node = append(b.gp.Node, &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(name),
		Input: ins, Output: outs, Attribute: attrs})
}

// op adds a node of the current vertex; suffix "" names it after the vertex.
func (b *builder) op(op, suffix string, ins []string, out string, attrs ...*onnxpb.AttributeProto) string {
	name := b.v.Name
	if suffix != "" {
		name = b.v.Name + "/" + suffix
		for k := 1; b.nodeNames[name]; k++ {
			name = fmt.Sprintf("%s/%s_%d", b.v.Name, suffix, k)
		}
		b.nodeNames[name] = true
	}
	b.add(op, name, ins, []string{out}, attrs...)
	return out
}

func f32raw(data []float32) []byte {
	raw := make([]byte, 4*len(data))
	for k, v := range data {
		binary.LittleEndian.PutUint32(raw[4*k:], math.Float32bits(v))
	}
	return raw
}

// init adds a float initializer and returns its name.
func (b *builder) init(suffix string, shape []int, data []float32) string {
	name := b.tmp(suffix)
	dims := make([]int64, len(shape))
	for k, d := range shape {
		dims[k] = int64(d)
	}
	b.gp.Initializer = append(b.gp.Initializer, &onnxpb.TensorProto{Name: proto.String(name), Dims: dims,
		DataType: proto.Int32(1), RawData: f32raw(data)})
	return name
}

// ints adds a 1-D int64 initializer.
func (b *builder) ints(suffix string, v ...int64) string {
	name := b.tmp(suffix)
	raw := make([]byte, 8*len(v))
	for k, x := range v {
		binary.LittleEndian.PutUint64(raw[8*k:], uint64(x))
	}
	b.gp.Initializer = append(b.gp.Initializer, &onnxpb.TensorProto{Name: proto.String(name), Dims: []int64{int64(len(v))},
		DataType: proto.Int32(7), RawData: raw})
	return name
}

// scalar adds a float scalar initializer.
func (b *builder) scalar(suffix string, v float32) string {
	name := b.tmp(suffix)
	b.gp.Initializer = append(b.gp.Initializer, &onnxpb.TensorProto{Name: proto.String(name),
		DataType: proto.Int32(1), RawData: f32raw([]float32{v})})
	return name
}

func aInt(n string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(n), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func aFloat(n string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(n), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

func aInts(n string, v []int) *onnxpb.AttributeProto {
	out := make([]int64, len(v))
	for k, x := range v {
		out[k] = int64(x)
	}
	return &onnxpb.AttributeProto{Name: proto.String(n), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: out}
}

func aStr(n, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(n), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

func aStrs(n string, v ...string) *onnxpb.AttributeProto {
	var s [][]byte
	for _, x := range v {
		s = append(s, []byte(x))
	}
	return &onnxpb.AttributeProto{Name: proto.String(n), Type: onnxpb.AttributeProto_STRINGS.Enum(), Strings: s}
}

// reduce writes ReduceX over axes; its axes become an input at opset 13
// for ReduceSum, at 18 for the others.
func (b *builder) reduce(op, suffix, in string, axes []int, out string, keepDims bool) string {
	from, keep := 18, int64(0)
	if op == "ReduceSum" {
		from = 13
	}
	if keepDims {
		keep = 1
	}
	return b.withAxes(op, suffix, in, axes, out, from, aInt("keepdims", keep))
}

// withAxes passes axes as an attribute or, from opset `from`, as an input.
func (b *builder) withAxes(op, suffix string, in string, axes []int, out string, from int, attrs ...*onnxpb.AttributeProto) string {
	if b.opset >= from {
		ax := make([]int64, len(axes))
		for k, a := range axes {
			ax[k] = int64(a)
		}
		return b.op(op, suffix, []string{in, b.ints("axes", ax...)}, out, attrs...)
	}
	return b.op(op, suffix, []string{in}, out, append(attrs, aInts("axes", axes))...)
}

func (b *builder) reshape(suffix, in string, shape []int, out string) string {
	s := []int64{0}
	for _, d := range shape {
		s = append(s, int64(d))
	}
	return b.op("Reshape", suffix, []string{in, b.ints("shape", s...)}, out)
}

func (b *builder) transpose(suffix, in string, perm []int, out string) string {
	return b.op("Transpose", suffix, []string{in}, out, aInts("perm", perm))
}
