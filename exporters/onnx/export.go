// Package onnx writes ir graphs as ONNX models (opsets 11 to 21) with a
// dynamic batch dimension, keeping vertex names as node names and graph
// output names as ONNX output names.
package onnx

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/retarget-dev/retarget/internal/atomicfile"
	"github.com/retarget-dev/retarget/internal/layout"
	"github.com/retarget-dev/retarget/internal/onnxpb"
	"github.com/retarget-dev/retarget/ir"
)

// Options tune an export.
type Options struct {
	// Opset is the default-domain opset to write, 11 to 21 (0: 13).
	Opset int
	// ChannelsFirst writes image, volume and 1-D signal inputs and outputs
	// in the internal channels-first layout (NCHW, NCDHW, NCW), like tf2onnx's
	// --inputs-as-nchw. By default each keeps the layout its source model
	// took (ir.Input.Layout: a channels-last Keras model's ONNX file takes
	// NHWC), through a Transpose node at the graph's edge.
	ChannelsFirst bool
	// ExternalDataThreshold is the serialized size above which Export
	// writes the weights to "<model file>.data" next to the model
	// (0: 2 GB, the protobuf limit). Tests lower it.
	ExternalDataThreshold int64
}

const (
	DefaultOpset = 13
	MinOpset     = 11
	MaxOpset     = 21
	twoGB        = int64(2) << 30
)

// Error is a graph the exporter cannot write.
type Error struct {
	Vertex string
	Err    error
}

func (e *Error) Error() string {
	if e.Vertex == "" {
		return fmt.Sprintf("onnx export: %v", e.Err)
	}
	return fmt.Sprintf("onnx export: vertex %q: %v", e.Vertex, e.Err)
}
func (e *Error) Unwrap() error { return e.Err }

// ExportError lists every vertex the exporter cannot write.
type ExportError struct{ Problems []error }

func (e *ExportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "onnx export: %d problem(s):", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.Error())
	}
	return b.String()
}
func (e *ExportError) Unwrap() []error { return e.Problems }

