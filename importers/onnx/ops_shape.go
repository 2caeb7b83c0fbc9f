package onnx

import (
	"fmt"
	"math"

	"github.com/retarget-dev/retarget/ir"
)

func init() {
	register("Flatten", 1, (*converter).flatten)
	register("Reshape", 1, (*converter).reshape)
	register("Transpose", 1, (*converter).transpose)
	register("Squeeze", 1, func(c *converter, n *node) error { return c.squeeze(n, false) })
	register("Unsqueeze", 1, func(c *converter, n *node) error { return c.squeeze(n, true) })
	register("Concat", 1, (*converter).concat)
	register("Split", 1, (*converter).split)
	register("Slice", 1, (*converter).slice)
	register("Pad", 1, (*converter).pad)
	register("Tile", 6, (*converter).tile)
	register("Expand", 8, (*converter).expand)
	register("DepthToSpace", 1, (*converter).depthToSpace)
	register("SpaceToDepth", 1, (*converter).spaceToDepth)
	register("ReduceMean", 1, func(c *converter, n *node) error { return c.reduce(n, "mean") })
	register("ReduceSum", 1, func(c *converter, n *node) error { return c.reduce(n, "sum") })
	register("ReduceMax", 1, func(c *converter, n *node) error { return c.reduce(n, "max") })
}

// reshapeTo gives node output 0 a new ONNX shape over the same content:
// an ir vertex (Flatten or Reshape) when the batch stays first, an alias
// otherwise.
func (c *converter) reshapeTo(n *node, d *dyn, shape []int, batch int) error {
	nd := &dyn{v: d.v, shape: shape, batch: batch}
	if batch != 0 || d.batch != 0 || ir.SameShape(nd.irShape(), c.irShapes[d.v]) {
		c.vals[n.out(0)] = nd
		return nil
	}
	x, err := c.mat(d)
	if err != nil {
		return err
	}
	want := nd.irShape()
	var l ir.Layer = &ir.Reshape{Shape: want}
	if len(want) == 1 && n.GetOpType() == "Flatten" {
		l = &ir.Flatten{}
	}
	unknown := 0
	for _, s := range want {
		if s < 0 {
			unknown++
		}
	}
	if unknown > 1 {
		return fmt.Errorf("reshape to %v with several unknown sizes", shape)
	}
	return c.addOut(n, 0, n.label, l, []string{x}, nil)
}

func (c *converter) flatten(n *node) error {
	d, err := c.dynIn(n, 0)
	if err != nil {
		return err
	}
	r := len(d.shape)
	ax, err := normAxis(n.int("axis", 1), r+1)
	if err != nil {
		return err
	}
	if d.batch != 0 || ax == 0 || prod(d.shape[1:ax]) != 1 {
		if d.batch == 0 && ax > 1 && prod(d.shape[1:ax]) != 1 {
			return &BatchAxisError{What: fmt.Sprintf("Flatten at axis %d (merging the batch with other axes)", ax)}
		}
		if d.batch != 0 || ax == 0 {
			return &BatchAxisError{What: "Flatten"}
		}
	}
	rest := d.shape[ax:]
	for _, s := range rest {
		if s < 0 {
			return fmt.Errorf("Flatten of a value with unknown sizes %v", d.shape)
		}
	}
	return c.reshapeTo(n, d, []int{-1, prod(rest)}, 0)
}

