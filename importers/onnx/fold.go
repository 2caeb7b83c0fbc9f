package onnx

import (
	"fmt"
	"math"
)

// Symbolic entries of folded shape tensors: the batch size and any other
// size unknown at import.
const (
	batchSym   int64 = -1 << 62
	unknownSym int64 = -1 << 61
)

// foldable lists the ops evaluated at import when all inputs are constant.
var foldable = map[string]bool{}

var folders = map[string]func(c *converter, n *node, in []*cval) ([]*cval, error){
	"Constant":        foldConstant,
	"Identity":        func(c *converter, n *node, in []*cval) ([]*cval, error) { return in[:1], nil },
	"Dropout":         func(c *converter, n *node, in []*cval) ([]*cval, error) { return in[:1], nil },
	"Cast":            foldCast,
	"Gather":          foldGather,
	"Unsqueeze":       foldUnsqueeze,
	"Squeeze":         foldSqueeze,
	"Concat":          foldConcat,
	"Reshape":         foldReshape,
	"Flatten":         foldFlatten,
	"Transpose":       foldTranspose,
	"Slice":           foldSlice,
	"ConstantOfShape": foldConstantOfShape,
	"Expand":          foldExpand,
	"Range":           foldRange,
	"Where":           foldWhere,
	"Add":             binaryOp(func(a, b float64) float64 { return a + b }, func(a, b int64) int64 { return a + b }),
	"Sub":             binaryOp(func(a, b float64) float64 { return a - b }, func(a, b int64) int64 { return a - b }),
	"Mul":             binaryOp(func(a, b float64) float64 { return a * b }, func(a, b int64) int64 { return a * b }),
	"Div":             binaryOp(func(a, b float64) float64 { return a / b }, idiv),
	"Pow":             binaryOp(math.Pow, func(a, b int64) int64 { return int64(math.Pow(float64(a), float64(b))) }),
	"Min":             binaryOp(math.Min, func(a, b int64) int64 { return min(a, b) }),
	"Max":             binaryOp(math.Max, func(a, b int64) int64 { return max(a, b) }),
	"Equal":           compare(func(a, b float64) bool { return a == b }),
	"Less":            compare(func(a, b float64) bool { return a < b }),
	"Greater":         compare(func(a, b float64) bool { return a > b }),
	"Sqrt":            unaryF(math.Sqrt),
	"Exp":             unaryF(math.Exp),
	"Log":             unaryF(math.Log),
	"Floor":           unaryF(math.Floor),
	"Ceil":            unaryF(math.Ceil),
	"Reciprocal":      unaryF(func(x float64) float64 { return 1 / x }),
	"Erf":             unaryF(math.Erf),
	"Tanh":            unaryF(math.Tanh),
	"Sigmoid":         unaryF(func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }),
	"Relu":            unaryF(func(x float64) float64 { return math.Max(x, 0) }),
	"Neg":             unaryKeep(func(x float64) float64 { return -x }, func(x int64) int64 { return -x }),
	"Abs":             unaryKeep(math.Abs, func(x int64) int64 { return max(x, -x) }),
	"Not": func(c *converter, n *node, in []*cval) ([]*cval, error) {
		out := make([]int64, in[0].size())
		for k, v := range in[0].ints() {
			if v == 0 {
				out[k] = 1
			}
		}
		return []*cval{intsCval(in[0].shape, out)}, nil
	},
}

func init() {
	for k := range folders {
		foldable[k] = true
	}
}

func idiv(a, b int64) int64 {
	if b == 0 {
		return 0
	}
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q-- // floor, as numpy and ONNX do for integers
	}
	return q
}

func (c *converter) fold(n *node) error {
	in := make([]*cval, len(n.GetInput()))
	for k, name := range n.GetInput() {
		if name != "" {
			in[k] = c.consts[name]
		}
	}
	if len(in) == 0 && n.GetOpType() != "Constant" {
		return fmt.Errorf("no inputs")
	}
	if len(in) > 0 && in[0] == nil && n.GetOpType() != "Constant" {
		return fmt.Errorf("missing first input")
	}
	out, err := folders[n.GetOpType()](c, n, in)
	if err != nil {
		return err
	}
	for k, o := range out {
		if k >= len(n.GetOutput()) {
			break
		}
		if o.size() > c.limit {
			return fmt.Errorf("folded constant of %d values is larger than the model file allows", o.size())
		}
		c.consts[n.out(k)] = o
	}
	return nil
}

