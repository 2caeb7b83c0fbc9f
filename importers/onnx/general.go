package onnx

import (
	"errors"
	"fmt"
	"math"

	"github.com/retarget-dev/retarget/ir"
)

// The general path: nodes the layer handlers refuse (an op on the batch
// axis, a product of two computed tensors, a value without a batch axis)
// import as the general tensor ops, on their inputs materialized in their
// ONNX layout. The layer handlers stay the first choice, since retarget
// edits layer vertices; an input already held materialized with its batch
// off axis 0 goes to the general path first (no transpose back and forth).

// errNotGeneral is what a general handler returns for a node it does not
// cover (the layer handler's error is reported then).
var errNotGeneral = errors.New("not covered by the general tensor ops")

var generalHandlers = map[string]handler{}

func registerGeneral(op string, h handler) {
	if _, dup := generalHandlers[op]; dup {
		panic("onnx: general handler registered twice: " + op)
	}
	generalHandlers[op] = h
}

// generalFor returns the general handler of op (they read the opset's
// forms through the shared argument helpers).
func generalFor(op string, opset int) handler { return generalHandlers[op] }

func init() {
	registerGeneral("MatMul", (*converter).tensorMatMul)
	registerGeneral("Gemm", (*converter).tensorGemm)
	registerGeneral("Transpose", (*converter).tensorTranspose)
	registerGeneral("Reshape", (*converter).tensorReshapeNode)
	registerGeneral("Flatten", (*converter).tensorFlatten)
	registerGeneral("Squeeze", func(c *converter, n *node) error { return c.tensorSqueeze(n, false) })
	registerGeneral("Unsqueeze", func(c *converter, n *node) error { return c.tensorSqueeze(n, true) })
	registerGeneral("Slice", (*converter).tensorSlice)
	registerGeneral("Split", (*converter).tensorSplit)
	registerGeneral("Concat", (*converter).tensorConcat)
	registerGeneral("Gather", (*converter).tensorGather)
	registerGeneral("Expand", (*converter).tensorExpand)
	registerGeneral("Tile", (*converter).tensorTile)
}

// onnxFull is d's ONNX shape with ir.Batch on its batch axis.
func onnxFull(d *dyn) []int {
	s := append([]int(nil), d.shape...)
	if d.batch >= 0 {
		s[d.batch] = ir.Batch
	}
	return s
}

// computed reports whether every named input of n is a computed value.
func (c *converter) computed(n *node, idx ...int) bool {
	for _, i := range idx {
		if _, ok := c.vals[n.in(i)]; !ok {
			return false
		}
	}
	return true
}

func (c *converter) tensorMatMul(n *node) error {
	if !c.anyComputed(n) {
		return errNotGeneral
	}
	// a constant operand (a weight matrix next to a batch-moved value) is
	// a learned TensorConstant
	a, err := c.operand(n, 0, true)
	if err != nil {
		return err
	}
	b, err := c.operand(n, 1, true)
	if err != nil {
		return err
	}
	return c.addTensor(n, 0, n.label, &ir.TensorMatMul{}, []string{a, b})
}

// tensorGemm is alpha·A'·B' + beta·C of computed A and B as TensorMatMul
// (transposes through TensorTranspose), scaled and plus C through
// TensorBinary.
func (c *converter) tensorGemm(n *node) error {
	if !c.computed(n, 0) && !c.computed(n, 1) {
		return errNotGeneral
	}
	alpha, beta := n.float("alpha", 1), n.float("beta", 1)
	var ins []string
	for i, attr := range []string{"transA", "transB"} {
		rank := 0
		if d, ok := c.vals[n.in(i)]; ok {
			rank = len(d.shape)
		} else if cv, ok := c.consts[n.in(i)]; ok {
			rank = len(cv.shape)
		}
		if rank != 2 {
			return fmt.Errorf("Gemm input %q has rank %d, want 2", n.in(i), rank)
		}
		v, err := c.operand(n, i, true) // a constant weight is learned
		if err != nil {
			return err
		}
		if n.int(attr, 0) != 0 {
			if v, err = c.add(fmt.Sprintf("%s/%s", n.label, attr), &ir.TensorTranspose{Perm: []int{1, 0}}, []string{v}, nil); err != nil {
				return err
			}
		}
		ins = append(ins, v)
	}
	withC := n.in(2) != "" && beta != 0
	scale := func(v string, f float32, what string) (string, error) {
		if f == 1 {
			return v, nil
		}
		k, err := c.fixedConst(n.label+"/"+what, []int{}, []float32{f})
		if err != nil {
			return "", err
		}
		return c.add(n.label+"/"+what+"_scaled", &ir.TensorBinary{Op: "mul"}, []string{v, k}, nil)
	}
	if !withC && alpha == 1 {
		return c.addTensor(n, 0, n.label, &ir.TensorMatMul{}, ins)
	}
	p, err := c.add(n.label+"/product", &ir.TensorMatMul{}, ins, nil)
	if err != nil {
		return err
	}
	if p, err = scale(p, alpha, "alpha"); err != nil {
		return err
	}
	if !withC {
		c.vals[n.out(0)] = c.fullDyn(p)
		return nil
	}
	cv, err := c.operand(n, 2, true)
	if err != nil {
		return err
	}
	if cv, err = scale(cv, beta, "beta"); err != nil {
		return err
	}
	return c.addTensor(n, 0, n.label, &ir.TensorBinary{Op: "add"}, []string{p, cv})
}

