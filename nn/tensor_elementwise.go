package nn

import (
	"fmt"
	"math"

	"github.com/retarget-dev/retarget/ir"
)

// Element-wise tensor ops with NumPy broadcasting of runtime shapes (ranks
// may differ, the batch is wherever it is).

// bcast is the broadcast of some input shapes: the output shape, and the
// output walked as rows: axes whose strides line up in every input are
// merged, the last (merged) axis is a row, each input steps through a row
// by its stride there (0 where it broadcasts).
type bcast struct {
	inShs [][]int
	shape []int
	sizes []int   // the merged axes
	st    [][]int // per input, its stride along each merged axis (0: broadcast)
	pos   []int
	offs  []int
}

// setup recomputes the walk when the input shapes changed.
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
	r := len(out)
	st := make([][]int, len(shapes))
	for i, s := range shapes {
		st[i] = make([]int, r)
		acc := 1
		for a := r - 1; a >= r-len(s); a-- {
			if d := s[a-(r-len(s))]; d != 1 || out[a] == 1 {
				st[i][a] = acc
				acc *= d
			}
		}
	}
	// merge axis a into the next when every input walks them as one
	b.sizes = b.sizes[:0]
	b.st = make([][]int, len(shapes))
	for a := 0; a < r; a++ {
		if out[a] == 1 {
			continue
		}
		if k := len(b.sizes) - 1; k >= 0 {
			merge := true
			for i := range shapes {
				merge = merge && b.st[i][k] == st[i][a]*out[a]
			}
			if merge {
				b.sizes[k] *= out[a]
				for i := range shapes {
					b.st[i][k] = st[i][a]
				}
				continue
			}
		}
		b.sizes = append(b.sizes, out[a])
		for i := range shapes {
			b.st[i] = append(b.st[i], st[i][a])
		}
	}
	if len(b.sizes) == 0 { // a single value
		b.sizes = append(b.sizes, 1)
		for i := range shapes {
			b.st[i] = append(b.st[i], 0)
		}
	}
	b.pos = make([]int, len(b.sizes))
	b.offs = make([]int, len(shapes))
}

// rows calls f for every row of the output: k its first output index, n
// its length, offs and steps each input's first index and stride in it.
func (b *bcast) rows(f func(k, n int, offs []int, steps [][]int)) {
	for _, d := range b.sizes {
		if d == 0 {
			return // an empty output
		}
	}
	last := len(b.sizes) - 1
	n := b.sizes[last]
	clear(b.pos)
	clear(b.offs)
	for k := 0; ; k += n {
		f(k, n, b.offs, b.st)
		a := last - 1
		for ; a >= 0; a-- {
			b.pos[a]++
			for i := range b.offs {
				b.offs[i] += b.st[i][a]
			}
			if b.pos[a] < b.sizes[a] {
				break
			}
			for i := range b.offs {
				b.offs[i] -= b.st[i][a] * b.pos[a]
			}
			b.pos[a] = 0
		}
		if a < 0 {
			return
		}
	}
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
	last := len(o.b.sizes) - 1
	o.b.rows(func(k, n int, offs []int, st [][]int) {
		yr, i, j, si, sj := y[k:k+n], offs[0], offs[1], st[0][last], st[1][last]
		switch {
		case o.op == "add" && si == 1 && sj == 1:
			for t, v := range a[i : i+n] {
				yr[t] = v + b[j+t]
			}
		case o.op == "add" && si == 1 && sj == 0:
			w := b[j]
			for t, v := range a[i : i+n] {
				yr[t] = v + w
			}
		case o.op == "mul" && si == 1 && sj == 1:
			for t, v := range a[i : i+n] {
				yr[t] = v * b[j+t]
			}
		case o.op == "mul" && si == 1 && sj == 0:
			w := b[j]
			for t, v := range a[i : i+n] {
				yr[t] = v * w
			}
		default:
			for t := range yr {
				yr[t] = o.apply(a[i+t*si], b[j+t*sj])
			}
		}
	})
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
	last := len(o.b.sizes) - 1
	o.b.rows(func(k, n int, offs []int, st [][]int) {
		si, sj := st[0][last], st[1][last]
		if o.op == "add" || o.op == "sub" { // the gradient passes as it is
			pass := func(d *Mat[F], off, s int, sign F) {
				if d != nil {
					for t, g := range dy.Data[k : k+n] {
						d.Data[off+t*s] += sign * g
					}
				}
			}
			sign := F(1)
			if o.op == "sub" {
				sign = -1
			}
			pass(da, offs[0], si, 1)
			pass(db, offs[1], sj, sign)
			return
		}
		for t, g := range dy.Data[k : k+n] {
			i, j := offs[0]+t*si, offs[1]+t*sj
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
	})
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
	last := len(o.b.sizes) - 1
	o.b.rows(func(k, n int, offs []int, st [][]int) {
		for t := range o.y.Data[k : k+n] {
			if c[offs[0]+t*st[0][last]] != 0 {
				o.y.Data[k+t] = x[offs[1]+t*st[1][last]]
			} else {
				o.y.Data[k+t] = z[offs[2]+t*st[2][last]]
			}
		}
	})
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
	last := len(o.b.sizes) - 1
	o.b.rows(func(k, n int, offs []int, st [][]int) {
		for t, g := range dy.Data[k : k+n] {
			i := 2
			if c[offs[0]+t*st[0][last]] != 0 {
				i = 1
			}
			if d := o.dIns[i]; d != nil {
				d.Data[offs[i]+t*st[i][last]] += g
			}
		}
	})
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
