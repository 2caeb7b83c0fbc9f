package nn

import (
	"fmt"
	"math"

	"github.com/retarget-dev/retarget/ir"
)

// Element-wise tensor ops with NumPy broadcasting of runtime shapes (ranks
// may differ, the batch is wherever it is).

// bcast is the broadcast of some input shapes: the output shape and, per
// input, the source index of each output element (nil: same shape).
type bcast struct {
	inShs [][]int
	shape []int
	idx   [][]int32
}

// setup recomputes the maps when the input shapes changed.
func (b *bcast) setup(shapes ...[]int) {
	if len(b.inShs) == len(shapes) {
		same := true
		for i, s := range shapes {
			same = same && ir.SameShape(b.inShs[i], s)
		}
		if same {
			return
		}
	}
	b.inShs = b.inShs[:0]
	out := shapes[0]
	for _, s := range shapes {
		b.inShs = append(b.inShs, append([]int(nil), s...))
		o, err := ir.BroadcastFull(out, s)
		if err != nil {
			panic(err)
		}
		out = o
	}
	b.shape = append(b.shape[:0], out...)
	b.idx = make([][]int32, len(shapes))
	for i, s := range shapes {
		if ir.SameShape(s, out) {
			continue
		}
		padded := make([]int, len(out))
		for a := range padded {
			padded[a] = 1
		}
		copy(padded[len(out)-len(s):], s)
		full := broadcastIndex(out, padded)
		b.idx[i] = make([]int32, len(full))
		for k, v := range full {
			b.idx[i][k] = int32(v)
		}
	}
}

// at is the source index of output element k in input i.
func (b *bcast) at(i, k int) int {
	if ix := b.idx[i]; ix != nil {
		return int(ix[k])
	}
	return k
}

func boolF[F Float](c bool) F {
	if c {
		return 1
	}
	return 0
}

// binaryOp is TensorBinary.
type binaryOp[F Float] struct {
	op     string
	grad   bool
	need   [2]bool
	b      bcast
	x0, x1 *Mat[F]
	y      *Mat[F]
	dx     [2]*Mat[F]
	dIns   [2]*Mat[F]
}

func newTensorBinary[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	t := v.Layer.(*ir.TensorBinary)
	if _, err := t.OutputShape(in); err != nil {
		return nil, err
	}
	return &binaryOp[F]{op: t.Op, grad: ir.TensorBinaryDifferentiable(t.Op), need: [2]bool{true, true}}, nil
}

func (o *binaryOp[F]) SkipInputGrads(need []bool) { copy(o.need[:], need) }

func (o *binaryOp[F]) apply(a, b F) F {
	switch o.op {
	case "add":
		return a + b
	case "sub":
		return a - b
	case "mul":
		return a * b
	case "div":
		return a / b
	case "pow":
		if b == 2 {
			return a * a
		}
		return F(math.Pow(float64(a), float64(b)))
	case "max":
		return max(a, b)
	case "min":
		return min(a, b)
	case "equal":
		return boolF[F](a == b)
	case "less":
		return boolF[F](a < b)
	case "greater":
		return boolF[F](a > b)
	case "less_equal":
		return boolF[F](a <= b)
	case "greater_equal":
		return boolF[F](a >= b)
	case "and":
		return boolF[F](a != 0 && b != 0)
	case "or":
		return boolF[F](a != 0 || b != 0)
	case "xor":
		return boolF[F]((a != 0) != (b != 0))
	}
	panic("TensorBinary op " + o.op)
}

func (o *binaryOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	o.x0, o.x1 = in[0], in[1]
	o.b.setup(in[0].Shape, in[1].Shape)
	o.y = outBuf(p, o.y, o.b.shape...)
	y, a, b := o.y.Data, o.x0.Data, o.x1.Data
	ia, ib := o.b.idx[0], o.b.idx[1]
	switch {
	case ia == nil && ib == nil && o.op == "add":
		for k := range y {
			y[k] = a[k] + b[k]
		}
	case ia == nil && ib == nil && o.op == "mul":
		for k := range y {
			y[k] = a[k] * b[k]
		}
	case ia == nil && len(b) == 1:
		for k := range y {
			y[k] = o.apply(a[k], b[0])
		}
	default:
		for k := range y {
			y[k] = o.apply(a[o.b.at(0, k)], b[o.b.at(1, k)])
		}
	}
	return o.y
}