func (c *converter) tensorTranspose(n *node) error {
	d, x, err := c.tensorIn(n, 0)
	if err != nil {
		return err
	}
	perm, err := permOf(n, len(d.shape))
	if err != nil {
		return err
	}
	return c.addTensor(n, 0, n.label, &ir.TensorTranspose{Perm: perm}, []string{x})
}

// reshapeFull reshapes d to the full target (sizes, ir.Batch, one -1).
func (c *converter) reshapeFull(n *node, d *dyn, x string, target []int) error {
	if ir.SameShape(target, onnxFull(d)) {
		c.vals[n.out(0)] = d
		return nil
	}
	return c.addTensor(n, 0, n.label, &ir.TensorReshape{Shape: target}, []string{x})
}

// shapeTarget turns a full shape with unknown sizes into a TensorReshape
// target (at most one -1).
func shapeTarget(s []int) ([]int, error) {
	unknown := 0
	for _, d := range s {
		if d == -1 {
			unknown++
		}
	}
	if unknown > 1 {
		return nil, fmt.Errorf("reshape to %s: more than one unknown size", ir.FormatShape(s))
	}
	return s, nil
}

func (c *converter) tensorReshapeNode(n *node) error {
	d, x, err := c.tensorIn(n, 0)
	if err != nil {
		return err
	}
	var t []int64
	if n.in(1) != "" {
		tv, err := c.constIn(n, 1, "shape")
		if err != nil {
			return err
		}
		t = tv.ints()
	} else {
		t = n.ints("shape")
	}
	allowZero := n.int("allowzero", 0) == 1
	full := onnxFull(d)
	target := make([]int, len(t))
	for k, v := range t {
		switch {
		case v == batchSym:
			target[k] = ir.Batch
		case v == 0 && !allowZero:
			if k >= len(full) {
				return fmt.Errorf("target %v copies a missing axis", t)
			}
			target[k] = full[k]
		case v == -1, v == unknownSym: // unknownSym: a size computed from the batch, such as batch × heads
			target[k] = -1
		case v <= 0 || v > math.MaxInt32:
			return fmt.Errorf("Reshape target %v has a symbolic or bad size at %d", t, k)
		default:
			target[k] = int(v)
		}
	}
	if target, err = shapeTarget(target); err != nil {
		return err
	}
	return c.reshapeFull(n, d, x, target)
}

func (c *converter) tensorFlatten(n *node) error {
	d, x, err := c.tensorIn(n, 0)
	if err != nil {
		return err
	}
	ax, err := normAxis(n.int("axis", 1), len(d.shape)+1)
	if err != nil {
		return err
	}
	full := onnxFull(d)
	part := func(s []int) int {
		p := 1
		for _, v := range s {
			if v < 0 {
				return -1
			}
			p *= v
		}
		return p
	}
	return c.reshapeFull(n, d, x, []int{part(full[:ax]), part(full[ax:])})
}

func (c *converter) tensorSqueeze(n *node, un bool) error {
	d, x, err := c.tensorIn(n, 0)
	if err != nil {
		return err
	}
	axes, err := c.axesOf(n, 1)
	if err != nil {
		return err
	}
	full := onnxFull(d)
	var out []int
	if un {
		out, err = unsqueezeShape(full, axes)
	} else {
		if len(axes) == 0 {
			for _, s := range full {
				if s == -1 {
					return fmt.Errorf("Squeeze without axes of %s: give the axes", ir.FormatShape(full))
				}
			}
		}
		for _, a := range axes {
			if k, err := normAxis(a, len(full)); err == nil && full[k] == ir.Batch {
				return &BatchAxisError{What: "Squeeze"}
			}
		}
		out, err = squeezeShape(full, axes)
	}
	if err != nil {
		return err
	}
	if out, err = shapeTarget(out); err != nil {
		return err
	}
	return c.reshapeFull(n, d, x, out)
}