// toModel converts a graph to an ONNX model; the graph is not modified.
func toModel(g *ir.Graph, opts Options) (*onnxpb.ModelProto, error) {
	opset := opts.Opset
	if opset == 0 {
		opset = DefaultOpset
	}
	if opset < MinOpset || opset > MaxOpset {
		return nil, &Error{Err: fmt.Errorf("opset %d; supported: %d to %d", opset, MinOpset, MaxOpset)}
	}
	if err := g.Validate(); err != nil {
		return nil, &Error{Err: err}
	}
	order, err := g.TopoOrder()
	if err != nil {
		return nil, &Error{Err: err}
	}
	shapes, err := g.Shapes()
	if err != nil {
		return nil, &Error{Err: err}
	}
	full, err := g.FullShapes()
	if err != nil {
		return nil, &Error{Err: err}
	}
	b := &builder{opset: opset, gp: &onnxpb.GraphProto{Name: proto.String(graphName(g))},
		used: map[string]bool{}, value: map[string]string{}, shapes: shapes, nodeNames: map[string]bool{}, mask: map[string]string{}}
	for _, v := range g.Vertices {
		b.nodeNames[v.Name] = true
	}
	batch, err := fixedBatch(g)
	if err != nil {
		return nil, &Error{Err: err}
	}
	if len(g.Inputs) > 0 {
		b.batchRef = g.Inputs[0].Name
	}
	layouts := map[string]ir.Layout{}
	var clInputs []ir.Input
	for _, in := range g.Inputs {
		b.used[in.Name] = true
		b.value[in.Name] = in.Name
		l, last := boundary(in.Layout, len(in.Shape), opts.ChannelsFirst)
		layouts[in.Name] = l
		shape := in.Shape
		if last {
			shape = layout.CLShape(in.Shape)
			clInputs = append(clInputs, in)
		}
		full := ir.WithBatch(shape)
		if in.NoBatch {
			full = shape
		}
		b.gp.Input = append(b.gp.Input, valueInfo(in.Name, full, batch))
	}
	// Graph outputs keep their names: reserve them for their vertices
	// (for a transpose at the edge when they keep a channels-last layout).
	outFor := map[string]string{}
	for _, o := range g.Outputs {
		l, last := boundary(o.Layout, len(shapes[o.Vertex]), opts.ChannelsFirst)
		layouts[o.Name] = l
		if last {
			b.used[o.Name] = true
			continue
		}
		if _, dup := outFor[o.Vertex]; !dup && g.Input(o.Vertex) == nil {
			outFor[o.Vertex] = o.Name
			b.used[o.Name] = true
		}
	}
	for _, v := range g.Vertices {
		if _, ok := outFor[v.Name]; !ok {
			b.used[v.Name] = true
		}
	}
	for _, in := range clInputs {
		cf := b.fresh(in.Name + "/channels_first")
		b.add("Transpose", b.edgeNode(in.Name+"/to_channels_first"), []string{in.Name}, []string{cf},
			aInts("perm", withBatchAxis(layout.CFPerm(len(in.Shape)))))
		b.value[in.Name] = cf
	}
	var probs []error
	for _, v := range order {
		out, ok := outFor[v.Name]
		if !ok {
			out = v.Name
		}
		ins := make([]string, len(v.Inputs))
		for k, n := range v.Inputs {
			ins[k] = b.value[n]
		}
		b.v = v
		outShape := shapes[v.Name]
		if ir.IsTensorOp(v.Layer) {
			outShape = full[v.Name]
		}
		inShapes := v.LayerShapes(shapes, full)
		err := b.masksIn(v)
		if err == nil {
			err = b.emit(v, ins, inShapes, outShape, out)
		}
		if err == nil {
			err = b.masksOut(v, inShapes)
		}
		if err != nil {
			probs = append(probs, &Error{Vertex: v.Name, Err: err})
		}
		b.value[v.Name] = out
	}
	if len(probs) > 0 {
		return nil, &ExportError{Problems: probs}
	}
	for _, o := range g.Outputs {
		src, shape := b.value[o.Vertex], full[o.Vertex]
		if view, ok := ir.LayerView(shape); ok {
			if _, last := boundary(o.Layout, len(view), opts.ChannelsFirst); last {
				b.add("Transpose", b.edgeNode(o.Name+"/to_channels_last"), []string{src}, []string{o.Name},
					aInts("perm", withBatchAxis(layout.CLPerm(len(view)))))
				shape = ir.WithBatch(layout.CLShape(view))
				src = o.Name
			}
		}
		if src != o.Name {
			b.add("Identity", b.edgeNode(o.Name), []string{src}, []string{o.Name})
		}
		b.gp.Output = append(b.gp.Output, valueInfo(o.Name, shape, batch))
	}
	m := &onnxpb.ModelProto{
		IrVersion:       proto.Int64(irVersionFor(opset)),
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(int64(opset))}},
		ProducerName:    proto.String("retarget"),
		ProducerVersion: proto.String("1"),
		Graph:           b.gp,
	}
	m.MetadataProps = metadata(g, layouts)
	for _, kv := range []struct {
		k     string
		names []string
	}{{"retarget.fixed", b.fixed}, {"retarget.learned", b.learned}} {
		if len(kv.names) > 0 {
			m.MetadataProps = append(m.MetadataProps, &onnxpb.StringStringEntryProto{Key: proto.String(kv.k), Value: proto.String(strings.Join(kv.names, ","))})
		}
	}
	return m, nil
}

// LayoutKey prefixes the metadata_props entry that records the layout of
// a graph input or output as the file holds it: "retarget.layout.image"
// = "NHWC".
const LayoutKey = "retarget.layout."

// boundary returns the layout an input or output of IR rank r (batch
// excluded) has in the file, and whether it is channels last there (and
// so needs a Transpose at the edge).
func boundary(l ir.Layout, r int, channelsFirst bool) (ir.Layout, bool) {
	if !l.ChannelsLastFor(r) {
		return l, false
	}
	if channelsFirst {
		return ir.ChannelsFirstLayout(r - 1), false
	}
	return l, true
}

var channelsFirstOf = map[ir.Layout]ir.Layout{ir.LayoutNWC: ir.LayoutNCW, ir.LayoutNHWC: ir.LayoutNCHW, ir.LayoutNDHWC: ir.LayoutNCDHW}

// withBatchAxis turns a permutation of the axes after the batch into one
// of the whole tensor.
func withBatchAxis(p []int) []int {
	out := []int{0}
	for _, a := range p {
		out = append(out, a+1)
	}
	return out
}

// edgeNode returns an unused node name for a node at the graph's edge.
func (b *builder) edgeNode(base string) string {
	name := base
	for k := 1; b.nodeNames[name]; k++ {
		name = fmt.Sprintf("%s_%d", base, k)
	}
	b.nodeNames[name] = true
	return name
}

