package nn

import (
	"github.com/retarget-dev/retarget/ir"
)

// Softmax, LayerNorm and reductions on an axis of a full shape.

// axisOf normalises an axis of a runtime shape.
func axisOf(axis, rank int) int {
	if axis < 0 {
		axis += rank
	}
	return axis
}

type tensorSoftmaxOp[F Float] struct {
	axis    int
	log     bool
	y, dx   *Mat[F]
	o, n, i int
}

func newTensorSoftmax[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	t := v.Layer.(*ir.TensorSoftmax)
	if _, err := t.OutputShape(in); err != nil {
		return nil, err
	}
	return &tensorSoftmaxOp[F]{axis: t.Axis, log: t.Log}, nil
}

func (s *tensorSoftmaxOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x := in[0]
	s.o, s.n, s.i = splitAxis(x.Shape, axisOf(s.axis, len(x.Shape)))
	s.y = outBuf(p, s.y, x.Shape...)
	if y32, ok := any(s.y.Data).([]float32); ok && s.i == 1 && !s.log {
		copy(y32, any(x.Data).([]float32))
		softmaxRows32(y32, s.o, s.n)
		return s.y
	}
	softmax(x.Data, s.y.Data, s.o, s.n, s.i, s.log)
	return s.y
}

func (s *tensorSoftmaxOp[F]) Backward(p *Pass[F], dy *Mat[F]) []*Mat[F] {
	s.dx = reuse(s.dx, dy.Shape...)
	softmaxBackward(s.y.Data, dy.Data, s.dx.Data, s.o, s.n, s.i, s.log)
	return []*Mat[F]{s.dx}
}

// newTensorLayerNorm is the LayerNorm op without scale and offset, its
// axis counted on the full shape.
func newTensorLayerNorm[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	t := v.Layer.(*ir.TensorLayerNorm)
	if _, err := t.OutputShape(in); err != nil {
		return nil, err
	}
	none := &Params[F]{Values: map[string]*Mat[F]{"gamma": {}, "beta": {}}}
	// lnOp counts its axis on the shape without the leading axis
	return &lnOp[F]{axis: axisOf(t.Axis, len(in[0])) - 1, eps: float64(t.Epsilon), noScale: true, noShift: true, params: none}, nil
}

// tensorReduceOp is TensorReduce: the input walked in rows (bcast), the
// output read with stride 0 along the reduced axes.
type tensorReduceOp[F Float] struct {
	l      *ir.TensorReduce
	inSh   []int
	outSh  []int
	walk   bcast // of the input shape and the output with reduced axes kept as 1
	count  F
	arg    []int32 // max/min: the input index chosen per output
	zeros  []int32 // prod: zero inputs per output
	nzProd []F     // prod: product of the nonzero inputs per output
	x, y   *Mat[F]
	dx     *Mat[F]
	dIns   [1]*Mat[F]
}

func newTensorReduce[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	t := v.Layer.(*ir.TensorReduce)
	if _, err := t.OutputShape(in); err != nil {
		return nil, err
	}
	return &tensorReduceOp[F]{l: t}, nil
}

func (o *tensorReduceOp[F]) setup(in []int) {
	if o.inSh != nil && ir.SameShape(o.inSh, in) {
		return
	}
	o.inSh = append(o.inSh[:0], in...)
	red, err := o.l.Reduced(len(in))
	if err != nil {
		panic(err)
	}
	kept := make([]int, len(in)) // the output with the reduced axes kept as 1
	o.outSh = o.outSh[:0]
	cnt := 1
	for a, d := range in {
		kept[a] = d
		if red[a] {
			kept[a] = 1
			cnt *= d
			if o.l.KeepDims {
				o.outSh = append(o.outSh, 1)
			}
			continue
		}
		o.outSh = append(o.outSh, d)
	}
	o.walk.setup(in, kept)
	o.count = F(cnt)
}

// each calls f(i, k) for every input index i and the output index k it
// reduces into.
func (o *tensorReduceOp[F]) each(f func(i, k int)) {
	last := len(o.walk.sizes) - 1
	o.walk.rows(func(k, n int, offs []int, st [][]int) {
		j, s := offs[1], st[1][last]
		for t := 0; t < n; t++ {
			f(k+t, j+t*s)
		}
	})
}

func (o *tensorReduceOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x := in[0]
	o.x = x
	o.setup(x.Shape)
	o.y = outBuf(p, o.y, o.outSh...)
	y, xd := o.y.Data, x.Data
	switch o.l.Op {
	case "sum", "mean":
		clear(y)
		last := len(o.walk.sizes) - 1
		o.walk.rows(func(k, n int, offs []int, st [][]int) {
			j, s := offs[1], st[1][last]
			if s == 0 { // a reduced row
				var acc F
				for _, v := range xd[k : k+n] {
					acc += v
				}
				y[j] += acc
				return
			}
			for t, v := range xd[k : k+n] {
				y[j+t*s] += v
			}
		})
		if o.l.Op == "mean" {
			for k := range y {
				y[k] /= o.count
			}
		}
	case "max", "min":
		o.arg = growSlice(o.arg, len(y))
		for k := range o.arg {
			o.arg[k] = -1
		}
		isMax := o.l.Op == "max"
		o.each(func(i, k int) {
			v := xd[i]
			if a := o.arg[k]; a < 0 || (isMax && v > y[k]) || (!isMax && v < y[k]) {
				y[k], o.arg[k] = v, int32(i)
			}
		})
	case "prod":
		o.zeros = growSlice(o.zeros, len(y))
		o.nzProd = growSlice(o.nzProd, len(y))
		clear(o.zeros)
		for k := range y {
			o.nzProd[k] = 1
		}
		o.each(func(i, k int) {
			if v := xd[i]; v == 0 {
				o.zeros[k]++
			} else {
				o.nzProd[k] *= v
			}
		})
		for k := range y {
			y[k] = o.nzProd[k]
			if o.zeros[k] > 0 {
				y[k] = 0
			}
		}
	}
	return o.y
}

func (o *tensorReduceOp[F]) Backward(p *Pass[F], dy *Mat[F]) []*Mat[F] {
	o.dx = reuse(o.dx, o.inSh...)
	dx, g := o.dx.Data, dy.Data
	switch o.l.Op {
	case "sum":
		o.each(func(i, k int) { dx[i] = g[k] })
	case "mean":
		o.each(func(i, k int) { dx[i] = g[k] / o.count })
	case "max", "min":
		clear(dx)
		for k, a := range o.arg {
			dx[a] += g[k]
		}
	case "prod": // the product of the others, exact when inputs are zero
		o.each(func(i, k int) {
			v := o.x.Data[i]
			switch {
			case o.zeros[k] == 0:
				dx[i] = g[k] * o.nzProd[k] / v
			case o.zeros[k] == 1 && v == 0:
				dx[i] = g[k] * o.nzProd[k]
			default:
				dx[i] = 0
			}
		})
	}
	o.dIns[0] = o.dx
	return o.dIns[:]
}

func init() {
	RegisterOp("TensorSoftmax", newTensorSoftmax[float32], newTensorSoftmax[float64])
	RegisterOp("TensorLayerNorm", newTensorLayerNorm[float32], newTensorLayerNorm[float64])
	RegisterOp("TensorReduce", newTensorReduce[float32], newTensorReduce[float64])
}