func (o *binaryOp[F]) Backward(p *Pass[F], dy *Mat[F]) []*Mat[F] {
	o.dIns = [2]*Mat[F]{}
	if !o.grad {
		return o.dIns[:]
	}
	xs := [2]*Mat[F]{o.x0, o.x1}
	for i := range xs {
		if o.need[i] {
			o.dx[i] = reuseZero(o.dx[i], xs[i].Shape...)
			o.dIns[i] = o.dx[i]
		}
	}
	da, db := o.dIns[0], o.dIns[1]
	a, b := o.x0.Data, o.x1.Data
	for k, g := range dy.Data {
		i, j := o.b.at(0, k), o.b.at(1, k)
		x, w := a[i], b[j]
		var ga, gb F
		switch o.op {
		case "add":
			ga, gb = g, g
		case "sub":
			ga, gb = g, -g
		case "mul":
			ga, gb = g*w, g*x
		case "div":
			ga, gb = g/w, -g*x/(w*w)
		case "pow":
			ga = g * w * F(math.Pow(float64(x), float64(w)-1))
			if x > 0 { // the exponent's gradient is defined for a positive base only
				gb = g * F(math.Pow(float64(x), float64(w))*math.Log(float64(x)))
			}
		case "max":
			if x >= w {
				ga = g
			} else {
				gb = g
			}
		case "min":
			if x <= w {
				ga = g
			} else {
				gb = g
			}
		}
		if da != nil {
			da.Data[i] += ga
		}
		if db != nil {
			db.Data[j] += gb
		}
	}
	return o.dIns[:]
}

// whereOp is TensorWhere: cond ? x : y, broadcast; no gradient to cond.
type whereOp[F Float] struct {
	need [3]bool
	b    bcast
	xs   [3]*Mat[F]
	y    *Mat[F]
	dx   [3]*Mat[F]
	dIns [3]*Mat[F]
}

func newTensorWhere[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	if _, err := v.Layer.OutputShape(in); err != nil {
		return nil, err
	}
	return &whereOp[F]{need: [3]bool{true, true, true}}, nil
}

func (o *whereOp[F]) SkipInputGrads(need []bool) { copy(o.need[:], need) }

func (o *whereOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	copy(o.xs[:], in)
	o.b.setup(in[0].Shape, in[1].Shape, in[2].Shape)
	o.y = outBuf(p, o.y, o.b.shape...)
	c, x, z := in[0].Data, in[1].Data, in[2].Data
	for k := range o.y.Data {
		if c[o.b.at(0, k)] != 0 {
			o.y.Data[k] = x[o.b.at(1, k)]
		} else {
			o.y.Data[k] = z[o.b.at(2, k)]
		}
	}
	return o.y
}

func (o *whereOp[F]) Backward(p *Pass[F], dy *Mat[F]) []*Mat[F] {
	o.dIns = [3]*Mat[F]{}
	for i := 1; i < 3; i++ {
		if o.need[i] {
			o.dx[i] = reuseZero(o.dx[i], o.xs[i].Shape...)
			o.dIns[i] = o.dx[i]
		}
	}
	c := o.xs[0].Data
	for k, g := range dy.Data {
		i := 2
		if c[o.b.at(0, k)] != 0 {
			i = 1
		}
		if d := o.dIns[i]; d != nil {
			d.Data[o.b.at(i, k)] += g
		}
	}
	return o.dIns[:]
}

func newTensorUnary[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	u := v.Layer.(*ir.TensorUnary)
	if _, err := u.OutputShape(in); err != nil {
		return nil, err
	}
	return &unaryOp[F]{op: u.Op, exp: float64(u.Exponent)}, nil
}

func newTensorActivation[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	t := v.Layer.(*ir.TensorActivation)
	if _, err := t.OutputShape(in); err != nil {
		return nil, err
	}
	a, err := newActivation[F](t.Activation)
	if err != nil {
		return nil, err
	}
	return &actOp[F]{act: a}, nil
}

// tensorConstOp outputs its batch-free value.
type tensorConstOp[F Float] struct {
	params *Params[F]
	y      *Mat[F]
}

func newTensorConstant[F Float](v *ir.Vertex, in [][]int, out []int, params *Params[F]) (Op[F], error) {
	if _, err := v.Layer.OutputShape(in); err != nil {
		return nil, err
	}
	if val := params.Values["value"]; val == nil || !ir.SameShape(val.Shape, out) {
		return nil, fmt.Errorf("TensorConstant needs a value of shape %v", out)
	}
	return &tensorConstOp[F]{params: params}, nil
}

func (o *tensorConstOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	val := o.params.Values["value"]
	o.y = outBuf(p, o.y, val.Shape...)
	copy(o.y.Data, val.Data)
	return o.y
}

func (o *tensorConstOp[F]) Backward(p *Pass[F], dy *Mat[F]) []*Mat[F] {
	if g := o.params.Grads["value"]; g != nil {
		addTo(g.Data, dy.Data)
	}
	return nil
}

func init() {
	RegisterOp("TensorBinary", newTensorBinary[float32], newTensorBinary[float64])
	RegisterOp("TensorWhere", newTensorWhere[float32], newTensorWhere[float64])
	RegisterOp("TensorUnary", newTensorUnary[float32], newTensorUnary[float64])
	RegisterOp("TensorActivation", newTensorActivation[float32], newTensorActivation[float64])
	RegisterOp("TensorConstant", newTensorConstant[float32], newTensorConstant[float64])
}