// shapeOf folds Shape of a computed value into a constant with symbolic
// batch (and unknown) sizes.
func (c *converter) shapeOf(n *node) error {
	var shape []int
	batch := -1
	if cv, ok := c.consts[n.in(0)]; ok {
		shape = cv.shape
	} else {
		d, err := c.rawIn(n, 0)
		if err != nil {
			return err
		}
		shape, batch = d.shape, d.batch
	}
	out := make([]int64, len(shape))
	for k, s := range shape {
		switch {
		case k == batch:
			out[k] = batchSym
		case s < 0:
			out[k] = unknownSym
		default:
			out[k] = int64(s)
		}
	}
	r := int64(len(out))
	start, end := n.int("start", 0), n.int("end", r)
	if start < 0 {
		start += r
	}
	if end < 0 {
		end += r
	}
	start, end = min(max(start, 0), r), min(max(end, 0), r)
	if end < start {
		end = start
	}
	out = out[start:end]
	c.consts[n.out(0)] = intsCval([]int{len(out)}, out)
	return nil
}

func foldConstant(c *converter, n *node, _ []*cval) ([]*cval, error) {
	if a := n.attr("value"); a != nil && a.GetT() != nil {
		v, err := c.rd.decode(a.GetT())
		if err != nil {
			return nil, err
		}
		return []*cval{v}, nil
	}
	if a := n.attr("value_float"); a != nil {
		return []*cval{floatCval([]int{}, []float64{float64(a.GetF())})}, nil
	}
	if a := n.attr("value_floats"); a != nil {
		f := make([]float64, len(a.GetFloats()))
		for k, v := range a.GetFloats() {
			f[k] = float64(v)
		}
		return []*cval{floatCval([]int{len(f)}, f)}, nil
	}
	if a := n.attr("value_int"); a != nil {
		return []*cval{intsCval([]int{}, []int64{a.GetI()})}, nil
	}
	if a := n.attr("value_ints"); a != nil {
		return []*cval{intsCval([]int{len(a.GetInts())}, append([]int64(nil), a.GetInts()...))}, nil
	}
	return nil, fmt.Errorf("Constant without a supported value attribute")
}

func foldCast(c *converter, n *node, in []*cval) ([]*cval, error) {
	to := int32(n.int("to", dtFloat))
	x := in[0]
	switch {
	case isFloatType(to):
		return []*cval{floatCval(x.shape, x.floats())}, nil
	case to == dtBool:
		out := make([]int64, x.size())
		for k, v := range x.floats() {
			if v != 0 {
				out[k] = 1
			}
		}
		return []*cval{intsCval(x.shape, out)}, nil
	case elemSize(to) > 0 && to != dtString:
		return []*cval{intsCval(x.shape, x.ints())}, nil
	}
	return nil, fmt.Errorf("Cast to data type %d", to)
}

func strides(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for k := len(shape) - 1; k >= 0; k-- {
		s[k] = acc
		acc *= shape[k]
	}
	return s
}

// gatherIdx builds the flat source index of every output element.
type picker func(dst int) int

func apply(x *cval, shape []int, pick picker) *cval {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if x.isInt {
		out := make([]int64, n)
		for k := range out {
			out[k] = x.i[pick(k)]
		}
		return intsCval(shape, out)
	}
	if x.f32 != nil {
		out := make([]float32, n)
		for k := range out {
			out[k] = x.f32[pick(k)]
		}
		return &cval{shape: shape, f32: out}
	}
	out := make([]float64, n)
	for k := range out {
		out[k] = x.f[pick(k)]
	}
	return floatCval(shape, out)
}

func normAxis(a int64, r int) (int, error) {
	if a < 0 {
		a += int64(r)
	}
	if a < 0 || a >= int64(r) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", a, r)
	}
	return int(a), nil
}

