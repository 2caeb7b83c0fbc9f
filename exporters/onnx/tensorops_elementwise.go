package onnx

import (
	"fmt"
	"slices"
	"strings"

	"github.com/retarget-dev/retarget/ir"
)

// The element-wise, normalisation, reduction, constant and einsum tensor
// ops. Values are float in the graph: comparisons and logic ops give ONNX
// bools, cast back to 0/1 floats; a logic op's or Where's condition is
// cast to bool (nonzero is true).

const (
	onnxFloat = 1
	onnxBool  = 9
)

func (b *builder) cast(suffix, in string, to int64) string {
	return b.op("Cast", suffix, []string{in}, b.tmp(suffix), aInt("to", to))
}

func emitTensorBinary(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	op := v.Layer.(*ir.TensorBinary).Op
	arith := map[string]string{"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow", "max": "Max", "min": "Min"}
	if o, ok := arith[op]; ok {
		b.op(o, "", ins, out)
		return nil
	}
	// the node that decides takes the vertex's name (the importer names the
	// vertex after it); the Cast to float follows
	var res string
	switch op {
	case "equal", "less", "greater":
		res = b.op(map[string]string{"equal": "Equal", "less": "Less", "greater": "Greater"}[op], "", ins, b.tmp("bool"))
	case "less_equal", "greater_equal":
		o := map[string]string{"less_equal": "LessOrEqual", "greater_equal": "GreaterOrEqual"}[op]
		if b.opset >= 12 {
			res = b.op(o, "", ins, b.tmp("bool"))
			break
		}
		// a <= b is not (a > b) and a >= b is not (a < b)
		strict := map[string]string{"less_equal": "Greater", "greater_equal": "Less"}[op]
		res = b.op("Not", "", []string{b.op(strict, "compare", ins, b.tmp("strict"))}, b.tmp("bool"))
	case "and", "or", "xor":
		x, y := b.cast("a_bool", ins[0], onnxBool), b.cast("b_bool", ins[1], onnxBool)
		res = b.op(map[string]string{"and": "And", "or": "Or", "xor": "Xor"}[op], "", []string{x, y}, b.tmp("bool"))
	default:
		return fmt.Errorf("TensorBinary op %q", op)
	}
	b.op("Cast", "to_float", []string{res}, out, aInt("to", onnxFloat))
	return nil
}

func emitTensorWhere(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	b.op("Where", "", []string{b.cast("cond", ins[0], onnxBool), ins[1], ins[2]}, out)
	return nil
}

func emitTensorUnary(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.TensorUnary)
	return b.unary(&ir.Unary{Op: l.Op, Exponent: l.Exponent}, ins[0], out)
}

func emitTensorActivation(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	return b.activation(v.Layer.(*ir.TensorActivation).Activation, "", ins[0], out, rank)
}

func emitTensorSoftmax(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.TensorSoftmax)
	op := "Softmax"
	if l.Log {
		op = "LogSoftmax"
	}
	ax := l.Axis
	if ax < 0 {
		ax += rank
	}
	if b.opset >= 13 || ax == rank-1 {
		b.op(op, "", ins, out, aInt("axis", int64(ax)))
		return nil
	}
	// before opset 13 Softmax flattens from its axis: move the axis last
	perm := make([]int, 0, rank)
	for k := 0; k < rank; k++ {
		if k != ax {
			perm = append(perm, k)
		}
	}
	perm = append(perm, ax)
	inv := make([]int, rank)
	for k, p := range perm {
		inv[p] = k
	}
	t := b.transpose("to_last", ins[0], perm, b.tmp("axis_last"))
	s := b.op(op, "", []string{t}, b.tmp("softmax"), aInt("axis", int64(rank-1)))
	b.transpose("from_last", s, inv, out)
	return nil
}

func emitTensorLayerNorm(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.TensorLayerNorm)
	ax := l.Axis
	if ax < 0 {
		ax += rank
	}
	norm := inShapes[0][ax:]
	known := true
	for _, d := range norm {
		known = known && d > 0
	}
	if b.opset >= 17 && known { // LayerNormalization needs a scale of the normalised shape
		ones := make([]float32, ir.NumElements(norm))
		for k := range ones {
			ones[k] = 1
		}
		scale := b.init("scale", norm, ones)
		b.fixed = append(b.fixed, scale)
		b.op("LayerNormalization", "", []string{ins[0], scale}, out,
			aInt("axis", int64(ax)), aFloat("epsilon", l.Epsilon))
		return nil
	}
	var axes []int
	for k := ax; k < rank; k++ {
		axes = append(axes, k)
	}
	b.normalise(ins[0], axes, l.Epsilon, "", out)
	return nil
}

func emitTensorReduce(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.TensorReduce)
	op := map[string]string{"sum": "ReduceSum", "mean": "ReduceMean", "max": "ReduceMax", "min": "ReduceMin", "prod": "ReduceProd"}[l.Op]
	red, err := l.Reduced(len(inShapes[0]))
	if err != nil {
		return err
	}
	var axes []int
	for a, r := range red {
		if r {
			axes = append(axes, a)
		}
	}
	b.reduce(op, "", ins[0], axes, out, l.KeepDims)
	return nil
}