func graphName(g *ir.Graph) string {
	if g.Name != "" {
		return g.Name
	}
	return "retarget"
}

// irVersionFor is the IR version released with an opset.
func irVersionFor(opset int) int64 {
	switch {
	case opset <= 12:
		return 7
	case opset <= 15:
		return 8
	case opset <= 18:
		return 8
	case opset <= 20:
		return 9
	}
	return 10
}

func metadata(g *ir.Graph, layouts map[string]ir.Layout) []*onnxpb.StringStringEntryProto {
	kv := map[string]string{}
	for name, l := range layouts {
		if l != ir.LayoutNone {
			kv[LayoutKey+name] = string(l)
		}
	}
	var frozen []string
	for _, v := range g.Vertices {
		if v.Frozen {
			frozen = append(frozen, v.Name)
		}
	}
	if len(frozen) > 0 {
		kv["retarget.frozen"] = strings.Join(frozen, ",")
	}
	var free []string
	for _, in := range g.Inputs {
		if in.NoBatch {
			free = append(free, in.Name)
		}
	}
	if len(free) > 0 {
		kv["retarget.no_batch"] = strings.Join(free, ",")
	}
	if f := g.Meta["source_format"]; f != "" {
		kv["retarget.source_format"] = f
	}
	for k, v := range g.Meta {
		if k != "source_format" {
			kv["retarget.meta."+k] = v
		}
	}
	var keys []string
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []*onnxpb.StringStringEntryProto
	for _, k := range keys {
		out = append(out, &onnxpb.StringStringEntryProto{Key: proto.String(k), Value: proto.String(kv[k])})
	}
	return out
}

// fixedBatch is the batch size a graph holding per-sample constants
// (ir.Constant.Batch) runs with, 0 for any batch.
func fixedBatch(g *ir.Graph) (int, error) {
	n := 0
	for _, v := range g.Vertices {
		if c, ok := v.Layer.(*ir.Constant); ok && c.Batch > 0 {
			if n > 0 && c.Batch != n {
				return 0, fmt.Errorf("constants with per-sample values for batches of %d and %d", n, c.Batch)
			}
			n = c.Batch
		}
	}
	return n, nil
}

// valueInfo declares a float tensor [N, shape...]: a symbolic batch, or a
// fixed one when batch > 0.
// valueInfo declares a value of a full shape (ir.Batch marks the batch:
// "N", or the fixed batch size when there is one).
func valueInfo(name string, full []int, batch int) *onnxpb.ValueInfoProto {
	var dims []*onnxpb.TensorShapeProto_Dimension
	for k, d := range full {
		switch {
		case d == ir.Batch && batch > 0:
			dims = append(dims, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(batch)}})
		case d == ir.Batch:
			dims = append(dims, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}})
		case d < 0:
			dims = append(dims, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: fmt.Sprintf("%s_d%d", name, k)}})
		default:
			dims = append(dims, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
		}
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(1), Shape: &onnxpb.TensorShapeProto{Dim: dims}}}}}
}

// Export writes g to path atomically; weights go to an external data file
// next to it when the model would exceed the threshold.
func Export(path string, g *ir.Graph, opts Options) error {
	m, err := toModel(g, opts)
	if err != nil {
		return err
	}
	limit := opts.ExternalDataThreshold
	if limit <= 0 {
		limit = twoGB - 64<<20
	}
	var data []byte
	if int64(proto.Size(m)) > limit {
		loc := filepath.Base(path) + ".data"
		data = externalize(m, loc)
		if err := writeAtomic(filepath.Join(filepath.Dir(path), loc), data); err != nil {
			return err
		}
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return &Error{Err: err}
	}
	return writeAtomic(path, b)
}

// ExportTo writes g to w as one serialized model (weights inline, so the
// model must stay under protobuf's 2 GB; Export can put them in a file
// next to the model instead).
func ExportTo(w io.Writer, g *ir.Graph, opts Options) error {
	m, err := toModel(g, opts)
	if err != nil {
		return err
	}
	if int64(proto.Size(m)) >= twoGB {
		return &Error{Err: fmt.Errorf("the model is over 2 GB, the protobuf limit; export to a file, which puts the weights next to it")}
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return &Error{Err: err}
	}
	if _, err := w.Write(b); err != nil {
		return &Error{Err: err}
	}
	return nil
}

func writeAtomic(path string, b []byte) error {
	if err := atomicfile.WriteBytes(path, b); err != nil {
		return &Error{Err: fmt.Errorf("writing %s: %w", path, err)}
	}
	return nil
}
