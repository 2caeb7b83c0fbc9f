package nn

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

// The general shape ops: on whole runtime tensors, the batch wherever it
// is. Slice and Gather copy rows and blocks; Expand and Tile copy every
// output value from one input value (fullGatherOp); Reshape copies;
// Concat is concatOp.

// fullGatherOp runs an index map over the whole tensor, rebuilt when the
// input's runtime shape changes: forward copies, backward scatter-adds.
type fullGatherOp[F Float] struct {
	// mapFor builds the map of an input shape (p: the pass, for the batch
	// size of ops that create the batch axis).
	mapFor func(p *Pass[F], in []int) (*indexMap, error)
	m      *indexMap
	batch  int
	err    error
	y, dx  *Mat[F]
}

func (o *fullGatherOp[F]) Err() error { return o.err }

func (o *fullGatherOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x := in[0]
	o.err = nil
	if o.m == nil || !ir.SameShape(o.m.in, x.Shape) || o.batch != p.Batch {
		m, err := o.mapFor(p, x.Shape)
		if err != nil {
			o.err, o.m = err, nil
			return nil
		}
		o.m, o.batch = m, p.Batch
	}
	o.y = outBuf(p, o.y, o.m.out...)
	for i, s := range o.m.src {
		o.y.Data[i] = x.Data[s]
	}
	return o.y
}

func (o *fullGatherOp[F]) Backward(p *Pass[F], dy *Mat[F]) []*Mat[F] {
	o.dx = reuseZero(o.dx, o.m.in...)
	for i, s := range o.m.src {
		o.dx.Data[s] += dy.Data[i]
	}
	return []*Mat[F]{o.dx}
}

// runtimeShape resolves a full shape at run time: Batch is the pass's
// batch size.
func runtimeShape(full []int, batch int) []int {
	out := append([]int(nil), full...)
	for k, d := range out {
		if d == ir.Batch {
			out[k] = batch
		}
	}
	return out
}

// sliceOp copies strided rows: per output row (all axes but the last) one
// input offset, then the last axis with its step; no per-value index map,
// so a large slice (attention's q, k, v out of one projection) costs
// little memory.
type sliceOp[F Float] struct {
	l            *ir.TensorSlice
	inShape, out []int
	offs         []int // input offset of each output row
	n, step      int   // row length and step on the last axis
	y, dx        *Mat[F]
}

func newTensorSlice[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	l := v.Layer.(*ir.TensorSlice)
	if _, err := l.OutputShape(in); err != nil {
		return nil, err
	}
	return &sliceOp[F]{l: l}, nil
}

// setup resolves the slice for a runtime input shape.
func (o *sliceOp[F]) setup(in []int) {
	if o.inShape != nil && ir.SameShape(in, o.inShape) {
		return
	}
	r := len(in)
	o.inShape = append(o.inShape[:0], in...)
	o.out = append(o.out[:0], in...)
	st, start, step := strides(in), make([]int, r), make([]int, r)
	for a := range step {
		step[a] = 1
	}
	for i, a := range o.l.Axes {
		if a < 0 {
			a += r
		}
		var en int
		start[a], en, step[a] = o.l.Range(i, in[a])
		o.out[a] = sliceLenOf(start[a], en, step[a])
	}
	o.offs = o.offs[:0]
	o.n, o.step = 1, 1
	if r == 0 {
		o.offs = append(o.offs, 0)
		return
	}
	o.n, o.step = o.out[r-1], step[r-1]
	if ir.NumElements(o.out) == 0 {
		return
	}
	idx := make([]int, r-1)
	for row := ir.NumElements(o.out[:r-1]); row > 0; row-- {
		off := start[r-1] * st[r-1]
		for a, i := range idx {
			off += (start[a] + i*step[a]) * st[a]
		}
		o.offs = append(o.offs, off)
		for a := r - 2; a >= 0; a-- {
			if idx[a]++; idx[a] < o.out[a] {
				break
			}
			idx[a] = 0
		}
	}
}