func (c *converter) reshape(n *node) error {
	d, err := c.dynIn(n, 0)
	if err != nil {
		return err
	}
	var t []int64
	if n.in(1) != "" {
		tv, err := c.constIn(n, 1, "shape")
		if err != nil {
			return err
		}
		t = append([]int64{}, tv.ints()...)
	} else {
		t = append([]int64{}, n.ints("shape")...)
	}
	allowZero := n.int("allowzero", 0) == 1
	batch := -1
	for k, v := range t {
		if v == batchSym || (v == 0 && !allowZero && k == d.batch) {
			if batch >= 0 {
				return fmt.Errorf("target %v has the batch size twice", t)
			}
			batch = k
		}
	}
	if batch < 0 && d.batch == 0 && len(t) > 0 && (t[0] == -1 || c.staticBatch > 0 && t[0] == c.staticBatch) {
		batch = 0
	}
	if batch < 0 {
		return &BatchAxisError{What: fmt.Sprintf("Reshape to %v (no target axis keeps the batch size)", t)}
	}
	// Resolve the target without the batch over the per-sample content.
	ish := d.irShape()
	total, known := 1, true
	for _, s := range ish {
		if s < 0 {
			known = false
		}
		total *= s
	}
	out := make([]int, len(t))
	infer, acc := -1, 1
	for k, v := range t {
		switch {
		case k == batch:
			out[k] = -1
		case v == 0 && !allowZero:
			if k >= len(d.shape) {
				return fmt.Errorf("target %v copies a missing axis", t)
			}
			out[k] = d.shape[k]
			if out[k] < 0 {
				return fmt.Errorf("target %v copies an unknown size", t)
			}
			acc *= out[k]
		case v == -1:
			if infer >= 0 {
				return fmt.Errorf("target %v has two -1", t)
			}
			infer = k
		case v <= 0 || v > math.MaxInt32:
			return fmt.Errorf("target %v has a symbolic or bad size at %d", t, k)
		default:
			out[k] = int(v)
			acc *= int(v)
		}
	}
	if infer >= 0 {
		if known {
			if acc == 0 || total%acc != 0 {
				return fmt.Errorf("cannot reshape per-sample %v to %v", ish, t)
			}
			out[infer] = total / acc
		} else {
			out[infer] = -1
		}
	} else if known && acc != total {
		return fmt.Errorf("reshape of per-sample %v (%d values) to %v", ish, total, t)
	}
	return c.reshapeTo(n, d, out, batch)
}

func (c *converter) transpose(n *node) error {
	d, err := c.dynIn(n, 0)
	if err != nil {
		return err
	}
	perm, err := permOf(n, len(d.shape))
	if err != nil {
		return err
	}
	shape := make([]int, len(perm))
	batch := 0
	var irPerm []int
	identity := true
	for k, p := range perm {
		shape[k] = d.shape[p]
		if p == d.batch {
			batch = k
			continue
		}
		ia := p
		if p > d.batch {
			ia--
		}
		if ia != len(irPerm) {
			identity = false
		}
		irPerm = append(irPerm, ia)
	}
	if identity {
		c.vals[n.out(0)] = &dyn{v: d.v, shape: shape, batch: batch}
		return nil
	}
	x, err := c.mat(d)
	if err != nil {
		return err
	}
	v, err := c.add(n.label, &ir.Permute{Perm: irPerm}, []string{x}, nil)
	if err != nil {
		return err
	}
	c.vals[n.out(0)] = &dyn{v: v, shape: shape, batch: batch}
	return nil
}

func (c *converter) squeeze(n *node, un bool) error {
	d, err := c.dynIn(n, 0)
	if err != nil {
		return err
	}
	axes, err := c.axesOf(n, 1)
	if err != nil {
		return err
	}
	// Track where the batch goes with a marker size.
	const marker = -7
	s := append([]int{}, d.shape...)
	s[d.batch] = marker
	var out []int
	if un {
		out, err = unsqueezeShape(s, axes)
	} else {
		if len(axes) == 0 {
			return fmt.Errorf("Squeeze without axes on a computed value; give the axes")
		}
		for _, a := range axes {
			if k, err := normAxis(a, len(s)); err == nil && k == d.batch {
				return &BatchAxisError{What: "Squeeze"}
			}
		}
		out, err = squeezeShape(s, axes)
	}
	if err != nil {
		return err
	}
	batch := 0
	for k, v := range out {
		if v == marker {
			batch, out[k] = k, -1
		}
	}
	return c.reshapeTo(n, d, out, batch)
}

func (c *converter) concat(n *node) error {
	var ref *dyn
	var inputs []string
	for _, in := range n.GetInput() {
		d, ok, err := c.lazyVal(in)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("constant input %q to a Concat of computed values is not supported", in)
		}
		if ref != nil && (len(d.shape) != len(ref.shape) || d.batch != ref.batch) {
			return fmt.Errorf("Concat of values with different ranks or batch axes")
		}
		ref = d
		x, err := c.mat(d)
		if err != nil {
			return err
		}
		inputs = append(inputs, x)
	}
	ax, err := c.irAxis(ref, n.int("axis", 0), "Concat")
	if err != nil {
		return err
	}
	v, err := c.add(n.label, &ir.Concat{Axis: ax}, inputs, nil)
	if err != nil {
		return err
	}
	c.vals[n.out(0)] = c.like(v, ref.batch)
	return nil
}

// like describes vertex v's output with the batch at position batch.
func (c *converter) like(v string, batch int) *dyn {
	ish := c.irShapes[v]
	shape := append([]int{}, ish[:batch]...)
	shape = append(append(shape, -1), ish[batch:]...)
	return &dyn{v: v, shape: shape, batch: batch}
}

