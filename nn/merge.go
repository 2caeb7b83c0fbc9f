package nn

import (
	"fmt"
	"math"

	"github.com/retarget-dev/retarget/ir"
)

// mergeOp combines inputs element-wise with NumPy broadcasting (over all
// axes, the batch included).
type mergeOp[F Float] struct {
	op    ir.MergeOp
	need  []bool
	xs    []*Mat[F]
	shape []int
	inShs [][]int
	idx   [][]int32 // per input: source index of each output element (nil: same shape)
	y     *Mat[F]
	dxs   []*Mat[F]
	dIns  []*Mat[F]
}

func newMerge[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	m := v.Layer.(*ir.Merge)
	if _, err := m.OutputShape(in); err != nil {
		return nil, err
	}
	need := make([]bool, len(in))
	for i := range need {
		need[i] = true
	}
	return &mergeOp[F]{op: m.Op, need: need}, nil
}

func (o *mergeOp[F]) SkipInputGrads(need []bool) { copy(o.need, need) }

func (o *mergeOp[F]) setup(xs []*Mat[F]) {
	if len(o.inShs) == len(xs) {
		same := true
		for i, x := range xs {
			same = same && ir.SameShape(o.inShs[i], x.Shape)
		}
		if same {
			return
		}
	}
	o.inShs = o.inShs[:0]
	// broadcast the shapes without batch (aligned from the right); the
	// batch axes are either equal or 1
	shape, batch := xs[0].Shape[1:], xs[0].Shape[0]
	for _, x := range xs {
		o.inShs = append(o.inShs, append([]int(nil), x.Shape...))
		b, err := ir.Broadcast(shape, x.Shape[1:])
		if err != nil {
			panic(err)
		}
		shape = b
		if x.Shape[0] != batch {
			if batch != 1 && x.Shape[0] != 1 {
				panic(fmt.Sprintf("batch sizes %d and %d", batch, x.Shape[0]))
			}
			batch = max(batch, x.Shape[0])
		}
	}
	o.shape = append(append(o.shape[:0], batch), shape...)
	o.idx = make([][]int32, len(xs))
	for i, x := range xs {
		if ir.SameShape(x.Shape, o.shape) {
			continue
		}
		r := len(o.shape)
		small := make([]int, r)
		for a := range small {
			small[a] = 1
		}
		small[0] = x.Shape[0]
		copy(small[r-len(x.Shape)+1:], x.Shape[1:])
		full := broadcastIndex(o.shape, small)
		o.idx[i] = make([]int32, len(full))
		for k, v := range full {
			o.idx[i][k] = int32(v)
		}
	}
}

// at reads input i at output position k.
func (o *mergeOp[F]) at(i, k int) F {
	if ix := o.idx[i]; ix != nil {
		return o.xs[i].Data[ix[k]]
	}
	return o.xs[i].Data[k]
}

func (o *mergeOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	o.xs = append(o.xs[:0], in...)
	o.setup(in)
	o.y = outBuf(p, o.y, o.shape...)
	y := o.y.Data
	if o.sameShapes() && o.op != ir.MergePow {
		parallelRange(len(y), len(in), o)
		return o.y
	}
	for k := range y {
		v := o.at(0, k)
		for i := 1; i < len(in); i++ {
			w := o.at(i, k)
			switch o.op {
			case ir.MergeAdd, ir.MergeAverage:
				v += w
			case ir.MergeSubtract:
				v -= w
			case ir.MergeMultiply:
				v *= w
			case ir.MergeDivide:
				v /= w
			case ir.MergeMaximum:
				v = max(v, w)
			case ir.MergeMinimum:
				v = min(v, w)
			case ir.MergePow:
				v = F(math.Pow(float64(v), float64(w)))
			}
		}
		if o.op == ir.MergeAverage {
			v /= F(len(in))
		}
		y[k] = v
	}
	return o.y
}

func (o *mergeOp[F]) sameShapes() bool {
	for _, ix := range o.idx {
		if ix != nil {
			return false
		}
	}
	return true
}

// forwardSame combines inputs of the output's shape into y, which starts
// at element off: one pass per input, with no per-element dispatch.
func (o *mergeOp[F]) forwardSame(in []*Mat[F], y []F, off int) {
	copy(y, in[0].Data[off:])
	for _, x := range in[1:] {
		src := x.Data[off : off+len(y)]
		switch o.op {
		case ir.MergeAdd, ir.MergeAverage:
			for k, w := range src {
				y[k] += w
			}
		case ir.MergeSubtract:
			for k, w := range src {
				y[k] -= w
			}
		case ir.MergeMultiply:
			for k, w := range src {
				y[k] *= w
			}
		case ir.MergeDivide:
			for k, w := range src {
				y[k] /= w
			}
		case ir.MergeMaximum:
			for k, w := range src {
				y[k] = max(y[k], w)
			}
		case ir.MergeMinimum:
			for k, w := range src {
				y[k] = min(y[k], w)
			}
		}
	}
	if o.op == ir.MergeAverage {
		n := F(len(in))
		for k := range y {
			y[k] /= n
		}
	}
}