func foldGather(c *converter, n *node, in []*cval) ([]*cval, error) {
	if len(in) < 2 || in[1] == nil {
		return nil, fmt.Errorf("Gather needs indices")
	}
	x, idx := in[0], in[1].ints()
	if len(x.shape) == 0 {
		return nil, fmt.Errorf("Gather on a scalar")
	}
	ax, err := normAxis(n.int("axis", 0), len(x.shape))
	if err != nil {
		return nil, err
	}
	dim := x.shape[ax]
	for k, v := range idx {
		if v < 0 {
			v += int64(dim)
		}
		if v < 0 || v >= int64(dim) {
			return nil, fmt.Errorf("Gather index %d out of range %d", idx[k], dim)
		}
		idx[k] = v
	}
	outShape := append(append(append([]int{}, x.shape[:ax]...), in[1].shape...), x.shape[ax+1:]...)
	if err := c.bound(outShape); err != nil {
		return nil, err
	}
	inner := 1
	for _, d := range x.shape[ax+1:] {
		inner *= d
	}
	ni := len(idx)
	return []*cval{apply(x, outShape, func(dst int) int {
		o := dst / (ni * inner)
		r := dst % (ni * inner)
		j, i := r/inner, r%inner
		return (o*dim+int(idx[j]))*inner + i
	})}, nil
}

// axesOf reads axes from input i (newer opsets) or the "axes" attribute.
func (c *converter) axesOf(n *node, i int) ([]int64, error) {
	if n.in(i) != "" {
		v, ok := c.consts[n.in(i)]
		if !ok {
			return nil, fmt.Errorf("axes must be constant")
		}
		return v.ints(), nil
	}
	return n.ints("axes"), nil
}

func unsqueezeShape(shape []int, axes []int64) ([]int, error) {
	r := len(shape) + len(axes)
	ins := make([]bool, r)
	for _, a := range axes {
		k, err := normAxis(a, r)
		if err != nil {
			return nil, err
		}
		if ins[k] {
			return nil, fmt.Errorf("repeated axis %d", a)
		}
		ins[k] = true
	}
	out := make([]int, 0, r)
	j := 0
	for k := 0; k < r; k++ {
		if ins[k] {
			out = append(out, 1)
		} else {
			if j >= len(shape) {
				return nil, fmt.Errorf("bad axes %v", axes)
			}
			out = append(out, shape[j])
			j++
		}
	}
	return out, nil
}

func squeezeShape(shape []int, axes []int64) ([]int, error) {
	drop := make([]bool, len(shape))
	if len(axes) == 0 {
		for k, s := range shape {
			drop[k] = s == 1
		}
	}
	for _, a := range axes {
		k, err := normAxis(a, len(shape))
		if err != nil {
			return nil, err
		}
		if shape[k] != 1 && shape[k] != -1 {
			return nil, fmt.Errorf("Squeeze of axis %d of size %d", a, shape[k])
		}
		drop[k] = true
	}
	var out []int
	for k, s := range shape {
		if !drop[k] {
			out = append(out, s)
		}
	}
	return out, nil
}

// reshaped shares x's values; the right to hand float32 values to an
// ir.Tensor without a copy passes to the result.
func reshaped(x *cval, shape []int) *cval {
	r := &cval{shape: shape, f: x.f, f32: x.f32, i: x.i, isInt: x.isInt, lent: x.lent, shared: true}
	x.lent, x.shared = true, true
	return r
}

func foldUnsqueeze(c *converter, n *node, in []*cval) ([]*cval, error) {
	axes, err := c.axesOf(n, 1)
	if err != nil {
		return nil, err
	}
	s, err := unsqueezeShape(in[0].shape, axes)
	if err != nil {
		return nil, err
	}
	return []*cval{reshaped(in[0], s)}, nil
}

func foldSqueeze(c *converter, n *node, in []*cval) ([]*cval, error) {
	axes, err := c.axesOf(n, 1)
	if err != nil {
		return nil, err
	}
	s, err := squeezeShape(in[0].shape, axes)
	if err != nil {
		return nil, err
	}
	return []*cval{reshaped(in[0], s)}, nil
}

