package onnx

import (
	"errors"
	"fmt"

	"github.com/retarget-dev/retarget/internal/onnxpb"
	"github.com/retarget-dev/retarget/ir"
)

// dyn is a value computed from the graph inputs, in one of two views.
//
// Lazy (full false): its data lives in IR vertex v, batch first, as the
// row-major content of shape without the batch axis, so transposes that
// only move the batch axis and reshapes are free; mat inserts an
// ir.Reshape when a consumer needs the exact shape. Layer vertices read
// this view.
//
// Materialized (full true): v holds the value in its ONNX layout, v's full
// shape is shape with ir.Batch at batch (no batch at all when batch is -1).
// The general tensor ops read and write this view; tensor and lazyOf
// convert between the two with a TensorTranspose where the batch is not
// first.
type dyn struct {
	v     string
	shape []int // ONNX shape; shape[batch] is -1, other unknown sizes -1
	batch int   // -1: no batch axis (only when full)
	full  bool
	alt   *dyn // the other view, once made
}

func (d *dyn) irShape() []int {
	out := make([]int, 0, len(d.shape))
	for k, s := range d.shape {
		if k != d.batch {
			out = append(out, s)
		}
	}
	return out
}

func withBatch(s []int) []int { return append([]int{-1}, s...) }

type converter struct {
	file         string
	opset        int
	opts         Options
	rd           *tensorReader
	limit        int
	g            *ir.Graph
	consts       map[string]*cval
	inits        map[string]bool // names of the graph's initializers
	macros       map[*onnxpb.NodeProto]handler
	graphOutputs []string
	scratch      []float32 // reused when weights are rearranged in place
	vals         map[string]*dyn
	irShapes     map[string][]int // vertex outputs as layer vertices see them (batch first)
	fullShapes   map[string][]int // vertex outputs as full shapes (ir.Batch marks the batch)
	taken        map[string]bool
	uses         map[string]int
	producer     map[string]*onnxpb.NodeProto
	nodes        []*onnxpb.NodeProto
	skip         map[*onnxpb.NodeProto]bool
	poisoned     map[string]bool
	frozen       map[string]bool
	layouts      map[string]ir.Layout // graph input/output layouts from metadata_props
	problems     []error
	warnings     []string          // approximations made (Meta["onnx_warnings"])
	learned      map[string]bool   // values exported from learned TensorConstants ("retarget.learned")
	fixed        map[string]bool   // initializers exported as no parameter ("retarget.fixed")
	noBatch      map[string]bool   // graph inputs exported without a batch axis ("retarget.no_batch")
	boolInputs   map[string]bool   // graph inputs of element type bool (held as 0/1)
	tensorConsts map[string]string // TensorConstant vertices made for constants (operand)

	staticBatch int64
}

type node struct {
	*onnxpb.NodeProto
	label string
}

func (n *node) attr(name string) *onnxpb.AttributeProto {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a
		}
	}
	return nil
}

func (n *node) int(name string, def int64) int64 {
	if a := n.attr(name); a != nil {
		return a.GetI()
	}
	return def
}

func (n *node) float(name string, def float32) float32 {
	if a := n.attr(name); a != nil {
		return a.GetF()
	}
	return def
}

func (n *node) ints(name string) []int64 {
	if a := n.attr(name); a != nil {
		return a.GetInts()
	}
	return nil
}

func (n *node) str(name, def string) string {
	if a := n.attr(name); a != nil {
		return string(a.GetS())
	}
	return def
}

// in returns the i-th input name, "" when absent.
func (n *node) in(i int) string {
	if i < len(n.GetInput()) {
		return n.GetInput()[i]
	}
	return ""
}

func (n *node) out(i int) string {
	if i < len(n.GetOutput()) {
		return n.GetOutput()[i]
	}
	return ""
}

func (c *converter) isConst(name string) bool {
	_, ok := c.consts[name]
	return ok
}