func (c *converter) tensorSlice(n *node) error {
	d, x, err := c.tensorIn(n, 0)
	if err != nil {
		return err
	}
	starts, ends, axes, steps, err := c.sliceArgs(n, len(d.shape))
	if err != nil {
		return err
	}
	l := &ir.TensorSlice{}
	for k, a := range axes {
		if ends[k] == batchSym && d.batch >= 0 && int(a) == d.batch && steps[k] > 0 {
			ends[k] = math.MaxInt32 // x[:N] of the batch axis: all of it
		}
		if sym := func(v int64) bool { return v == batchSym || v == unknownSym }; sym(starts[k]) || sym(ends[k]) || sym(steps[k]) {
			return fmt.Errorf("Slice bounds on axis %d are computed from the batch size at run time; only constant bounds are imported", a)
		}
		l.Axes = append(l.Axes, int(a))
		l.Starts = append(l.Starts, clampInt(starts[k]))
		l.Ends = append(l.Ends, clampInt(ends[k]))
		l.Steps = append(l.Steps, clampInt(steps[k]))
	}
	return c.addTensor(n, 0, n.label, l, []string{x})
}

func (c *converter) tensorSplit(n *node) error {
	d, x, err := c.tensorIn(n, 0)
	if err != nil {
		return err
	}
	ax, err := normAxis(n.int("axis", 0), len(d.shape))
	if err != nil {
		return err
	}
	sizes, err := c.splitSizes(n, d.shape[ax])
	if err != nil {
		return err
	}
	start := 0
	for k, s := range sizes {
		end := start + int(s)
		if n.out(k) != "" {
			base := n.label
			if len(sizes) > 1 {
				base = fmt.Sprintf("%s_%d", n.label, k)
			}
			l := &ir.TensorSlice{Axes: []int{ax}, Starts: []int{start}, Ends: []int{end}}
			if err := c.addTensor(n, k, base, l, []string{x}); err != nil {
				return err
			}
		}
		start = end
	}
	return nil
}

func (c *converter) tensorConcat(n *node) error {
	var ins []string
	for i := range n.GetInput() {
		if !c.computed(n, i) {
			return errNotGeneral
		}
		_, x, err := c.tensorIn(n, i)
		if err != nil {
			return err
		}
		ins = append(ins, x)
	}
	return c.addTensor(n, 0, n.label, &ir.TensorConcat{Axis: int(n.int("axis", 0))}, ins)
}

func (c *converter) tensorGather(n *node) error {
	if !c.computed(n, 0) || c.computed(n, 1) {
		return errNotGeneral
	}
	d, x, err := c.tensorIn(n, 0)
	if err != nil {
		return err
	}
	idx, err := c.constIn(n, 1, "indices")
	if err != nil {
		return err
	}
	if idx.size() > c.limit {
		return fmt.Errorf("Gather with %d indices", idx.size())
	}
	ax, err := normAxis(n.int("axis", 0), len(d.shape))
	if err != nil {
		return err
	}
	l := &ir.TensorGather{Axis: ax, IndexShape: append([]int(nil), idx.shape...)}
	for _, v := range idx.ints() {
		l.Indices = append(l.Indices, clampInt(v))
	}
	return c.addTensor(n, 0, n.label, l, []string{x})
}

func (c *converter) tensorExpand(n *node) error {
	d, x, err := c.tensorIn(n, 0)
	if err != nil {
		return err
	}
	tv, err := c.constIn(n, 1, "shape")
	if err != nil {
		return err
	}
	var target []int
	for _, v := range tv.ints() {
		switch {
		case v == batchSym:
			target = append(target, ir.Batch)
		case v < 1 || v > math.MaxInt32:
			return fmt.Errorf("Expand to %v: a size only known at run time", tv.ints())
		default:
			target = append(target, int(v))
		}
	}
	out, err := (&ir.TensorExpand{Shape: target}).OutputShape([][]int{onnxFull(d)})
	if err != nil {
		return err
	}
	if ir.SameShape(out, onnxFull(d)) {
		c.vals[n.out(0)] = d
		return nil
	}
	for k, s := range out {
		if s == ir.Batch {
			out[k] = 1
		}
	}
	if err := c.bound(out); err != nil {
		return err
	}
	return c.addTensor(n, 0, n.label, &ir.TensorExpand{Shape: target}, []string{x})
}

func (c *converter) tensorTile(n *node) error {
	d, x, err := c.tensorIn(n, 0)
	if err != nil {
		return err
	}
	rv, err := c.constIn(n, 1, "repeats")
	if err != nil {
		return err
	}
	l := &ir.TensorTile{}
	for _, v := range rv.ints() {
		if v < 1 || v > math.MaxInt32 {
			return fmt.Errorf("Tile repeats %v", rv.ints())
		}
		l.Repeats = append(l.Repeats, int(v))
	}
	out, err := l.OutputShape([][]int{onnxFull(d)})
	if err != nil {
		return err
	}
	for k, s := range out {
		if s < 0 {
			out[k] = 1
		}
	}
	if err := c.bound(out); err != nil {
		return err
	}
	return c.addTensor(n, 0, n.label, l, []string{x})
}
