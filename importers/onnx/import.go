// Package onnx imports ONNX models (opsets 6 to 21, IR versions 3 to 10)
// into ir graphs whose Conv, Gemm/MatMul, BatchNormalization,
// LayerNormalization (and its decomposition below opset 17), PRelu,
// LSTM/GRU/RNN and embedding Gather nodes become trainable layers.
package onnx

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/retarget-dev/retarget/internal/boundedio"
	"github.com/retarget-dev/retarget/internal/layout"
	"github.com/retarget-dev/retarget/internal/onnxpb"
	"github.com/retarget-dev/retarget/ir"
)

// Options tune an import.
type Options struct {
	// KeepDense leaves a trailing Gemm/MatMul as a Dense vertex instead of
	// turning it into a loss-bearing Output vertex.
	KeepDense bool
	// Strict refuses what the importer otherwise approximates with a
	// warning in Meta["onnx_warnings"]: a Cast to a non-float type whose
	// result is used as data (read as an identity).
	Strict bool
	// DataDir is the folder ImportFrom resolves external data against
	// (Import uses the model file's folder).
	DataDir string
}

// Import reads an .onnx file (and any external data next to it).
func Import(path string, opts Options) (*ir.Graph, error) {
	b, err := boundedio.ReadFile(path)
	if err != nil {
		return nil, &FormatError{File: path, Err: err}
	}
	// The initializers keep their bytes in b (no copy), and float32
	// weights become ir.Tensor data in place: a model is held about once.
	m, err := decodeOwned(b)
	if err != nil {
		return nil, &FormatError{File: path, Err: err}
	}
	return importModel(m, filepath.Dir(path), path, len(b), opts)
}

// ImportFrom reads a serialized model from r (to its end). External data
// is resolved against opts.DataDir; without it a model with external data
// is refused.
func ImportFrom(r io.Reader, opts Options) (*ir.Graph, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, &FormatError{File: "<reader>", Err: err}
	}
	m, err := decodeOwned(b)
	if err != nil {
		return nil, &FormatError{File: "<reader>", Err: err}
	}
	return importModel(m, opts.DataDir, "<reader>", len(b), opts)
}

// importProto converts a decoded model (tests build models as protos); dir
// is the folder external data is resolved against ("" refuses it).
func importProto(m *onnxpb.ModelProto, dir string, opts Options) (*ir.Graph, error) {
	name := "<model>"
	if dir != "" {
		name = filepath.Join(dir, "<model>")
	}
	return importModel(m, dir, name, proto.Size(m), opts)
}

// Opsets 22 and 23 changed no operator we import beyond adding element
// types (bfloat16, 4-bit and 8-bit floats); 23 added Attention.
const (
	minOpset = 6
	maxOpset = 23
)

func importModel(m *onnxpb.ModelProto, dir, file string, size int, opts Options) (*ir.Graph, error) {
	if m.GetGraph() == nil {
		return nil, &FormatError{File: file, Err: errors.New("no graph")}
	}
	if v := m.GetIrVersion(); v < 3 || v > 10 {
		return nil, &FormatError{File: file, Err: fmt.Errorf("IR version %d; supported: 3 to 10", v)}
	}
	opset := int64(-1)
	for _, o := range m.GetOpsetImport() {
		if d := o.GetDomain(); d == "" || d == "ai.onnx" {
			opset = o.GetVersion()
		}
	}
	if opset < minOpset || opset > maxOpset {
		return nil, &FormatError{File: file, Err: fmt.Errorf("default-domain opset %d; supported: %d to %d", opset, minOpset, maxOpset)}
	}
	limit := 4*size + 1<<22
	c := &converter{
		file: file, opset: int(opset), opts: opts, limit: limit,
		rd:     &tensorReader{file: file, dir: dir, limit: 1 << 40},
		g:      &ir.Graph{Name: m.GetGraph().GetName(), Meta: map[string]string{"source_format": "onnx"}},
		consts: map[string]*cval{}, vals: map[string]*dyn{}, irShapes: map[string][]int{}, fullShapes: map[string][]int{},
		taken: map[string]bool{}, uses: map[string]int{}, poisoned: map[string]bool{},
		skip: map[*onnxpb.NodeProto]bool{}, producer: map[string]*onnxpb.NodeProto{},
		layouts: map[string]ir.Layout{},
		inits:   map[string]bool{}, macros: map[*onnxpb.NodeProto]handler{},
	}
	if file != "<reader>" && !strings.HasSuffix(file, "<model>") {
		c.g.Meta["source_file"] = filepath.Base(file)
	}
	for _, kv := range m.GetMetadataProps() {
		c.meta(kv.GetKey(), kv.GetValue())
	}
	return c.run(m.GetGraph())
}