func foldConcat(c *converter, n *node, in []*cval) ([]*cval, error) {
	x0 := in[0]
	if len(x0.shape) == 0 {
		return nil, fmt.Errorf("Concat of scalars")
	}
	ax, err := normAxis(n.int("axis", 0), len(x0.shape))
	if err != nil {
		return nil, err
	}
	isInt := true
	for _, x := range in {
		if x == nil || len(x.shape) != len(x0.shape) {
			return nil, fmt.Errorf("Concat of different ranks")
		}
		isInt = isInt && x.isInt
	}
	outer := 1
	for _, d := range x0.shape[:ax] {
		outer *= d
	}
	shape := append([]int{}, x0.shape...)
	shape[ax] = 0
	for _, x := range in {
		shape[ax] += x.shape[ax]
	}
	var fo []float64
	var io []int64
	var fs [][]float64
	var is [][]int64
	for _, x := range in {
		if isInt {
			is = append(is, x.ints())
		} else {
			fs = append(fs, x.floats())
		}
	}
	for o := 0; o < outer; o++ {
		for k, x := range in {
			chunk := x.size() / max(outer, 1)
			if isInt {
				io = append(io, is[k][o*chunk:(o+1)*chunk]...)
			} else {
				fo = append(fo, fs[k][o*chunk:(o+1)*chunk]...)
			}
		}
	}
	if isInt {
		return []*cval{intsCval(shape, io)}, nil
	}
	return []*cval{floatCval(shape, fo)}, nil
}

// reshapeTarget resolves 0 (copy) and -1 (infer) in a Reshape target.
func reshapeTarget(in []int, t []int64, allowZero bool) ([]int, error) {
	out := make([]int, len(t))
	known, infer := 1, -1
	for k, v := range t {
		switch {
		case v == 0 && !allowZero:
			if k >= len(in) {
				return nil, fmt.Errorf("Reshape copies axis %d of a rank-%d tensor", k, len(in))
			}
			out[k] = in[k]
			known *= in[k]
		case v == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("Reshape target %v has two -1", t)
			}
			infer = k
		case v < 0 || v > 1<<31:
			return nil, fmt.Errorf("Reshape target %v has a bad size", t)
		default:
			out[k] = int(v)
			known *= int(v)
		}
	}
	total := 1
	for _, d := range in {
		total *= d
	}
	if infer >= 0 {
		if known == 0 || total%known != 0 {
			return nil, fmt.Errorf("Reshape %v to %v", in, t)
		}
		out[infer] = total / known
	} else if known != total {
		return nil, fmt.Errorf("Reshape %v to %v: sizes differ", in, t)
	}
	return out, nil
}

func foldReshape(c *converter, n *node, in []*cval) ([]*cval, error) {
	var t []int64
	if len(in) > 1 && in[1] != nil {
		t = in[1].ints()
	} else {
		t = n.ints("shape")
	}
	s, err := reshapeTarget(in[0].shape, t, n.int("allowzero", 0) == 1)
	if err != nil {
		return nil, err
	}
	return []*cval{reshaped(in[0], s)}, nil
}

func foldFlatten(c *converter, n *node, in []*cval) ([]*cval, error) {
	s := in[0].shape
	ax, err := normAxis(n.int("axis", 1), len(s)+1)
	if err != nil {
		return nil, err
	}
	a, b := 1, 1
	for k, d := range s {
		if k < ax {
			a *= d
		} else {
			b *= d
		}
	}
	return []*cval{reshaped(in[0], []int{a, b})}, nil
}

func permOf(n *node, r int) ([]int, error) {
	p := n.ints("perm")
	out := make([]int, r)
	if len(p) == 0 {
		for k := range out {
			out[k] = r - 1 - k
		}
		return out, nil
	}
	if len(p) != r {
		return nil, fmt.Errorf("perm %v for rank %d", p, r)
	}
	seen := make([]bool, r)
	for k, v := range p {
		if v < 0 || v >= int64(r) || seen[v] {
			return nil, fmt.Errorf("perm %v is not a permutation", p)
		}
		seen[v] = true
		out[k] = int(v)
	}
	return out, nil
}