func emitTensorConstant(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	t := b.param("value")
	b.op("Identity", "", []string{b.init("value", t.Shape, t.Data)}, out)
	if v.Layer.(*ir.TensorConstant).Trainable {
		b.learned = append(b.learned, out)
	}
	return nil
}

func emitTensorEinsum(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	l := v.Layer.(*ir.TensorEinsum)
	ranks := make([]int, len(inShapes))
	for i, sh := range inShapes {
		ranks[i] = len(sh)
	}
	terms, o, err := l.Terms(ranks)
	if err != nil {
		return err
	}
	if b.opset < 12 {
		return b.einsumByProducts(l.Equation, terms, o, ins, out)
	}
	eq, err := einsumLetters(append(terms, o))
	if err != nil {
		return fmt.Errorf("Einsum %q: %w", l.Equation, err)
	}
	b.op("Einsum", "", ins, out, aStr("equation", eq))
	return nil
}

// einsumLetters writes parsed terms (the last one the output) as an
// explicit equation, the labels of "..." as unused letters: ONNX wants an
// ellipsis to stand for as many axes in every operand.
func einsumLetters(terms []string) (string, error) {
	used := map[rune]bool{}
	for _, t := range terms {
		for _, r := range t {
			used[r] = true
		}
	}
	free := []rune{}
	for _, r := range "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" {
		if !used[r] {
			free = append(free, r)
		}
	}
	named := map[rune]rune{}
	var parts []string
	for _, t := range terms {
		rs := []rune(t)
		for k, r := range rs {
			if r < 'z'+1 {
				continue
			}
			if _, ok := named[r]; !ok {
				if len(free) == 0 {
					return "", fmt.Errorf("more axes than letters")
				}
				named[r], free = free[0], free[1:]
			}
			rs[k] = named[r]
		}
		parts = append(parts, string(rs))
	}
	n := len(parts) - 1
	return strings.Join(parts[:n], ",") + "->" + parts[n], nil
}

// einsumByProducts writes Einsum before opset 12: each operand is
// transposed to the order of all letters (output letters, then the summed
// ones) with size-1 axes for the letters it lacks, the operands multiplied
// (broadcasting) and the summed letters reduced.
func (b *builder) einsumByProducts(eq string, terms []string, o string, ins []string, out string) error {
	letters := []rune(o)
	seen := map[rune]bool{}
	for _, r := range o {
		seen[r] = true
	}
	for _, t := range terms {
		for _, r := range t {
			if !seen[r] {
				seen[r] = true
				letters = append(letters, r)
			}
		}
	}
	vals := make([]string, len(terms))
	for i, t := range terms {
		pos := map[rune]int{}
		for k, r := range []rune(t) {
			if _, dup := pos[r]; dup {
				return fmt.Errorf("Einsum %q takes a diagonal (letter %q repeats in an operand): that needs opset 12 or later", eq, r)
			}
			pos[r] = k
		}
		var perm, missing []int
		for k, r := range letters {
			if p, ok := pos[r]; ok {
				perm = append(perm, p)
			} else {
				missing = append(missing, k)
			}
		}
		v := b.transpose(fmt.Sprintf("order%d", i), ins[i], perm, b.tmp(fmt.Sprintf("ordered%d", i)))
		if len(missing) > 0 {
			v = b.withAxes("Unsqueeze", fmt.Sprintf("spread%d", i), v, missing, b.tmp(fmt.Sprintf("spread%d", i)), 13)
		}
		if slices.Contains(b.learned, ins[i]) { // the importer folds a constant's transpose
			b.learned = append(b.learned, v)
		}
		vals[i] = v
	}
	prod := vals[0]
	nOut := len([]rune(o))
	summed := make([]int, 0, len(letters)-nOut)
	for k := nOut; k < len(letters); k++ {
		summed = append(summed, k)
	}
	dst := out
	if len(summed) > 0 {
		dst = b.tmp("products")
	}
	switch {
	case len(vals) == 2:
		prod = b.op("Mul", "products", vals, dst)
	case len(summed) == 0:
		prod = b.op("Identity", "", vals, dst)
	}
	if len(summed) > 0 {
		b.reduce("ReduceSum", "", prod, summed, out, false)
	}
	return nil
}

func init() {
	register(&ir.TensorBinary{}, emitTensorBinary)
	register(&ir.TensorWhere{}, emitTensorWhere)
	register(&ir.TensorUnary{}, emitTensorUnary)
	register(&ir.TensorActivation{}, emitTensorActivation)
	register(&ir.TensorSoftmax{}, emitTensorSoftmax)
	register(&ir.TensorLayerNorm{}, emitTensorLayerNorm)
	register(&ir.TensorReduce{}, emitTensorReduce)
	register(&ir.TensorConstant{}, emitTensorConstant)
	register(&ir.TensorEinsum{}, emitTensorEinsum)
	decomposed["TensorEinsum"] = "before opset 12 written as Transpose, Unsqueeze, Mul and ReduceSum: comes back as those tensor ops"
	decomposed["TensorLayerNorm"] = "before opset 17 written as ReduceMean, Sub, Mul, Add, Sqrt and Div: comes back as those tensor ops"
}