// constIn returns input i as a constant, or an error naming it.
func (c *converter) constIn(n *node, i int, what string) (*cval, error) {
	name := n.in(i)
	if name == "" {
		return nil, fmt.Errorf("missing %s input", what)
	}
	v, ok := c.consts[name]
	if !ok {
		return nil, fmt.Errorf("%s (%q) must be a constant (an initializer or foldable subgraph)", what, name)
	}
	return v, nil
}

// optConst returns input i as a constant, nil when the input is absent.
func (c *converter) optConst(n *node, i int, what string) (*cval, error) {
	if n.in(i) == "" {
		return nil, nil
	}
	return c.constIn(n, i, what)
}

// dynIn returns computed input i in the lazy (batch first) view the layer
// handlers take.
func (c *converter) dynIn(n *node, i int) (*dyn, error) {
	d, err := c.rawIn(n, i)
	if err != nil {
		return nil, err
	}
	return c.lazyOf(n.in(i), d)
}

// rawIn returns computed input i in whichever view it is held.
func (c *converter) rawIn(n *node, i int) (*dyn, error) {
	name := n.in(i)
	d, ok := c.vals[name]
	if !ok {
		if c.isConst(name) {
			return nil, fmt.Errorf("input %q is a constant where a computed value is expected", name)
		}
		return nil, fmt.Errorf("unknown input %q", name)
	}
	return d, nil
}

// lazyVal is c.vals[name] in the lazy view; ok is false for a name that
// is not a computed value.
func (c *converter) lazyVal(name string) (d *dyn, ok bool, err error) {
	d, ok = c.vals[name]
	if !ok {
		return nil, false, nil
	}
	d, err = c.lazyOf(name, d)
	return d, true, err
}

// lazyOf returns d in the lazy view: a materialized value with the batch
// on axis k > 0 goes through a TensorTranspose that moves it first. A
// value without a batch axis cannot feed a layer vertex.
func (c *converter) lazyOf(name string, d *dyn) (*dyn, error) {
	if !d.full {
		return d, nil
	}
	if d.alt != nil {
		return d.alt, nil
	}
	if d.batch < 0 {
		return nil, &BatchFreeError{Value: name, Shape: d.shape}
	}
	l := &dyn{v: d.v, shape: d.shape, batch: d.batch, alt: d}
	if d.batch > 0 {
		perm := []int{d.batch}
		for k := range d.shape {
			if k != d.batch {
				perm = append(perm, k)
			}
		}
		v, err := c.add(d.v+"/batch_first", &ir.TensorTranspose{Perm: perm}, []string{d.v}, nil)
		if err != nil {
			return nil, err
		}
		l.v = v
	}
	d.alt = l
	return l, nil
}

// tensor returns the vertex holding d in its ONNX layout (d materialized):
// a lazy value with the batch on axis k > 0 goes through a TensorTranspose
// that moves the batch there.
func (c *converter) tensor(d *dyn) (string, error) {
	if d.full {
		return d.v, nil
	}
	if d.alt != nil {
		return d.alt.v, nil
	}
	x, err := c.mat(d)
	if err != nil {
		return "", err
	}
	if d.batch == 0 {
		return x, nil
	}
	r := len(d.shape)
	perm := make([]int, 0, r)
	for k := 1; k <= d.batch; k++ {
		perm = append(perm, k)
	}
	perm = append(perm, 0)
	for k := d.batch + 1; k < r; k++ {
		perm = append(perm, k)
	}
	v, err := c.add(x+"/layout", &ir.TensorTranspose{Perm: perm}, []string{x}, nil)
	if err != nil {
		return "", err
	}
	d.alt = &dyn{v: v, shape: d.shape, batch: d.batch, full: true, alt: d}
	return v, nil
}

// tensorIn returns computed input i materialized.
func (c *converter) tensorIn(n *node, i int) (*dyn, string, error) {
	d, err := c.rawIn(n, i)
	if err != nil {
		return nil, "", err
	}
	v, err := c.tensor(d)
	return d, v, err
}

