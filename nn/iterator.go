package nn

import (
	"fmt"
	"io"
	"math/rand"

	"github.com/retarget-dev/retarget/ir"
)

// Batch is one minibatch, with data laid out as the source model took it
// (see ir.Input.Layout). Its tensors belong to the iterator and stay valid
// until the next call to Next.
type Batch struct {
	Inputs []*ir.Tensor // one per graph input, batch first
	Labels []*ir.Tensor // one per graph output; nil for outputs without a loss
	// LabelMasks weights the loss per output: nil, or (batch) for whole
	// examples, or (batch, T) for sequence steps (1 = real, 0 = padding).
	LabelMasks []*ir.Tensor
	// InputMask is the (batch, T) time-step mask of sequence inputs, or nil.
	InputMask *ir.Tensor
}

// Size is the number of examples in the batch.
func (b *Batch) Size() int {
	if len(b.Inputs) == 0 || b.Inputs[0] == nil || len(b.Inputs[0].Shape) == 0 {
		return 0
	}
	return b.Inputs[0].Shape[0]
}

// Iterator yields the minibatches of one epoch; Reset starts the next epoch
// (reshuffling if the iterator shuffles). Fit calls Reset before every
// epoch and Evaluate before its pass. Next returns io.EOF after the last batch.
type Iterator interface {
	Reset() error
	Next() (*Batch, error)
}

// SliceIterator iterates over in-memory arrays whose first axis is the
// example axis.
type SliceIterator struct {
	inputs, labels []*ir.Tensor
	batch          int
	shuffle        bool
	seed           int64
	epoch          int64
	perm           []int
	pos, n         int
	cur            Batch
	bufIn, bufLab  []*ir.Tensor
}

// NewArrayIterator iterates over one input x and one label array y.
func NewArrayIterator(x, y *ir.Tensor, batchSize int, shuffle bool, seed int64) (*SliceIterator, error) {
	var ys []*ir.Tensor
	if y != nil {
		ys = []*ir.Tensor{y}
	}
	return NewSliceIterator([]*ir.Tensor{x}, ys, batchSize, shuffle, seed)
}

// NewSliceIterator iterates over several inputs and label arrays (one per
// graph output) that share their first axis. With shuffle, the order of
// epoch e is a permutation drawn from (seed, e): the same seed gives the
// same batches.
func NewSliceIterator(inputs, labels []*ir.Tensor, batchSize int, shuffle bool, seed int64) (*SliceIterator, error) {
	if len(inputs) == 0 || inputs[0] == nil || len(inputs[0].Shape) == 0 {
		return nil, fmt.Errorf("the iterator needs at least one input array with an example axis")
	}
	if batchSize <= 0 {
		return nil, fmt.Errorf("batch size must be positive, got %d", batchSize)
	}
	n := inputs[0].Shape[0]
	for _, t := range append(append([]*ir.Tensor(nil), inputs...), labels...) {
		if t == nil {
			continue
		}
		if len(t.Shape) == 0 || t.Shape[0] != n {
			return nil, fmt.Errorf("arrays disagree on the number of examples: %v and %v", inputs[0].Shape, t.Shape)
		}
		if len(t.Data) != t.Len() || ir.NumElements(t.Shape) != len(t.Data) {
			return nil, fmt.Errorf("array of shape %v holds %d values", t.Shape, len(t.Data))
		}
	}
	it := &SliceIterator{inputs: inputs, labels: labels, batch: batchSize, shuffle: shuffle, seed: seed, n: n, epoch: -1}
	it.bufIn = make([]*ir.Tensor, len(inputs))
	it.bufLab = make([]*ir.Tensor, len(labels))
	return it, nil
}

// Len is the number of examples.
func (it *SliceIterator) Len() int { return it.n }

// Reset starts the next epoch.
func (it *SliceIterator) Reset() error {
	it.epoch++
	it.pos = 0
	if it.shuffle {
		r := rand.New(rand.NewSource(it.seed*1000003 + it.epoch))
		it.perm = r.Perm(it.n)
	}
	return nil
}

// Next returns the next minibatch or io.EOF. Before the first Reset it
// starts epoch 0 itself.
func (it *SliceIterator) Next() (*Batch, error) {
	if it.epoch < 0 {
		it.Reset()
	}
	if it.pos >= it.n {
		return nil, io.EOF
	}
	lo, hi := it.pos, min(it.pos+it.batch, it.n)
	it.pos = hi
	it.cur.Inputs = it.cur.Inputs[:0]
	it.cur.Labels = it.cur.Labels[:0]
	for i, t := range it.inputs {
		it.bufIn[i] = it.rows(it.bufIn[i], t, lo, hi)
		it.cur.Inputs = append(it.cur.Inputs, it.bufIn[i])
	}
	for i, t := range it.labels {
		if t == nil {
			it.cur.Labels = append(it.cur.Labels, nil)
			continue
		}
		it.bufLab[i] = it.rows(it.bufLab[i], t, lo, hi)
		it.cur.Labels = append(it.cur.Labels, it.bufLab[i])
	}
	return &it.cur, nil
}

// rows gathers examples [lo, hi) (in shuffled order) of t.
func (it *SliceIterator) rows(buf, t *ir.Tensor, lo, hi int) *ir.Tensor {
	per := ir.NumElements(t.Shape[1:])
	shape := append([]int{hi - lo}, t.Shape[1:]...)
	if !it.shuffle {
		return &ir.Tensor{Shape: shape, Data: t.Data[lo*per : hi*per]}
	}
	if buf == nil || cap(buf.Data) < (hi-lo)*per {
		buf = &ir.Tensor{Data: make([]float32, (hi-lo)*per)}
	}
	buf.Shape = shape
	buf.Data = buf.Data[:(hi-lo)*per]
	for k := lo; k < hi; k++ {
		src := it.perm[k]
		copy(buf.Data[(k-lo)*per:(k-lo+1)*per], t.Data[src*per:(src+1)*per])
	}
	return buf
}
