package retarget

import (
	"fmt"
	"io"
	"math/rand"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// DefaultShuffleBuffer is the default shuffle buffer of a FeaturizedStream,
// in examples.
const DefaultShuffleBuffer = 4096

// StreamOptions tune a FeaturizedStream.
type StreamOptions struct {
	BatchSize int // default 32
	// Shuffle visits the shards in a seeded random order every epoch and
	// draws examples at random from a buffer of ShuffleBuffer examples
	// filled in that order (as tf.data's shuffle). A set of at most
	// ShuffleBuffer examples is read once, kept, and permuted whole every
	// epoch exactly as an in-memory fit (nn.SliceIterator) permutes it.
	// Without shuffling the examples come in order, as the batches of an
	// in-memory fit.
	Shuffle       bool
	Seed          int64
	ShuffleBuffer int // examples; default DefaultShuffleBuffer
}

// FeaturizedStream iterates over a FeaturizedSet as a head's inputs and
// labels, reading one shard at a time (the next one is read while the
// current one is consumed), so memory is about two shards, the shuffle
// buffer and one batch, whatever the size of the set. Close stops the
// reader of an epoch that was not read to its end.
type FeaturizedStream struct {
	set     *FeaturizedSet
	arrs    []ShardArray // the arrays read: head inputs, then labels
	nIn     int
	labelAt []int // per head output: index in arrs, or -1
	per     []int // floats per example of each array
	opt     StreamOptions
	epoch   int64

	// the current epoch
	rng    *rand.Rand
	loads  chan loadedShard
	stop   chan struct{}
	free   chan [][]float32 // storage of consumed shards, for the reader
	cur    loadedShard
	pos    int // next example of cur
	done   bool
	buf    [][]float32 // shuffle buffer: opt.ShuffleBuffer slots per array
	filled int
	// resident: the whole set is in buf (at most ShuffleBuffer examples),
	// emitted in the order perm
	resident bool
	perm     []int
	out      [][]float32 // batch storage
	batch    nn.Batch
	tensors  []*ir.Tensor
}

type loadedShard struct {
	data [][]float32
	n    int
	err  error
}

// NewFeaturizedStream streams set as head's inputs and labels: one array
// per head input, found by name among the set's features, and the labels
// of each head output that has them (shapes must match).
func NewFeaturizedStream(head *ir.Graph, set *FeaturizedSet, opt StreamOptions) (*FeaturizedStream, error) {
	if opt.BatchSize <= 0 {
		opt.BatchSize = 32
	}
	if opt.ShuffleBuffer <= 0 {
		opt.ShuffleBuffer = DefaultShuffleBuffer
	}
	s := &FeaturizedStream{set: set, opt: opt, epoch: -1}
	byName := map[string]ShardArray{}
	for _, a := range set.Inputs {
		byName[a.Name] = a
	}
	for _, in := range head.Inputs {
		a, ok := byName[in.Name]
		if !ok {
			return nil, fmt.Errorf("%s: no features for head input %q (featurized at boundary %v)", set.Folders[0].Dir, in.Name, set.Boundary)
		}
		if !ir.SameShape(a.Shape, in.Shape) {
			return nil, fmt.Errorf("%s: features of %q have shape %v, the head takes %v", set.Folders[0].Dir, in.Name, a.Shape, in.Shape)
		}
		s.arrs = append(s.arrs, a)
	}
	s.nIn = len(s.arrs)
	labels := map[string]ShardArray{}
	for _, a := range set.Labels {
		labels[a.Name] = a
	}
	for _, o := range head.Outputs {
		a, ok := labels[o.Name]
		if !ok {
			s.labelAt = append(s.labelAt, -1)
			continue
		}
		s.labelAt = append(s.labelAt, len(s.arrs))
		s.arrs = append(s.arrs, a)
	}
	for _, a := range s.arrs {
		s.per = append(s.per, ir.NumElements(a.Shape))
	}
	s.out = make([][]float32, len(s.arrs))
	s.tensors = make([]*ir.Tensor, len(s.arrs))
	for i, a := range s.arrs {
		s.out[i] = make([]float32, opt.BatchSize*s.per[i])
		s.tensors[i] = &ir.Tensor{Shape: append([]int{0}, a.Shape...)}
	}
	s.batch.Inputs = s.tensors[:s.nIn]
	s.batch.Labels = make([]*ir.Tensor, len(head.Outputs))
	for k, at := range s.labelAt {
		if at >= 0 {
			s.batch.Labels[k] = s.tensors[at]
		}
	}
	return s, nil
}

// Len is the number of examples of an epoch.
func (s *FeaturizedStream) Len() int { return s.set.Count }

// Reset starts the next epoch: with shuffling, a new shard order from
// (seed, epoch).
func (s *FeaturizedStream) Reset() error {
	s.Close()
	s.epoch++
	order := make([]int, len(s.set.Shards))
	for i := range order {
		order[i] = i
	}
	if s.opt.Shuffle {
		s.rng = rand.New(rand.NewSource(s.opt.Seed*1_000_003 + s.epoch))
		if s.set.Count <= s.opt.ShuffleBuffer {
			return s.resetResident()
		}
		s.rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		if s.buf == nil {
			s.buf = make([][]float32, len(s.arrs))
			for i := range s.arrs {
				s.buf[i] = make([]float32, s.opt.ShuffleBuffer*s.per[i])
			}
		}
	}
	s.filled, s.pos, s.done, s.cur = 0, 0, false, loadedShard{}
	s.loads, s.stop = make(chan loadedShard), make(chan struct{})
	if s.free == nil {
		s.free = make(chan [][]float32, 2)
	}
	go s.read(order, s.loads, s.stop, s.free)
	return nil
}

// Close stops the current epoch's shard reader.
func (s *FeaturizedStream) Close() error {
	if s.stop != nil {
		close(s.stop)
		s.stop = nil
	}
	return nil
}

// resetResident starts an epoch of a set that fits the shuffle buffer:
// read once, then permuted as nn.SliceIterator does.
func (s *FeaturizedStream) resetResident() error {
	if !s.resident {
		s.buf = make([][]float32, len(s.arrs))
		for i := range s.arrs {
			s.buf[i] = make([]float32, 0, s.set.Count*s.per[i])
		}
		one := make([][]float32, len(s.arrs))
		for _, f := range s.set.Shards {
			if err := s.set.loadShard(f, s.arrs, one); err != nil {
				return err
			}
			for i := range s.arrs {
				s.buf[i] = append(s.buf[i], one[i]...)
			}
		}
		s.resident = true
	}
	s.perm = s.rng.Perm(s.set.Count)
	s.pos = 0
	s.loads = nil
	return nil
}

func (s *FeaturizedStream) read(order []int, out chan<- loadedShard, stop <-chan struct{}, free <-chan [][]float32) {
	defer close(out)
	for _, k := range order {
		f := s.set.Shards[k]
		l := loadedShard{n: f.Count}
		select {
		case l.data = <-free:
		default:
			l.data = make([][]float32, len(s.arrs))
		}
		l.err = s.set.loadShard(f, s.arrs, l.data)
		select {
		case out <- l:
		case <-stop:
			return
		}
		if l.err != nil {
			return
		}
	}
}

// example returns the next example of the shards in read order, or false
// at the end of the epoch.
func (s *FeaturizedStream) example() (int, bool, error) {
	for s.pos >= s.cur.n {
		if s.done {
			return 0, false, nil
		}
		if s.cur.data != nil {
			select {
			case s.free <- s.cur.data:
			default:
			}
			s.cur = loadedShard{}
		}
		l, ok := <-s.loads
		if !ok {
			// the epoch is read: hold no shard storage until the next
			s.done = true
			for len(s.free) > 0 {
				<-s.free
			}
			return 0, false, nil
		}
		if l.err != nil {
			s.done = true
			return 0, false, l.err
		}
		s.cur, s.pos = l, 0
	}
	s.pos++
	return s.pos - 1, true, nil
}

// Next returns the next batch; its tensors are reused by the next call.
func (s *FeaturizedStream) Next() (*nn.Batch, error) {
	if s.epoch < 0 {
		if err := s.Reset(); err != nil {
			return nil, err
		}
	}
	n := 0
	for n < s.opt.BatchSize && s.resident && s.pos < len(s.perm) {
		s.copyRow(s.out, n, s.buf, s.perm[s.pos])
		s.pos++
		n++
	}
	for n < s.opt.BatchSize && !s.resident {
		if !s.opt.Shuffle {
			j, ok, err := s.example()
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			s.copyRow(s.out, n, s.cur.data, j)
			n++
			continue
		}
		for s.filled < s.opt.ShuffleBuffer {
			j, ok, err := s.example()
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			s.copyRow(s.buf, s.filled, s.cur.data, j)
			s.filled++
		}
		if s.filled == 0 {
			break
		}
		slot := s.rng.Intn(s.filled)
		s.copyRow(s.out, n, s.buf, slot)
		n++
		// the slot takes the next example, or the last slot's when the
		// epoch's examples are all in the buffer
		j, ok, err := s.example()
		if err != nil {
			return nil, err
		}
		if ok {
			s.copyRow(s.buf, slot, s.cur.data, j)
		} else {
			s.filled--
			s.copyRow(s.buf, slot, s.buf, s.filled)
		}
	}
	if n == 0 {
		return nil, io.EOF
	}
	for i, t := range s.tensors {
		t.Shape[0] = n
		t.Data = s.out[i][:n*s.per[i]]
	}
	return &s.batch, nil
}

// copyRow copies example j of src into row i of dst, for every array.
func (s *FeaturizedStream) copyRow(dst [][]float32, i int, src [][]float32, j int) {
	for a, p := range s.per {
		copy(dst[a][i*p:(i+1)*p], src[a][j*p:(j+1)*p])
	}
}