// fullOf is the full shape of vertex or graph input v.
func (c *converter) fullOf(v string) []int {
	if s, ok := c.fullShapes[v]; ok {
		return s
	}
	return ir.WithBatch(c.irShapes[v])
}

// fullDyn describes vertex v (a general op's output) materialized.
func (c *converter) fullDyn(v string) *dyn {
	s := c.fullOf(v)
	d := &dyn{v: v, shape: make([]int, len(s)), batch: -1, full: true}
	for k, x := range s {
		d.shape[k] = x
		if x == ir.Batch {
			d.shape[k], d.batch = -1, k
		}
	}
	return d
}

// addTensor adds a general tensor op whose output is node output k.
func (c *converter) addTensor(n *node, k int, base string, l ir.TensorOp, inputs []string) error {
	v, err := c.add(base, l, inputs, nil)
	if err != nil {
		return err
	}
	c.vals[n.out(k)] = c.fullDyn(v)
	return nil
}

// name returns a fresh vertex name based on base.
func (c *converter) name(base string) string {
	if base == "" {
		base = "v"
	}
	n := base
	for k := 1; c.taken[n]; k++ {
		n = fmt.Sprintf("%s_%d", base, k)
	}
	c.taken[n] = true
	return n
}

// add appends a vertex and returns its (unique) name.
// A general tensor op takes and gives full shapes; its output has a
// layer view (irShapes) only when its batch is on axis 0.
func (c *converter) add(base string, l ir.Layer, inputs []string, params map[string]*ir.Tensor) (string, error) {
	in := make([][]int, len(inputs))
	tensor := ir.IsTensorOp(l)
	for k, s := range inputs {
		if tensor {
			in[k] = c.fullOf(s)
			continue
		}
		view, ok := ir.LayerView(c.fullOf(s))
		if !ok {
			return "", fmt.Errorf("%s of %q, which has shape %s: the layer needs the batch on axis 0", l.Kind(), s, ir.FormatShape(c.fullOf(s)))
		}
		in[k] = view
	}
	out, err := l.OutputShape(in)
	if err != nil {
		return "", err
	}
	name := c.name(base)
	c.g.Vertices = append(c.g.Vertices, &ir.Vertex{Name: name, Layer: l, Inputs: inputs, Params: params})
	if tensor {
		c.fullShapes[name] = out
		if view, ok := ir.LayerView(out); ok {
			c.irShapes[name] = view
		}
	} else {
		c.irShapes[name] = out
	}
	return name, nil
}

// addOut adds a vertex whose output is node output k, batch first.
func (c *converter) addOut(n *node, k int, base string, l ir.Layer, inputs []string, params map[string]*ir.Tensor) error {
	v, err := c.add(base, l, inputs, params)
	if err != nil {
		return err
	}
	c.vals[n.out(k)] = &dyn{v: v, shape: withBatch(c.irShapes[v]), batch: 0}
	return nil
}

// mat returns a vertex holding d with exactly d's IR shape.
func (c *converter) mat(d *dyn) (string, error) {
	want := d.irShape()
	if ir.SameShape(c.irShapes[d.v], want) {
		return d.v, nil
	}
	unknown := 0
	for _, s := range want {
		if s < 0 {
			unknown++
		}
	}
	if unknown > 1 {
		return "", fmt.Errorf("cannot reshape %v to %v with %d unknown sizes", c.irShapes[d.v], want, unknown)
	}
	v, err := c.add(d.v+"/reshape", &ir.Reshape{Shape: want}, []string{d.v}, nil)
	if err != nil {
		return "", err
	}
	d.v = v
	return v, nil
}

// batchFirst returns the vertex of an input that must have the batch first.
func (c *converter) batchFirst(n *node, i int) (*dyn, string, error) {
	d, err := c.dynIn(n, i)
	if err != nil {
		return nil, "", err
	}
	if d.batch != 0 {
		return nil, "", fmt.Errorf("input %q has the batch on axis %d; %q needs it on axis 0", n.in(i), d.batch, n.GetOpType())
	}
	v, err := c.mat(d)
	return d, v, err
}