// meta reads the metadata exporters/onnx writes.
func (c *converter) meta(k, v string) {
	switch k {
	case "retarget.frozen":
		c.frozen = map[string]bool{}
		for _, n := range strings.Split(v, ",") {
			if n != "" {
				c.frozen[n] = true
			}
		}
	case "retarget.learned", "retarget.fixed", "retarget.no_batch":
		m := map[string]bool{}
		for _, n := range strings.Split(v, ",") {
			m[n] = n != ""
		}
		switch k {
		case "retarget.learned":
			c.learned = m
		case "retarget.fixed":
			c.fixed = m
		default:
			c.noBatch = m
		}
	case "retarget.source_format":
		c.g.Meta["original_format"] = v
	default:
		if name, ok := strings.CutPrefix(k, "retarget.layout."); ok {
			c.layouts[name] = ir.Layout(v)
		}
	}
}

func (c *converter) run(gp *onnxpb.GraphProto) (*ir.Graph, error) {
	// Every unsupported op is reported at once, before any conversion.
	unsupported := map[string][]string{}
	since := map[string]int{}
	for i, n := range gp.GetNode() {
		op := n.GetOpType()
		if d := n.GetDomain(); d != "" && d != "ai.onnx" {
			op = d + ":" + op
		} else if h, from := handlerFor(op, c.opset); h == nil && !foldable[op] && op != "Shape" && generalFor(op, c.opset) == nil {
			since[op] = from
		} else {
			op = ""
		}
		if op != "" {
			unsupported[op] = append(unsupported[op], nodeLabel(n, i))
		}
	}
	if len(unsupported) > 0 {
		e := newUnsupported(c.file, unsupported)
		e.Opset = c.opset
		for i := range e.Ops {
			e.Ops[i].Since = since[e.Ops[i].OpType]
		}
		return nil, e
	}
	for _, t := range gp.GetInitializer() {
		v, err := c.rd.decode(t)
		if err != nil {
			var ee *ExternalDataError
			if errors.As(err, &ee) {
				return nil, err
			}
			return nil, &FormatError{File: c.file, Err: err}
		}
		c.consts[t.GetName()] = v
		c.inits[t.GetName()] = true
	}
	for _, n := range gp.GetNode() {
		for _, in := range n.GetInput() {
			c.uses[in]++
		}
		for _, out := range n.GetOutput() {
			c.producer[out] = n
		}
	}
	for _, o := range gp.GetOutput() {
		c.uses[o.GetName()]++
		c.graphOutputs = append(c.graphOutputs, o.GetName())
	}
	c.nodes = gp.GetNode()
	if err := c.inputs(gp); err != nil {
		return nil, err
	}
	c.findAttention()
	for i, np := range gp.GetNode() {
		if c.skip[np] {
			continue
		}
		n := &node{NodeProto: np, label: nodeLabel(np, i)}
		convert := c.convert
		if m := c.macros[np]; m != nil {
			convert = func(n *node) error { return m(c, n) }
		}
		if err := convert(n); err != nil {
			var ne *NodeError
			if !errors.As(err, &ne) {
				err = &NodeError{File: c.file, Node: n.label, OpType: np.GetOpType(), Err: err}
			}
			c.problems = append(c.problems, err)
			for _, o := range np.GetOutput() {
				c.poisoned[o] = true
			}
		}
	}
	if len(c.problems) == 0 {
		c.outputs(gp)
	}
	if len(c.problems) > 0 {
		return nil, &ImportError{File: c.file, Problems: c.problems}
	}
	fuseActivations(c.g)
	fuseLayerNorms(c.g)
	c.prune()
	c.foldExportedActivations()
	if !c.opts.KeepDense {
		c.outputLayers()
	}
	for _, v := range c.g.Vertices {
		if c.frozen[v.Name] {
			v.Frozen = true
		}
	}
	if err := c.g.Validate(); err != nil {
		return nil, &ImportError{File: c.file, Problems: ir.Problems(err)}
	}
	if len(c.warnings) > 0 {
		c.g.Meta["onnx_warnings"] = strings.Join(c.warnings, "\n")
	}
	return c.g, nil
}

