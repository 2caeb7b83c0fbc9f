package ir

import (
	"fmt"
	"sort"
	"strings"
)

// Element-wise, normalisation, reduction, constant and einsum tensor ops
// (see TensorOp): shapes are full, the batch is Batch wherever it is.

// Binary ops of TensorBinary. The comparisons and logic ops give 1 (true)
// or 0 (false) and pass no gradient; a logic op reads a nonzero input as
// true.
var tensorBinaryOps = map[string]bool{
	"add": true, "sub": true, "mul": true, "div": true, "pow": true, "max": true, "min": true,
	"equal": false, "less": false, "greater": false, "less_equal": false, "greater_equal": false,
	"and": false, "or": false, "xor": false,
}

// TensorBinaryDifferentiable reports whether a TensorBinary op passes a
// gradient (the arithmetic ones do, comparisons and logic do not).
func TensorBinaryDifferentiable(op string) bool { return tensorBinaryOps[op] }

// TensorBinary combines two computed tensors element-wise with NumPy
// broadcasting of their full shapes (ranks may differ).
type TensorBinary struct {
	Op string `json:"op"`
}

func (*TensorBinary) Kind() string { return "TensorBinary" }
func (*TensorBinary) FullShapes()  {}
func (t *TensorBinary) OutputShape(in [][]int) ([]int, error) {
	if err := need(in, 2, "TensorBinary"); err != nil {
		return nil, err
	}
	if _, ok := tensorBinaryOps[t.Op]; !ok {
		return nil, fmt.Errorf("TensorBinary op %q (want add, sub, mul, div, pow, max, min, equal, less, greater, less_equal, greater_equal, and, or or xor)", t.Op)
	}
	return BroadcastFull(in[0], in[1])
}
func (*TensorBinary) Params([][]int) []ParamSpec { return nil }

// TensorWhere selects x where cond is nonzero and y elsewhere (ONNX
// Where); the three inputs (cond, x, y) broadcast.
type TensorWhere struct{}

func (*TensorWhere) Kind() string { return "TensorWhere" }
func (*TensorWhere) FullShapes()  {}
func (*TensorWhere) OutputShape(in [][]int) ([]int, error) {
	if err := need(in, 3, "TensorWhere"); err != nil {
		return nil, err
	}
	s, err := BroadcastFull(in[0], in[1])
	if err != nil {
		return nil, fmt.Errorf("TensorWhere: %w", err)
	}
	if s, err = BroadcastFull(s, in[2]); err != nil {
		return nil, fmt.Errorf("TensorWhere: %w", err)
	}
	return s, nil
}
func (*TensorWhere) Params([][]int) []ParamSpec { return nil }

// TensorUnary applies an element-wise function (as Unary) to a value of
// any full shape.
type TensorUnary struct {
	Op       UnaryOp `json:"op"`
	Exponent float32 `json:"exponent,omitempty"`
}

func (*TensorUnary) Kind() string { return "TensorUnary" }
func (*TensorUnary) FullShapes()  {}
func (t *TensorUnary) OutputShape(in [][]int) ([]int, error) {
	if _, err := (&Unary{Op: t.Op}).OutputShape(in); err != nil {
		return nil, err
	}
	return same("TensorUnary", in)
}
func (*TensorUnary) Params([][]int) []ParamSpec { return nil }

// TensorActivation applies an element-wise activation (not softmax: that
// is TensorSoftmax) to a value of any full shape.
type TensorActivation struct {
	Activation Activation `json:"activation"`
}

func (*TensorActivation) Kind() string { return "TensorActivation" }
func (*TensorActivation) FullShapes()  {}
func (t *TensorActivation) OutputShape(in [][]int) ([]int, error) {
	if err := t.Activation.validate(); err != nil {
		return nil, err
	}
	if k := t.Activation.Kind; k == ActSoftmax || k == ActLogSoftmax {
		return nil, fmt.Errorf("TensorActivation %s: use TensorSoftmax", k)
	}
	return same("TensorActivation", in)
}
func (*TensorActivation) Params([][]int) []ParamSpec { return nil }

// tensorAxis normalises an axis of a full shape of the given rank.
func tensorAxis(kind string, axis, rank int) (int, error) {
	a := axis
	if a < 0 {
		a += rank
	}
	if a < 0 || a >= rank {
		return 0, fmt.Errorf("%s axis %d out of range for rank %d", kind, axis, rank)
	}
	return a, nil
}

// TensorSoftmax is softmax (log-softmax with Log) along one axis of the
// full shape.
type TensorSoftmax struct {
	Axis int  `json:"axis"`
	Log  bool `json:"log,omitempty"`
}

func (*TensorSoftmax) Kind() string { return "TensorSoftmax" }
func (*TensorSoftmax) FullShapes()  {}
func (t *TensorSoftmax) OutputShape(in [][]int) ([]int, error) {
	if err := need(in, 1, "TensorSoftmax"); err != nil {
		return nil, err
	}
	if _, err := tensorAxis("TensorSoftmax", t.Axis, len(in[0])); err != nil {
		return nil, err
	}
	return same("TensorSoftmax", in)
}
func (*TensorSoftmax) Params([][]int) []ParamSpec { return nil }