// runRange is Forward over output elements [lo, hi) of same-shaped inputs.
func (o *mergeOp[F]) runRange(lo, hi int) { o.forwardSame(o.xs, o.y.Data[lo:hi], lo) }

func (o *mergeOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	n := len(o.xs)
	if len(o.dxs) != n {
		o.dxs = make([]*Mat[F], n)
	}
	o.dIns = growSlice(o.dIns, n)
	clear(o.dIns)
	out := o.dIns
	if o.op == ir.MergeAdd && o.sameShapes() {
		// dLoss/dx_i = dLoss/dy for every input: dOut itself, as a
		// pass-through op gives it (no op writes into the gradient it
		// receives, and the network copies a gradient before summing
		// into it); the copy per input took a ResNet block's step 1.2%
		for i := range o.xs {
			if o.need[i] {
				out[i] = dOut
			}
		}
		return out
	}
	for i, x := range o.xs {
		if o.need[i] {
			o.dxs[i] = reuseZero(o.dxs[i], x.Shape...)
			out[i] = o.dxs[i]
		}
	}
	add := func(i, k int, g F) {
		if out[i] == nil {
			return
		}
		if ix := o.idx[i]; ix != nil {
			out[i].Data[ix[k]] += g
		} else {
			out[i].Data[k] += g
		}
	}
	for k, g := range dOut.Data {
		switch o.op {
		case ir.MergeAdd:
			for i := range o.xs {
				add(i, k, g)
			}
		case ir.MergeAverage:
			for i := range o.xs {
				add(i, k, g/F(n))
			}
		case ir.MergeSubtract:
			add(0, k, g)
			add(1, k, -g)
		case ir.MergeMultiply:
			for i := range o.xs {
				prod := g
				for j := range o.xs {
					if j != i {
						prod *= o.at(j, k)
					}
				}
				add(i, k, prod)
			}
		case ir.MergeDivide:
			a, b := o.at(0, k), o.at(1, k)
			add(0, k, g/b)
			add(1, k, -g*a/(b*b))
		case ir.MergePow:
			a, b := float64(o.at(0, k)), float64(o.at(1, k))
			add(0, k, g*F(b*math.Pow(a, b-1)))
			add(1, k, g*F(math.Pow(a, b)*math.Log(a)))
		case ir.MergeMaximum, ir.MergeMinimum:
			best := 0
			for i := 1; i < n; i++ {
				v, bv := o.at(i, k), o.at(best, k)
				if (o.op == ir.MergeMaximum && v > bv) || (o.op == ir.MergeMinimum && v < bv) {
					best = i
				}
			}
			add(best, k, g)
		}
	}
	return out
}

// concatOp joins inputs along an axis.
type concatOp[F Float] struct {
	axis int // of the tensor without batch
	need []bool
	shs  [][]int
	y    *Mat[F]
	dxs  []*Mat[F]
}

func newConcat[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	c := v.Layer.(*ir.Concat)
	ax := c.ResolvedAxis(len(in[0]))
	if ax < 0 || ax >= len(in[0]) {
		return nil, fmt.Errorf("concat axis %d out of range for %v", c.Axis, in[0])
	}
	need := make([]bool, len(in))
	for i := range need {
		need[i] = true
	}
	return &concatOp[F]{axis: ax, need: need}, nil
}

func (o *concatOp[F]) SkipInputGrads(need []bool) { copy(o.need, need) }

func (o *concatOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	a := o.axis + 1
	shape := append([]int(nil), in[0].Shape...)
	shape[a] = 0
	o.shs = o.shs[:0]
	for _, x := range in {
		if len(x.Shape) != len(shape) {
			panic(fmt.Sprintf("concat of shapes %v and %v", in[0].Shape, x.Shape))
		}
		shape[a] += x.Shape[a]
		o.shs = append(o.shs, x.Shape)
	}
	o.y = outBuf(p, o.y, shape...)
	outer := ir.NumElements(shape[:a])
	rowOut := len(o.y.Data) / max(outer, 1)
	off := 0
	for _, x := range in {
		row := len(x.Data) / max(outer, 1)
		for r := 0; r < outer; r++ {
			copy(o.y.Data[r*rowOut+off:r*rowOut+off+row], x.Data[r*row:(r+1)*row])
		}
		off += row
	}
	return o.y
}

func (o *concatOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	a := o.axis + 1
	if len(o.dxs) != len(o.shs) {
		o.dxs = make([]*Mat[F], len(o.shs))
	}
	outer := ir.NumElements(dOut.Shape[:a])
	rowOut := len(dOut.Data) / max(outer, 1)
	out := make([]*Mat[F], len(o.shs))
	off := 0
	for i, sh := range o.shs {
		row := ir.NumElements(sh) / max(outer, 1)
		if o.need[i] {
			o.dxs[i] = reuse(o.dxs[i], sh...)
			for r := 0; r < outer; r++ {
				copy(o.dxs[i].Data[r*row:(r+1)*row], dOut.Data[r*rowOut+off:r*rowOut+off+row])
			}
			out[i] = o.dxs[i]
		}
		off += row
	}
	return out
}

func init() {
	RegisterOp("Merge", newMerge[float32], newMerge[float64])
	RegisterOp("Concat", newConcat[float32], newConcat[float64])
}