func transposeC(x *cval, perm []int) *cval {
	r := len(x.shape)
	shape := make([]int, r)
	for k, p := range perm {
		shape[k] = x.shape[p]
	}
	ist, ost := strides(x.shape), strides(shape)
	return apply(x, shape, func(dst int) int {
		src := 0
		for k := 0; k < r; k++ {
			i := dst / ost[k] % max(shape[k], 1)
			src += i * ist[perm[k]]
		}
		return src
	})
}

func foldTranspose(c *converter, n *node, in []*cval) ([]*cval, error) {
	perm, err := permOf(n, len(in[0].shape))
	if err != nil {
		return nil, err
	}
	return []*cval{transposeC(in[0], perm)}, nil
}

// sliceArgs reads Slice's starts, ends, axes and steps from inputs (opset
// 10+) or attributes (opset < 10).
func (c *converter) sliceArgs(n *node, rank int) (starts, ends, axes, steps []int64, err error) {
	if len(n.GetInput()) > 1 {
		get := func(i int) ([]int64, error) {
			if n.in(i) == "" {
				return nil, nil
			}
			v, ok := c.consts[n.in(i)]
			if !ok {
				return nil, fmt.Errorf("Slice input %d must be constant", i)
			}
			return v.ints(), nil
		}
		if starts, err = get(1); err != nil {
			return
		}
		if ends, err = get(2); err != nil {
			return
		}
		if axes, err = get(3); err != nil {
			return
		}
		if steps, err = get(4); err != nil {
			return
		}
	} else {
		starts, ends, axes = n.ints("starts"), n.ints("ends"), n.ints("axes")
	}
	if len(starts) != len(ends) {
		err = fmt.Errorf("Slice with %d starts and %d ends", len(starts), len(ends))
		return
	}
	if axes == nil {
		for k := range starts {
			axes = append(axes, int64(k))
		}
	}
	if steps == nil {
		for range starts {
			steps = append(steps, 1)
		}
	}
	if len(axes) != len(starts) || len(steps) != len(starts) {
		err = fmt.Errorf("Slice argument lengths differ")
		return
	}
	for k, a := range axes {
		var ax int
		if ax, err = normAxis(a, rank); err != nil {
			return
		}
		axes[k] = int64(ax)
		if steps[k] == 0 {
			err = fmt.Errorf("Slice step 0")
			return
		}
	}
	return
}

// sliceRange clamps one axis as ONNX Slice does.
func sliceRange(start, end, step int64, dim int) (int64, int64) {
	d := int64(dim)
	if start < 0 {
		start += d
	}
	if end < 0 {
		end += d
	}
	if step > 0 {
		start, end = min(max(start, 0), d), min(max(end, 0), d)
	} else {
		start, end = min(max(start, -1), d-1), min(max(end, -1), d-1)
	}
	return start, end
}

func foldSlice(c *converter, n *node, in []*cval) ([]*cval, error) {
	x := in[0]
	starts, ends, axes, steps, err := c.sliceArgs(n, len(x.shape))
	if err != nil {
		return nil, err
	}
	r := len(x.shape)
	st, sp := make([]int64, r), make([]int64, r)
	shape := append([]int{}, x.shape...)
	for k := range sp {
		sp[k] = 1
	}
	for k, a := range axes {
		s, e := sliceRange(starts[k], ends[k], steps[k], x.shape[a])
		cnt := int64(0)
		if steps[k] > 0 && e > s {
			cnt = (e - s + steps[k] - 1) / steps[k]
		} else if steps[k] < 0 && s > e {
			cnt = (s - e - steps[k] - 1) / -steps[k]
		}
		st[a], sp[a], shape[a] = s, steps[k], int(cnt)
	}
	ist, ost := strides(x.shape), strides(shape)
	return []*cval{apply(x, shape, func(dst int) int {
		src := 0
		for k := 0; k < r; k++ {
			i := int64(dst / ost[k] % max(shape[k], 1))
			src += int(st[k]+i*sp[k]) * ist[k]
		}
		return src
	})}, nil
}