func (c *converter) split(n *node) error {
	d, err := c.dynIn(n, 0)
	if err != nil {
		return err
	}
	oax, err := normAxis(n.int("axis", 0), len(d.shape))
	if err != nil {
		return err
	}
	ax, err := c.irAxis(d, int64(oax), "Split")
	if err != nil {
		return err
	}
	sizes, err := c.splitSizes(n, d.shape[oax])
	if err != nil {
		return err
	}
	x, err := c.mat(d)
	if err != nil {
		return err
	}
	start := 0
	for k, s := range sizes {
		if s <= 0 || s > 1<<31 {
			return fmt.Errorf("split size %d", s)
		}
		base := n.label
		if len(sizes) > 1 {
			base = fmt.Sprintf("%s_%d", n.label, k)
		}
		l := &ir.Slice{Axes: []int{ax}, Starts: []int{start}, Ends: []int{start + int(s)}}
		start += int(s)
		if n.out(k) == "" {
			continue
		}
		v, err := c.add(base, l, []string{x}, nil)
		if err != nil {
			return err
		}
		c.vals[n.out(k)] = c.like(v, d.batch)
	}
	return nil
}

// splitSizes are the sizes Split cuts an axis of size dim into.
func (c *converter) splitSizes(n *node, dim int) ([]int64, error) {
	var sizes []int64
	if n.in(1) != "" {
		v, err := c.constIn(n, 1, "split")
		if err != nil {
			return nil, err
		}
		sizes = v.ints()
	} else if s := n.ints("split"); len(s) > 0 {
		sizes = s
	} else {
		k := len(n.GetOutput())
		if dim < 0 {
			return nil, fmt.Errorf("Split of an unknown size (or the batch axis) into equal parts")
		}
		each := (dim + k - 1) / k
		for i := 0; i < k; i++ {
			sizes = append(sizes, int64(min(each, dim-i*each)))
		}
	}
	if len(sizes) != len(n.GetOutput()) {
		return nil, fmt.Errorf("%d split sizes for %d outputs", len(sizes), len(n.GetOutput()))
	}
	for _, s := range sizes {
		if s <= 0 || s > 1<<31 {
			return nil, fmt.Errorf("split size %d", s)
		}
	}
	return sizes, nil
}

func clampInt(v int64) int {
	return int(min(max(v, math.MinInt32), math.MaxInt32))
}

func (c *converter) slice(n *node) error {
	d, err := c.dynIn(n, 0)
	if err != nil {
		return err
	}
	starts, ends, axes, steps, err := c.sliceArgs(n, len(d.shape))
	if err != nil {
		return err
	}
	l := &ir.Slice{}
	for k, a := range axes {
		if int(a) == d.batch {
			if starts[k] == 0 && steps[k] == 1 && (ends[k] >= math.MaxInt32 || ends[k] == batchSym) {
				continue
			}
			return &BatchAxisError{What: "Slice"}
		}
		ia, _ := c.irAxis(d, a, "Slice")
		l.Axes = append(l.Axes, ia)
		l.Starts = append(l.Starts, clampInt(starts[k]))
		l.Ends = append(l.Ends, clampInt(ends[k]))
		l.Steps = append(l.Steps, clampInt(steps[k]))
	}
	if len(l.Axes) == 0 {
		c.vals[n.out(0)] = d
		return nil
	}
	x, err := c.mat(d)
	if err != nil {
		return err
	}
	v, err := c.add(n.label, l, []string{x}, nil)
	if err != nil {
		return err
	}
	c.vals[n.out(0)] = c.like(v, d.batch)
	return nil
}