// TensorLayerNorm normalises over the axes Axis..last of the full shape
// (zero mean, unit variance, Epsilon added to the variance), without scale
// or offset: those are separate TensorBinary ops.
type TensorLayerNorm struct {
	Axis    int     `json:"axis"`
	Epsilon float32 `json:"epsilon"`
}

func (*TensorLayerNorm) Kind() string { return "TensorLayerNorm" }
func (*TensorLayerNorm) FullShapes()  {}
func (t *TensorLayerNorm) OutputShape(in [][]int) ([]int, error) {
	if err := need(in, 1, "TensorLayerNorm"); err != nil {
		return nil, err
	}
	if _, err := tensorAxis("TensorLayerNorm", t.Axis, len(in[0])); err != nil {
		return nil, err
	}
	if t.Epsilon < 0 {
		return nil, fmt.Errorf("TensorLayerNorm epsilon %v is negative", t.Epsilon)
	}
	return same("TensorLayerNorm", in)
}
func (*TensorLayerNorm) Params([][]int) []ParamSpec { return nil }

// TensorReduce reduces axes of the full shape (the batch axis too: the
// result is then batch-free). No Axes reduces every axis.
type TensorReduce struct {
	Op       string `json:"op"` // sum, mean, max, min, prod
	Axes     []int  `json:"axes,omitempty"`
	KeepDims bool   `json:"keep_dims,omitempty"`
}

func (*TensorReduce) Kind() string { return "TensorReduce" }
func (*TensorReduce) FullShapes()  {}

// Reduced marks the reduced axes of a full shape of the given rank.
func (t *TensorReduce) Reduced(rank int) ([]bool, error) {
	red := make([]bool, rank)
	if len(t.Axes) == 0 {
		for i := range red {
			red[i] = true
		}
	}
	for _, a := range t.Axes {
		n, err := tensorAxis("TensorReduce", a, rank)
		if err != nil {
			return nil, err
		}
		if red[n] {
			return nil, fmt.Errorf("TensorReduce axis %d given twice", a)
		}
		red[n] = true
	}
	return red, nil
}

func (t *TensorReduce) OutputShape(in [][]int) ([]int, error) {
	if err := need(in, 1, "TensorReduce"); err != nil {
		return nil, err
	}
	switch t.Op {
	case "sum", "mean", "max", "min", "prod":
	default:
		return nil, fmt.Errorf("TensorReduce op %q (want sum, mean, max, min or prod)", t.Op)
	}
	red, err := t.Reduced(len(in[0]))
	if err != nil {
		return nil, err
	}
	out := []int{}
	for i, d := range in[0] {
		switch {
		case !red[i]:
			out = append(out, d)
		case t.KeepDims:
			out = append(out, 1)
		}
	}
	return out, nil
}
func (*TensorReduce) Params([][]int) []ParamSpec { return nil }

// TensorConstant is a batch-free value (param "value" of shape Shape): a
// learned parameter when Trainable, fixed otherwise.
type TensorConstant struct {
	Shape     []int `json:"shape"`
	Trainable bool  `json:"trainable,omitempty"`
}

func (*TensorConstant) Kind() string { return "TensorConstant" }
func (*TensorConstant) FullShapes()  {}
func (t *TensorConstant) OutputShape(in [][]int) ([]int, error) {
	if len(in) != 0 {
		return nil, fmt.Errorf("TensorConstant takes no inputs")
	}
	for _, d := range t.Shape {
		if d < 1 {
			return nil, fmt.Errorf("TensorConstant shape %v: sizes must be positive", t.Shape)
		}
	}
	return append([]int{}, t.Shape...), nil
}
func (t *TensorConstant) Params([][]int) []ParamSpec {
	role := RoleConst
	if t.Trainable {
		role = RoleLearned
	}
	return []ParamSpec{spec("value", role, 0, 0, t.Shape...)}
}

// TensorEinsum is ONNX Einsum of one or two operands: each operand's axes
// are labelled by letters; letters missing from the output are summed.
// Without "->" the output is the letters used once, in alphabetical order.
// A letter stands for one size everywhere; "..." stands for the leading
// axes an operand has beyond its letters, broadcast NumPy-style.
type TensorEinsum struct {
	Equation string `json:"equation"`
}

func (*TensorEinsum) Kind() string { return "TensorEinsum" }
func (*TensorEinsum) FullShapes()  {}

// ellipsisRune is the first of the labels "..." expands to (runes no
// equation holds).
const ellipsisRune = 0x10000