func shapeFrom(v *cval, limit int) ([]int, error) {
	out := make([]int, v.size())
	n := 1
	for k, d := range v.ints() {
		if d < 0 || d > int64(limit) {
			return nil, fmt.Errorf("shape %v has a bad or symbolic size", v.ints())
		}
		out[k] = int(d)
		n *= max(int(d), 1)
		if n > limit {
			return nil, fmt.Errorf("shape %v is larger than the model file allows", v.ints())
		}
	}
	return out, nil
}

func foldConstantOfShape(c *converter, n *node, in []*cval) ([]*cval, error) {
	// A batch-sized fill (PyTorch's zero initial states) is kept with
	// size 1 on that axis; broadcasting gives the same values.
	dims := append([]int64{}, in[0].ints()...)
	for k, d := range dims {
		if d == batchSym {
			dims[k] = 1
		}
	}
	shape, err := shapeFrom(intsCval(in[0].shape, dims), c.limit)
	if err != nil {
		return nil, err
	}
	val := floatCval([]int{1}, []float64{0})
	if a := n.attr("value"); a != nil && a.GetT() != nil {
		if val, err = c.rd.decode(a.GetT()); err != nil {
			return nil, err
		}
		if val.size() != 1 {
			return nil, fmt.Errorf("ConstantOfShape value must hold one value")
		}
	}
	return []*cval{apply(val, shape, func(int) int { return 0 })}, nil
}