// irAxis maps an ONNX axis of d to an IR axis, refusing the batch axis.
func (c *converter) irAxis(d *dyn, a int64, what string) (int, error) {
	r := int64(len(d.shape))
	if a < 0 {
		a += r
	}
	if a < 0 || a >= r {
		return 0, fmt.Errorf("%s axis %d out of range for rank %d", what, a, r)
	}
	if int(a) == d.batch {
		return 0, &BatchAxisError{What: what}
	}
	if int(a) > d.batch {
		return int(a) - 1, nil
	}
	return int(a), nil
}

func (c *converter) convert(n *node) error {
	for _, in := range n.GetInput() {
		if in != "" && c.poisoned[in] {
			for _, o := range n.GetOutput() {
				c.poisoned[o] = true
			}
			return nil
		}
	}
	op := n.GetOpType()
	allConst := true
	for _, in := range n.GetInput() {
		if in != "" && !c.isConst(in) {
			if _, ok := c.vals[in]; !ok {
				return fmt.Errorf("input %q is not produced by any earlier node (nodes must be topologically sorted)", in)
			}
			allConst = false
		}
	}
	if op == "Shape" {
		return c.shapeOf(n)
	}
	if op == "Expand" && allConst && c.inits[n.in(0)] {
		if ok, err := c.expandToBatch(n); ok || err != nil {
			return err
		}
	}
	if op == "ConstantOfShape" && allConst {
		if ok, err := c.constantLike(n); ok || err != nil {
			return err
		}
	}
	if (allConst || op == "Constant") && foldable[op] {
		c.passMarks(n)
		return c.fold(n)
	}
	h, _ := handlerFor(op, c.opset)
	g := generalFor(op, c.opset)
	if g != nil && (c.heldFull(n) || c.readsLearned(n)) {
		if err := g(c, n); !errors.Is(err, errNotGeneral) {
			return err
		}
	}
	if h == nil && g != nil {
		if err := g(c, n); !errors.Is(err, errNotGeneral) {
			return err
		}
	}
	if h == nil {
		return fmt.Errorf("%s needs constant inputs here", op)
	}
	err := h(c, n)
	if err != nil && g != nil {
		if gerr := g(c, n); !errors.Is(gerr, errNotGeneral) {
			return gerr
		}
	}
	return err
}

// passMarks carries the marks our exporter gives a constant (learned,
// frozen) to what a folded node computes from it: a learned TensorConstant
// written through a Transpose comes back learned and frozen as it was.
func (c *converter) passMarks(n *node) {
	for _, in := range n.GetInput() {
		for _, m := range []map[string]bool{c.learned, c.frozen} {
			if m[in] {
				for _, o := range n.GetOutput() {
					m[o] = true
				}
			}
		}
	}
}

// heldFull reports whether a computed input of n is held materialized
// with its batch off axis 0 (or without one): the general ops take it as
// it is, a layer would need a transpose first.
func (c *converter) heldFull(n *node) bool {
	for _, in := range n.GetInput() {
		if d, ok := c.vals[in]; ok && d.full && d.batch != 0 {
			return true
		}
	}
	return false
}

// readsLearned reports whether n reads a constant our exporter marked
// learned (a learned TensorConstant, the scale of an Attention): the
// general ops keep it a parameter, where a layer handler would fold a
// scalar into a fixed Rescaling.
func (c *converter) readsLearned(n *node) bool {
	for _, in := range n.GetInput() {
		if c.learned[in] {
			return true
		}
	}
	return false
}

func tensorOf(shape []int, f []float32) *ir.Tensor { return ir.FromData(f, shape...) }

// fixedConst adds a fixed (not learned) batch-free TensorConstant.
func (c *converter) fixedConst(name string, shape []int, v []float32) (string, error) {
	return c.add(name, &ir.TensorConstant{Shape: shape}, nil, map[string]*ir.Tensor{"value": tensorOf(shape, v)})
}

var errNotConst = errors.New("not constant")