func (c *converter) pad(n *node) error {
	d, err := c.dynIn(n, 0)
	if err != nil {
		return err
	}
	r := len(d.shape)
	var pads []int64
	value := float32(n.float("value", 0))
	if n.in(1) != "" {
		pv, err := c.constIn(n, 1, "pads")
		if err != nil {
			return err
		}
		pads = pv.ints()
		if v, err := c.optConst(n, 2, "constant_value"); err != nil {
			return err
		} else if v != nil && v.size() > 0 {
			value = float32(v.floats()[0])
		}
	} else {
		pads = n.ints("pads")
		if pads == nil {
			pads = n.ints("paddings")
		}
	}
	full := make([]int64, 2*r)
	if n.in(3) != "" {
		av, err := c.constIn(n, 3, "axes")
		if err != nil {
			return err
		}
		axes := av.ints()
		if len(pads) != 2*len(axes) {
			return fmt.Errorf("%d pads for %d axes", len(pads), len(axes))
		}
		for k, a := range axes {
			ax, err := normAxis(a, r)
			if err != nil {
				return err
			}
			full[ax], full[ax+r] = pads[k], pads[k+len(axes)]
		}
	} else {
		if len(pads) != 2*r {
			return fmt.Errorf("%d pads for rank %d", len(pads), r)
		}
		copy(full, pads)
	}
	mode := ir.PadMode(n.str("mode", "constant"))
	if mode != ir.PadConstant && mode != ir.PadReflect && mode != ir.PadEdge {
		return fmt.Errorf("Pad mode %q is not supported", mode)
	}
	first := -1
	for k := 0; k < r; k++ {
		if full[k] < 0 || full[k+r] < 0 {
			return fmt.Errorf("negative pads (cropping) %v are not supported", pads)
		}
		if full[k] != 0 || full[k+r] != 0 {
			if k == d.batch {
				return &BatchAxisError{What: "Pad"}
			}
			if first < 0 {
				first = k
			}
		}
	}
	if first < 0 {
		c.vals[n.out(0)] = d
		return nil
	}
	if d.batch > first {
		return &BatchAxisError{What: "Pad (axes before the batch)"}
	}
	l := &ir.Pad{Rank: r - first, Mode: mode, Value: value}
	var begins, endsP []int
	for k := first; k < r; k++ {
		begins, endsP = append(begins, int(full[k])), append(endsP, int(full[k+r]))
	}
	l.Pads = append(begins, endsP...)
	x, err := c.mat(d)
	if err != nil {
		return err
	}
	v, err := c.add(n.label, l, []string{x}, nil)
	if err != nil {
		return err
	}
	c.vals[n.out(0)] = c.like(v, d.batch)
	return nil
}

// expand broadcasts a computed value by multiplying it with ones.
func (c *converter) expand(n *node) error {
	d, err := c.dynIn(n, 0)
	if err != nil {
		return err
	}
	tv, err := c.constIn(n, 1, "shape")
	if err != nil {
		return err
	}
	t := tv.ints()
	if len(t) > len(d.shape) {
		return fmt.Errorf("Expand to a higher rank moves the batch axis")
	}
	target := make([]int, len(d.shape))
	off := len(d.shape) - len(t)
	for k := range target {
		target[k] = 1
		if k >= off {
			v := t[k-off]
			if v == batchSym || v == unknownSym || k == d.batch {
				v = 1
			}
			if v < 0 || v > math.MaxInt32 {
				return fmt.Errorf("Expand to %v", t)
			}
			target[k] = int(v)
		}
	}
	ish := d.irShape()
	probe := &dyn{shape: target, batch: d.batch}
	tir := probe.irShape()
	outIR, err := bcast(ish, tir)
	if err != nil {
		return err
	}
	if ir.SameShape(outIR, ish) {
		c.vals[n.out(0)] = d
		return nil
	}
	x, err := c.mat(d)
	if err != nil {
		return err
	}
	if err := c.bound(outIR); err != nil {
		return err
	}
	ones := make([]float32, prod(outIR))
	for k := range ones {
		ones[k] = 1
	}
	cv, err := c.add(n.label+"/ones", &ir.Constant{Shape: outIR}, nil, map[string]*ir.Tensor{"value": tensorOf(outIR, ones)})
	if err != nil {
		return err
	}
	v, err := c.add(n.label, &ir.Merge{Op: ir.MergeMultiply}, []string{x, cv}, nil)
	if err != nil {
		return err
	}
	c.vals[n.out(0)] = c.like(v, d.batch)
	return nil
}

// tile imports the Tile that repeats a [N, 1, F] value n times along axis
// 1 (exporters/onnx writes RepeatVector as Unsqueeze + Tile) as a
// RepeatVector; other tilings are refused.
func (c *converter) tile(n *node) error {
	d, err := c.dynIn(n, 0)
	if err != nil {
		return err
	}
	rv, err := c.constIn(n, 1, "repeats")
	if err != nil {
		return err
	}
	reps, ish := rv.ints(), d.irShape()
	if d.batch != 0 || len(reps) != 3 || reps[0] != 1 || reps[2] != 1 || len(ish) != 2 || ish[0] != 1 ||
		reps[1] < 1 || reps[1] > math.MaxInt32 {
		return c.tileAxes(n, d, reps)
	}
	x := d.v
	if v := c.g.Vertex(x); v != nil && len(v.Inputs) == 1 && ir.SameShape(c.irShapes[v.Inputs[0]], ish[1:]) {
		if _, ok := v.Layer.(*ir.Reshape); ok {
			x = v.Inputs[0] // the Unsqueeze before the Tile (pruned when unused)
		}
	}
	if !ir.SameShape(c.irShapes[x], ish[1:]) {
		if x, err = c.add(d.v+"/flat", &ir.Reshape{Shape: ish[1:]}, []string{d.v}, nil); err != nil {
			return err
		}
	}
	return c.addOut(n, 0, n.label, &ir.RepeatVector{N: int(reps[1])}, []string{x}, nil)
}