func bcast(a, b []int) ([]int, error) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for k := 0; k < n; k++ {
		x, y := 1, 1
		if j := len(a) - n + k; j >= 0 {
			x = a[j]
		}
		if j := len(b) - n + k; j >= 0 {
			y = b[j]
		}
		switch {
		case x == y || y == 1:
			out[k] = x
		case x == 1:
			out[k] = y
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	return out, nil
}

// bpick maps an output index of shape out to the flat index of x's shape.
func bpick(x, out []int) picker {
	xs, os := strides(x), strides(out)
	off := len(out) - len(x)
	return func(dst int) int {
		src := 0
		for k := range x {
			if x[k] == 1 {
				continue
			}
			i := dst / os[k+off] % out[k+off]
			src += i * xs[k]
		}
		return src
	}
}

func foldExpand(c *converter, n *node, in []*cval) ([]*cval, error) {
	if len(in) < 2 || in[1] == nil {
		return nil, fmt.Errorf("Expand needs a shape")
	}
	target, err := shapeFrom(in[1], c.limit)
	if err != nil {
		return nil, err
	}
	out, err := bcast(in[0].shape, target)
	if err != nil {
		return nil, err
	}
	if prod(out) > c.limit {
		return nil, fmt.Errorf("Expand to %v is larger than the model file allows", out)
	}
	return []*cval{apply(in[0], out, bpick(in[0].shape, out))}, nil
}

func foldRange(c *converter, n *node, in []*cval) ([]*cval, error) {
	if len(in) < 3 || in[1] == nil || in[2] == nil {
		return nil, fmt.Errorf("Range needs start, limit, delta")
	}
	s, l, d := in[0].floats()[0], in[1].floats()[0], in[2].floats()[0]
	if d == 0 {
		return nil, fmt.Errorf("Range delta 0")
	}
	cnt := int(math.Max(math.Ceil((l-s)/d), 0))
	if cnt > c.limit {
		return nil, fmt.Errorf("Range of %d values", cnt)
	}
	f := make([]float64, cnt)
	for k := range f {
		f[k] = s + float64(k)*d
	}
	v := floatCval([]int{cnt}, f)
	if in[0].isInt {
		v = intsCval(v.shape, v.ints())
	}
	return []*cval{v}, nil
}

func foldWhere(c *converter, n *node, in []*cval) ([]*cval, error) {
	if len(in) < 3 || in[1] == nil || in[2] == nil {
		return nil, fmt.Errorf("Where needs three inputs")
	}
	s, err := bcast(in[0].shape, in[1].shape)
	if err != nil {
		return nil, err
	}
	if s, err = bcast(s, in[2].shape); err != nil {
		return nil, err
	}
	if err := c.bound(s); err != nil {
		return nil, err
	}
	pc, pa, pb := bpick(in[0].shape, s), bpick(in[1].shape, s), bpick(in[2].shape, s)
	cond := in[0].ints()
	isInt := in[1].isInt && in[2].isInt
	nOut := prod(s)
	if isInt {
		out := make([]int64, nOut)
		for k := range out {
			if cond[pc(k)] != 0 {
				out[k] = in[1].i[pa(k)]
			} else {
				out[k] = in[2].i[pb(k)]
			}
		}
		return []*cval{intsCval(s, out)}, nil
	}
	a, b := in[1].floats(), in[2].floats()
	out := make([]float64, nOut)
	for k := range out {
		if cond[pc(k)] != 0 {
			out[k] = a[pa(k)]
		} else {
			out[k] = b[pb(k)]
		}
	}
	return []*cval{floatCval(s, out)}, nil
}

func binaryOp(f func(a, b float64) float64, g func(a, b int64) int64) func(c *converter, n *node, in []*cval) ([]*cval, error) {
	return func(c *converter, n *node, in []*cval) ([]*cval, error) {
		if len(in) != 2 || in[1] == nil {
			return nil, fmt.Errorf("%q needs two inputs", n.GetOpType())
		}
		a, b := in[0], in[1]
		s, err := bcast(a.shape, b.shape)
		if err == nil {
			err = c.bound(s)
		}
		if err != nil {
			return nil, err
		}
		pa, pb := bpick(a.shape, s), bpick(b.shape, s)
		nOut := prod(s)
		if a.isInt && b.isInt {
			out := make([]int64, nOut)
			for k := range out {
				x, y := a.i[pa(k)], b.i[pb(k)]
				if x == batchSym || y == batchSym || x == unknownSym || y == unknownSym {
					out[k] = unknownSym
					continue
				}
				out[k] = g(x, y)
			}
			return []*cval{intsCval(s, out)}, nil
		}
		af, bf := a.floats(), b.floats()
		out := make([]float64, nOut)
		for k := range out {
			out[k] = f(af[pa(k)], bf[pb(k)])
		}
		return []*cval{floatCval(s, out)}, nil
	}
}

func compare(f func(a, b float64) bool) func(c *converter, n *node, in []*cval) ([]*cval, error) {
	return func(c *converter, n *node, in []*cval) ([]*cval, error) {
		if len(in) != 2 || in[1] == nil {
			return nil, fmt.Errorf("%q needs two inputs", n.GetOpType())
		}
		s, err := bcast(in[0].shape, in[1].shape)
		if err == nil {
			err = c.bound(s)
		}
		if err != nil {
			return nil, err
		}
		pa, pb := bpick(in[0].shape, s), bpick(in[1].shape, s)
		af, bf := in[0].floats(), in[1].floats()
		out := make([]int64, prod(s))
		for k := range out {
			if f(af[pa(k)], bf[pb(k)]) {
				out[k] = 1
			}
		}
		return []*cval{intsCval(s, out)}, nil
	}
}

func unaryF(f func(float64) float64) func(c *converter, n *node, in []*cval) ([]*cval, error) {
	return func(c *converter, n *node, in []*cval) ([]*cval, error) {
		x := in[0].floats()
		out := make([]float64, len(x))
		for k, v := range x {
			out[k] = f(v)
		}
		return []*cval{floatCval(in[0].shape, out)}, nil
	}
}

func unaryKeep(f func(float64) float64, g func(int64) int64) func(c *converter, n *node, in []*cval) ([]*cval, error) {
	return func(c *converter, n *node, in []*cval) ([]*cval, error) {
		x := in[0]
		if x.isInt {
			out := make([]int64, len(x.i))
			for k, v := range x.i {
				out[k] = g(v)
			}
			return []*cval{intsCval(x.shape, out)}, nil
		}
		xf := x.floats()
		out := make([]float64, len(xf))
		for k, v := range xf {
			out[k] = f(v)
		}
		return []*cval{floatCval(x.shape, out)}, nil
	}
}

func prod(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// bound refuses a folded shape larger than the model file can justify.
func (c *converter) bound(shape []int) error {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return fmt.Errorf("negative size in %v", shape)
		}
		if d > 0 && n > c.limit/d {
			return fmt.Errorf("folded constant of shape %v is larger than the model file allows", shape)
		}
		n *= d
	}
	return nil
}