func (o *sliceOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x := in[0]
	o.setup(x.Shape)
	o.y = outBuf(p, o.y, o.out...)
	n, s := o.n, o.step
	for row, off := range o.offs {
		y := o.y.Data[row*n : (row+1)*n]
		if s == 1 {
			copy(y, x.Data[off:off+n])
			continue
		}
		for i := range y {
			y[i] = x.Data[off+i*s]
		}
	}
	return o.y
}

func (o *sliceOp[F]) Backward(p *Pass[F], dy *Mat[F]) []*Mat[F] {
	o.dx = reuseZero(o.dx, o.inShape...)
	n, s := o.n, o.step
	for row, off := range o.offs {
		for i, g := range dy.Data[row*n : (row+1)*n] {
			o.dx.Data[off+i*s] += g
		}
	}
	return []*Mat[F]{o.dx}
}

func sliceLenOf(start, end, step int) int {
	switch {
	case step > 0 && end > start:
		return (end - start + step - 1) / step
	case step < 0 && start > end:
		return (start - end - step - 1) / -step
	}
	return 0
}

// gatherAxisOp copies whole blocks: for each position before the axis,
// the inner block of every index.
type gatherAxisOp[F Float] struct {
	l       *ir.TensorGather
	axis    int
	ids     []int
	inShape []int
	outer   int
	inner   int
	err     error
	y, dx   *Mat[F]
}

func newTensorGather[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	l := v.Layer.(*ir.TensorGather)
	if _, err := l.OutputShape(in); err != nil {
		return nil, err
	}
	return &gatherAxisOp[F]{l: l, axis: l.ResolvedAxis(len(in[0])), ids: make([]int, len(l.Indices))}, nil
}

func (o *gatherAxisOp[F]) Err() error { return o.err }

func (o *gatherAxisOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x, a := in[0], o.axis
	o.err = nil
	d := x.Shape[a]
	for k, i := range o.l.Indices {
		if i < 0 {
			i += d
		}
		if i < 0 || i >= d {
			o.err = fmt.Errorf("gather index %d out of range for axis %d of size %d", o.l.Indices[k], a, d)
			return nil
		}
		o.ids[k] = i
	}
	o.inShape = append(o.inShape[:0], x.Shape...)
	o.outer, o.inner = ir.NumElements(x.Shape[:a]), ir.NumElements(x.Shape[a+1:])
	shape := append(append(append(make([]int, 0, len(x.Shape)+len(o.l.IndexShape)), x.Shape[:a]...), o.l.IndexShape...), x.Shape[a+1:]...)
	o.y = outBuf(p, o.y, shape...)
	m, in1 := len(o.ids), o.inner
	for r := 0; r < o.outer; r++ {
		for j, i := range o.ids {
			copy(o.y.Data[(r*m+j)*in1:(r*m+j+1)*in1], x.Data[(r*d+i)*in1:(r*d+i+1)*in1])
		}
	}
	return o.y
}

func (o *gatherAxisOp[F]) Backward(p *Pass[F], dy *Mat[F]) []*Mat[F] {
	o.dx = reuseZero(o.dx, o.inShape...)
	d, m, in1 := o.inShape[o.axis], len(o.ids), o.inner
	for r := 0; r < o.outer; r++ {
		for j, i := range o.ids {
			dst := o.dx.Data[(r*d+i)*in1 : (r*d+i+1)*in1]
			for k, g := range dy.Data[(r*m+j)*in1 : (r*m+j+1)*in1] {
				dst[k] += g
			}
		}
	}
	return []*Mat[F]{o.dx}
}

func newTensorExpand[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	l := v.Layer.(*ir.TensorExpand)
	if _, err := l.OutputShape(in); err != nil {
		return nil, err
	}
	return &fullGatherOp[F]{mapFor: func(p *Pass[F], in []int) (*indexMap, error) {
		out, err := ir.BroadcastFull(in, runtimeShape(l.Shape, p.Batch))
		if err != nil {
			return nil, err
		}
		off := len(out) - len(in)
		st := strides(in)
		return buildMap(in, out, func(idx []int) int {
			s := 0
			for k, d := range in {
				if d != 1 {
					s += idx[k+off] * st[k]
				}
			}
			return s
		}), nil
	}}, nil
}