func nodeLabel(n *onnxpb.NodeProto, i int) string {
	if n.GetName() != "" {
		return n.GetName()
	}
	if len(n.GetOutput()) > 0 && n.GetOutput()[0] != "" {
		return n.GetOutput()[0]
	}
	return fmt.Sprintf("%s_%d", n.GetOpType(), i)
}

// inputs declares the graph inputs that are not initializers. The first
// input's axis 0 is the batch; another input shares it when its axis 0 is
// the same symbol or the same fixed size, and is batch-free (ir.Input.NoBatch)
// otherwise.
func (c *converter) inputs(gp *onnxpb.GraphProto) error {
	var batchDim *onnxpb.TensorShapeProto_Dimension
	for _, vi := range gp.GetInput() {
		name := vi.GetName()
		if _, isConst := c.consts[name]; isConst {
			continue
		}
		tt := vi.GetType().GetTensorType()
		if tt == nil || tt.GetShape() == nil {
			return &FormatError{File: c.file, Err: fmt.Errorf("input %q has no tensor shape; export the model with input shapes", name)}
		}
		if tt.GetElemType() == dtBool {
			if c.boolInputs == nil {
				c.boolInputs = map[string]bool{}
			}
			c.boolInputs[name] = true
		}
		dims := tt.GetShape().GetDim()
		noBatch := len(dims) == 0 || c.noBatch[name] // our exporter marks batch-free inputs
		if batchDim == nil && !noBatch {
			batchDim = dims[0]
			if _, ok := batchDim.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); ok {
				c.staticBatch = batchDim.GetDimValue()
			}
		} else if !noBatch {
			noBatch = !sameDim(batchDim, dims[0])
		}
		var shape []int
		for k, d := range dims {
			v := d.GetDimValue()
			if k == 0 && !noBatch {
				continue
			}
			if _, ok := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); !ok || v <= 0 {
				v = -1
			}
			if v > 1<<24 {
				return &FormatError{File: c.file, Err: fmt.Errorf("input %q dimension %d too large", name, v)}
			}
			shape = append(shape, int(v))
		}
		c.taken[name] = true
		in := ir.Input{Name: name, Shape: shape, NoBatch: noBatch}
		if noBatch {
			c.g.Inputs = append(c.g.Inputs, in)
			c.fullShapes[name] = in.FullShape()
			c.vals[name] = c.fullDyn(name)
			continue
		}
		switch len(shape) {
		case 3:
			in.Layout = ir.LayoutNCHW
		case 4:
			in.Layout = ir.LayoutNCDHW
		}
		r := len(shape) + 1
		if cfEdge(c.layouts[name], r) {
			in.Layout = c.layouts[name]
		}
		if t := c.edgeTranspose(name, c.layouts[name], r); t != nil {
			// The file keeps the source's channels-last layout through a
			// Transpose at the edge (exporters/onnx without
			// ChannelsFirst): the graph takes that layout, the Transpose
			// is the input's own conversion.
			in.Layout = c.layouts[name]
			in.Shape = permute(in.Shape, layout.CFPerm(len(in.Shape)))
			c.skip[t.NodeProto] = true
			c.vals[t.out(0)] = &dyn{v: name, shape: withBatch(in.Shape), batch: 0}
		} else {
			c.vals[name] = &dyn{v: name, shape: withBatch(shape), batch: 0}
		}
		c.g.Inputs = append(c.g.Inputs, in)
		c.irShapes[name] = in.Shape
	}
	if len(c.g.Inputs) == 0 {
		return &FormatError{File: c.file, Err: errors.New("the graph has no non-constant inputs")}
	}
	return nil
}

// sameDim reports whether two input dimensions are the same batch: the
// same fixed size, or both symbolic (exporters name the same batch
// differently per input: tf2onnx writes unk__1, unk__2).
func sameDim(a, b *onnxpb.TensorShapeProto_Dimension) bool {
	_, fa := a.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue)
	_, fb := b.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue)
	if fa && fb {
		return a.GetDimValue() == b.GetDimValue()
	}
	return !fa && !fb
}