// Terms parses the equation for operands of the given ranks into each
// operand's labels and the output's, "..." expanded into one label per
// axis it covers (runes from 0x10000, aligned from the right).
func (t *TensorEinsum) Terms(ranks []int) (ins []string, out string, err error) {
	eq := strings.ReplaceAll(t.Equation, " ", "")
	lhs, rhs, explicit := strings.Cut(eq, "->")
	ins = strings.Split(lhs, ",")
	if len(ins) < 1 || len(ins) > 2 {
		return nil, "", fmt.Errorf("TensorEinsum %q: %d operands (one or two are supported)", t.Equation, len(ins))
	}
	if len(ranks) != len(ins) {
		return nil, "", fmt.Errorf("TensorEinsum %q takes %d input(s), got %d", t.Equation, len(ins), len(ranks))
	}
	ell := 0 // axes "..." covers, the most of any operand
	for i, term := range ins {
		pre, post, has := strings.Cut(term, "...")
		if strings.Contains(post, "...") || strings.ContainsRune(pre+post, '.') {
			return nil, "", fmt.Errorf("TensorEinsum %q: a misplaced '.'", t.Equation)
		}
		if !has {
			continue
		}
		n := ranks[i] - len([]rune(pre+post))
		if n < 0 {
			return nil, "", fmt.Errorf("TensorEinsum %q: operand %d has rank %d, fewer axes than its letters", t.Equation, i, ranks[i])
		}
		ell = max(ell, n)
		ins[i] = pre + ellipsisLabels(ell-n, n) + post
	}
	count := map[rune]int{}
	for _, term := range ins {
		for _, r := range term {
			if r < ellipsisRune && !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
				return nil, "", fmt.Errorf("TensorEinsum %q: %q is not a letter", t.Equation, r)
			}
			count[r]++
		}
	}
	if !explicit {
		var once []string
		for r, n := range count {
			if n == 1 && r < ellipsisRune {
				once = append(once, string(r))
			}
		}
		sort.Strings(once)
		return ins, ellipsisLabels(0, ell) + strings.Join(once, ""), nil
	}
	pre, post, has := strings.Cut(rhs, "...")
	if has {
		rhs = pre + ellipsisLabels(0, ell) + post
	} else if ell > 0 {
		return nil, "", fmt.Errorf("TensorEinsum %q: the output drops the axes of \"...\"", t.Equation)
	}
	seen := map[rune]bool{}
	for _, r := range rhs {
		if count[r] == 0 {
			return nil, "", fmt.Errorf("TensorEinsum %q: output letter %q is in no operand", t.Equation, r)
		}
		if seen[r] {
			return nil, "", fmt.Errorf("TensorEinsum %q: output letter %q repeats", t.Equation, r)
		}
		seen[r] = true
	}
	return ins, rhs, nil
}

// ellipsisLabels are the labels of n ellipsis axes starting at axis from
// (of the longest ellipsis).
func ellipsisLabels(from, n int) string {
	rs := make([]rune, n)
	for k := range rs {
		rs[k] = rune(ellipsisRune + from + k)
	}
	return string(rs)
}

func ranksOf(in [][]int) []int {
	r := make([]int, len(in))
	for i, s := range in {
		r[i] = len(s)
	}
	return r
}

// Sizes maps each label to its size in the given full shapes; Batch is a
// size like any other, -1 matches anything, and an ellipsis axis of size 1
// broadcasts.
func (t *TensorEinsum) Sizes(in [][]int) (map[rune]int, error) {
	ins, _, err := t.Terms(ranksOf(in))
	if err != nil {
		return nil, err
	}
	size := map[rune]int{}
	for i, term := range ins {
		labels := []rune(term)
		if len(labels) != len(in[i]) {
			return nil, fmt.Errorf("TensorEinsum %q: operand %d has shape %s, rank %d, not %d", t.Equation, i, FormatShape(in[i]), len(in[i]), len(labels))
		}
		for k, r := range labels {
			d := in[i][k]
			s, ok := size[r]
			switch {
			case !ok || s == -1 || r >= ellipsisRune && s == 1:
				size[r] = d
			case d == s || d == -1 || r >= ellipsisRune && d == 1:
			default:
				return nil, fmt.Errorf("TensorEinsum %q: sizes %s and %s for one label", t.Equation, FormatShape([]int{s}), FormatShape([]int{d}))
			}
		}
	}
	return size, nil
}

func (t *TensorEinsum) OutputShape(in [][]int) ([]int, error) {
	size, err := t.Sizes(in)
	if err != nil {
		return nil, err
	}
	_, out, _ := t.Terms(ranksOf(in))
	shape := []int{}
	for _, r := range out {
		shape = append(shape, size[r])
	}
	return shape, nil
}
func (*TensorEinsum) Params([][]int) []ParamSpec { return nil }

func init() {
	Register("TensorBinary", func() Layer { return &TensorBinary{} })
	Register("TensorWhere", func() Layer { return &TensorWhere{} })
	Register("TensorUnary", func() Layer { return &TensorUnary{} })
	Register("TensorActivation", func() Layer { return &TensorActivation{} })
	Register("TensorSoftmax", func() Layer { return &TensorSoftmax{Axis: -1} })
	Register("TensorLayerNorm", func() Layer { return &TensorLayerNorm{Axis: -1, Epsilon: 1e-5} })
	Register("TensorReduce", func() Layer { return &TensorReduce{} })
	Register("TensorConstant", func() Layer { return &TensorConstant{} })
	Register("TensorEinsum", func() Layer { return &TensorEinsum{} })
}