func newTensorTile[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	l := v.Layer.(*ir.TensorTile)
	if _, err := l.OutputShape(in); err != nil {
		return nil, err
	}
	return &fullGatherOp[F]{mapFor: func(_ *Pass[F], in []int) (*indexMap, error) {
		out := make([]int, len(in))
		for k, d := range in {
			out[k] = d * l.Repeats[k]
		}
		st := strides(in)
		return buildMap(in, out, func(idx []int) int {
			s := 0
			for k, i := range idx {
				s += (i % in[k]) * st[k]
			}
			return s
		}), nil
	}}, nil
}

// tensorReshapeOp copies its input under the target shape, whose batch
// and -1 are resolved from the runtime input.
type tensorReshapeOp[F Float] struct {
	shape   []int
	inBatch int // the input's batch axis, -1 when none
	inShape []int
	y, dx   *Mat[F]
	err     error
}

func newTensorReshape[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	l := v.Layer.(*ir.TensorReshape)
	if _, err := l.OutputShape(in); err != nil {
		return nil, err
	}
	o := &tensorReshapeOp[F]{shape: l.Shape, inBatch: -1}
	for k, d := range in[0] {
		if d == ir.Batch {
			o.inBatch = k
		}
	}
	return o, nil
}

func (o *tensorReshapeOp[F]) Err() error { return o.err }

func (o *tensorReshapeOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x := in[0]
	o.err = nil
	o.inShape = append(o.inShape[:0], x.Shape...)
	shape := append([]int(nil), o.shape...)
	known, infer := 1, -1
	for k, d := range shape {
		switch {
		case d == ir.Batch && o.inBatch >= 0:
			shape[k] = x.Shape[o.inBatch]
		case d == ir.Batch:
			shape[k] = p.Batch
		case d == -1:
			infer = k
			continue
		}
		known *= shape[k]
	}
	if infer >= 0 && known > 0 {
		shape[infer] = len(x.Data) / known
	}
	if ir.NumElements(shape) != len(x.Data) {
		o.err = fmt.Errorf("reshape of %v to %s: sizes differ", x.Shape, ir.FormatShape(o.shape))
		return nil
	}
	o.y = outBuf(p, o.y, shape...)
	copy(o.y.Data, x.Data)
	return o.y
}

func (o *tensorReshapeOp[F]) Backward(p *Pass[F], dy *Mat[F]) []*Mat[F] {
	o.dx = reuse(o.dx, o.inShape...)
	copy(o.dx.Data, dy.Data)
	return []*Mat[F]{o.dx}
}

func newTensorConcat[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	l := v.Layer.(*ir.TensorConcat)
	if _, err := l.OutputShape(in); err != nil {
		return nil, err
	}
	a := l.Axis
	if a < 0 {
		a += len(in[0])
	}
	need := make([]bool, len(in))
	for i := range need {
		need[i] = true
	}
	// concatOp counts its axis after a leading batch axis: on whole
	// tensors that is the full axis minus one
	return &concatOp[F]{axis: a - 1, need: need}, nil
}

func init() {
	RegisterOp("TensorReshape", newTensorReshape[float32], newTensorReshape[float64])
	RegisterOp("TensorSlice", newTensorSlice[float32], newTensorSlice[float64])
	RegisterOp("TensorConcat", newTensorConcat[float32], newTensorConcat[float64])
	RegisterOp("TensorGather", newTensorGather[float32], newTensorGather[float64])
	RegisterOp("TensorExpand", newTensorExpand[float32], newTensorExpand[float64])
	RegisterOp("TensorTile", newTensorTile[float32], newTensorTile[float64])
}