// tileAxes imports a Tile that leaves the batch axis alone as an ir.Tile.
func (c *converter) tileAxes(n *node, d *dyn, reps []int64) error {
	if len(reps) != len(d.shape) || reps[d.batch] != 1 {
		return fmt.Errorf("Tile repeats %v of a value of shape %v: repeating the batch axis is not supported", reps, d.shape)
	}
	var r []int
	for k, v := range reps {
		if v < 1 || v > math.MaxInt32 {
			return fmt.Errorf("Tile repeats %v", reps)
		}
		if k != d.batch {
			r = append(r, int(v))
		}
	}
	out, err := (&ir.Tile{Repeats: r}).OutputShape([][]int{d.irShape()})
	if err != nil {
		return err
	}
	if err := c.bound(out); err != nil {
		return err
	}
	x, err := c.mat(d)
	if err != nil {
		return err
	}
	v, err := c.add(n.label, &ir.Tile{Repeats: r}, []string{x}, nil)
	if err != nil {
		return err
	}
	c.vals[n.out(0)] = c.like(v, d.batch)
	return nil
}

func (c *converter) depthToSpace(n *node) error {
	_, x, err := c.batchFirst(n, 0)
	if err != nil {
		return err
	}
	return c.addOut(n, 0, n.label, &ir.DepthToSpace{Block: int(n.int("blocksize", 0)), Mode: n.str("mode", "DCR")}, []string{x}, nil)
}

func (c *converter) spaceToDepth(n *node) error {
	_, x, err := c.batchFirst(n, 0)
	if err != nil {
		return err
	}
	return c.addOut(n, 0, n.label, &ir.SpaceToDepth{Block: int(n.int("blocksize", 0))}, []string{x}, nil)
}

func (c *converter) reduce(n *node, op string) error {
	d, err := c.dynIn(n, 0)
	if err != nil {
		return err
	}
	axes, err := c.axesOf(n, 1)
	if err != nil {
		return err
	}
	if len(axes) == 0 {
		if n.int("noop_with_empty_axes", 0) == 1 {
			c.vals[n.out(0)] = d
			return nil
		}
		return &BatchAxisError{What: n.GetOpType() + " over all axes"}
	}
	l := &ir.Reduce{Op: op, KeepDims: n.int("keepdims", 1) == 1}
	batch := d.batch
	for _, a := range axes {
		ia, err := c.irAxis(d, a, n.GetOpType())
		if err != nil {
			return err
		}
		l.Axes = append(l.Axes, ia)
		if oa, _ := normAxis(a, len(d.shape)); oa < d.batch && !l.KeepDims {
			batch--
		}
	}
	x, err := c.mat(d)
	if err != nil {
		return err
	}
	v, err := c.add(n.label, l, []string{x}, nil)
	if err != nil {
		return err
	}
	c.vals[n.out(0)] = c.like(v, batch)
	return nil
}

// expandToBatch imports Expand(initializer, [N, ...]) with the batch
// symbolic, where the initializer has size 1 on the batch axis: a learned
// value repeated for every example (PyTorch's class_token.expand(n, -1, -1)).
// It becomes a trainable Constant. ok is false when the node is not of
// that form (it is then folded as usual).
func (c *converter) expandToBatch(n *node) (ok bool, err error) {
	x, t := c.consts[n.in(0)], c.consts[n.in(1)]
	if x == nil || t == nil || x.isInt || !t.isInt {
		return false, nil
	}
	target := t.ints()
	if len(target) != len(x.shape) || len(target) < 2 || target[0] != batchSym || x.shape[0] != 1 {
		return false, nil
	}
	for k, v := range target[1:] {
		if v != 1 && v != -1 && int(v) != x.shape[k+1] {
			return false, nil // broadcasts more than the batch axis
		}
	}
	shape := append([]int(nil), x.shape[1:]...)
	v, err := c.add(n.label, &ir.Constant{Shape: shape, Trainable: true}, nil,
		map[string]*ir.Tensor{"value": tensorOf(shape, x.float32Copy())})
	if err != nil {
		return true, err
	}
	c.vals[n.out(0)] = &dyn{v: v, shape: withBatch(shape), batch: 0}
	return true, nil
}
