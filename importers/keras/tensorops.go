package keras

import "github.com/retarget-dev/retarget/ir"

// kWeight is one weight array as Keras stored it.
type kWeight struct {
	name  string
	shape []int
	data  []float32
}

// weightSource yields the weights of a layer, in the layer's Keras order.
// path is the layer's name, preceded by the names of the models it is
// nested in.
type weightSource interface {
	layerWeights(path []string) ([]kWeight, error)
}

// flipSpatial reverses the trailing k axes of an [O, I, k...] kernel
// (Theano convolves, TensorFlow correlates).
func flipSpatial(t *ir.Tensor, k int) {
	sp := t.Shape[len(t.Shape)-k:]
	block := ir.NumElements(sp)
	if block == 0 {
		return
	}
	for start := 0; start+block <= len(t.Data); start += block {
		b := t.Data[start : start+block]
		for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
			b[i], b[j] = b[j], b[i]
		}
	}
}

func (c *call) tensorOf(w *kWeight) *ir.Tensor { return c.b.takeWeight(w, nil, 0) }

// takeWeight makes the IR tensor of w with its rows of rowLen values in
// the order rowPerm gives (IR row i is w's row rowPerm[i]; nil: as
// stored). The first tensor made of a weight takes its storage, rows moved
// in place: a copy of every weight, held until the import ended, took
// VGG16's predict peak to 2.07× its HDF5 file. A shared layer's other
// vertices get copies of their own (the IR shares no weights).
func (b *builder) takeWeight(w *kWeight, rowPerm []int, rowLen int) *ir.Tensor {
	if len(w.data) == 0 {
		return ir.FromData(nil, w.shape...)
	}
	key := &w.data[0]
	applied, seen := b.taken[key]
	if !seen {
		permuteRows(w.data, rowPerm, rowLen)
		b.taken[key] = rowOrder{rowPerm, rowLen}
		return ir.FromData(w.data, w.shape...)
	}
	stored := w.data
	if applied.perm != nil { // the first tensor reordered the rows: undo that
		stored = make([]float32, len(w.data))
		n := applied.rowLen
		for i, r := range applied.perm {
			copy(stored[r*n:(r+1)*n], w.data[i*n:])
		}
	}
	d := make([]float32, len(w.data))
	if rowPerm == nil {
		copy(d, stored)
	}
	for i, r := range rowPerm {
		copy(d[i*rowLen:(i+1)*rowLen], stored[r*rowLen:])
	}
	return ir.FromData(d, w.shape...)
}

// rowOrder is the order takeWeight gave a weight's rows in place: row i
// holds stored row perm[i] (nil: as stored), rows of rowLen values.
type rowOrder struct {
	perm   []int
	rowLen int
}

// permuteRows reorders the rows of rowLen values of data in place so that
// row i becomes what row perm[i] was (nil: none), following the
// permutation's cycles with one row of scratch.
func permuteRows(data []float32, perm []int, rowLen int) {
	if perm == nil {
		return
	}
	done := make([]bool, len(perm))
	tmp := make([]float32, rowLen)
	row := func(i int) []float32 { return data[i*rowLen : (i+1)*rowLen] }
	for start := range perm {
		if done[start] {
			continue
		}
		copy(tmp, row(start))
		i := start
		for {
			done[i] = true
			j := perm[i]
			if j == start {
				copy(row(i), tmp)
				break
			}
			copy(row(i), row(j))
			i = j
		}
	}
}

func filled(v float32, shape ...int) *ir.Tensor {
	t := ir.NewTensor(shape...)
	for i := range t.Data {
		t.Data[i] = v
	}
	return t
}

// concatCols joins [r, c_i] matrices (or [c_i] vectors) side by side.
func concatCols(parts ...*kWeight) ([]float32, []int) {
	rows := 1
	if len(parts[0].shape) == 2 {
		rows = parts[0].shape[0]
	}
	total := 0
	for _, p := range parts {
		total += p.shape[len(p.shape)-1]
	}
	out := make([]float32, 0, rows*total)
	for r := 0; r < rows; r++ {
		for _, p := range parts {
			c := p.shape[len(p.shape)-1]
			out = append(out, p.data[r*c:(r+1)*c]...)
		}
	}
	if len(parts[0].shape) == 2 {
		return out, []int{rows, total}
	}
	return out, []int{total}
}