// outputs registers the graph outputs under their ONNX names.
func (c *converter) outputs(gp *onnxpb.GraphProto) {
	for _, o := range gp.GetOutput() {
		name := o.GetName()
		d, ok := c.vals[name]
		var l ir.Layout
		if ok && cfEdge(c.layouts[name], len(d.shape)) {
			l = c.layouts[name]
		}
		if t := c.producer[name]; ok && t != nil && t.GetOpType() == "Transpose" && len(t.GetInput()) > 0 && clEdge(c.layouts[name], len(d.shape)) &&
			sameInts(toInts((&node{NodeProto: t}).ints("perm")), withBatchAxis(layout.CLPerm(len(d.shape)-1))) {
			// A channels-last output written through a Transpose at the
			// edge: the graph output is the value before it.
			if pre, found := c.vals[t.GetInput()[0]]; found && pre.batch == 0 {
				d, l = pre, c.layouts[name]
			}
		}
		if !ok {
			c.problems = append(c.problems, &NodeError{File: c.file, Node: name, OpType: "output",
				Err: errors.New("graph output is a constant (or unknown); only computed outputs are supported")})
			continue
		}
		if d.batch != 0 {
			// the batch on another axis or none: the value as ONNX has it
			v, err := c.tensor(d)
			if err != nil {
				c.problems = append(c.problems, &NodeError{File: c.file, Node: name, OpType: "output", Err: err})
				continue
			}
			c.g.Outputs = append(c.g.Outputs, ir.GraphOutput{Name: name, Vertex: v})
			continue
		}
		if d.full {
			d, _ = c.lazyOf(name, d) // batch first: the same vertex
		}
		v, err := c.mat(d)
		if err != nil {
			c.problems = append(c.problems, &NodeError{File: c.file, Node: name, OpType: "output", Err: err})
			continue
		}
		go_ := ir.GraphOutput{Name: name, Vertex: v}
		switch len(d.shape) {
		case 4:
			go_.Layout = ir.LayoutNCHW
		case 5:
			go_.Layout = ir.LayoutNCDHW
		}
		if l != ir.LayoutNone {
			go_.Layout = l
		}
		c.g.Outputs = append(c.g.Outputs, go_)
	}
}

// clEdge reports whether layout l of a value of ONNX rank r is channels
// last (with a batch axis first).
func clEdge(l ir.Layout, r int) bool {
	return l.ChannelsLastFor(r - 1)
}

// cfEdge reports whether layout l of a value of ONNX rank r is channels
// first, the internal layout.
func cfEdge(l ir.Layout, r int) bool {
	return l.ChannelsFirstFor(r - 1)
}

// edgeTranspose returns the Transpose to channels first that is the only
// reader of a channels-last graph input, nil when there is none.
func (c *converter) edgeTranspose(name string, l ir.Layout, r int) *node {
	if !clEdge(l, r) {
		return nil
	}
	t := c.consumer(name)
	if t == nil || t.GetOpType() != "Transpose" || !sameInts(toInts(t.ints("perm")), withBatchAxis(layout.CFPerm(r-1))) {
		return nil
	}
	return t
}

// withBatchAxis turns a permutation of the axes after the batch into one
// of the whole tensor.
func withBatchAxis(p []int) []int {
	out := []int{0}
	for _, a := range p {
		out = append(out, a+1)
	}
	return out
}

func permute(s, perm []int) []int {
	out := make([]int, len(perm))
	for i, p := range perm {
		out[i] = s[p]
	}
	return out
}

// prune drops vertices no graph output depends on.
func (c *converter) prune() {
	live := map[string]bool{}
	var visit func(string)
	byName := map[string]*ir.Vertex{}
	for _, v := range c.g.Vertices {
		byName[v.Name] = v
	}
	visit = func(n string) {
		if live[n] {
			return
		}
		live[n] = true
		if v := byName[n]; v != nil {
			for _, in := range v.Inputs {
				visit(in)
			}
		}
	}
	for _, o := range c.g.Outputs {
		visit(o.Vertex)
	}
	var keep []*ir.Vertex
	for _, v := range c.g.Vertices {
		if live[v.Name] {
			keep = append(keep, v)
		}
	}
	c.g.Vertices = keep
}
