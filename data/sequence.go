package data

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// SequenceOptions describe CSV sequences as DL4J's
// CSVSequenceRecordReader reads them: one file per sequence in a features
// folder and a file of the same name in a labels folder, one line per
// time step.
type SequenceOptions struct {
	// NumClasses > 0 makes labels class numbers (one per line) turned
	// into one-hot rows; 0 uses the label lines' values as they are.
	NumClasses int
	// Header skips the first line of every file.
	Header bool
	// AlignEnd puts a label file shorter than its sequence (one line for a
	// whole-sequence label) at the last steps, as DL4J's ALIGN_END.
	AlignEnd bool
}

// Sequences holds ragged sequences padded to the longest, with masks.
type Sequences struct {
	X          *ir.Tensor // [N, T, F]
	Y          *ir.Tensor // [N, T, K]
	Mask       *ir.Tensor // [N, T] input steps that exist
	LabelMask  *ir.Tensor // [N, T] steps that carry a label
	Names      []string   // file names, in order
	NumClasses int
}

// ReadCSVSequences reads every file of featuresDir with its namesake in
// labelsDir. Files sort numerically when their names are numbers (0.csv,
// 1.csv, … 10.csv), else by name.
func ReadCSVSequences(featuresDir, labelsDir string, o SequenceOptions) (*Sequences, error) {
	entries, err := os.ReadDir(featuresDir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s holds no sequence files", featuresDir)
	}
	sort.Slice(names, func(i, j int) bool { return seqLess(names[i], names[j]) })
	var xs, ys [][][]float64
	tMax, fW, yW := 0, -1, -1
	for _, n := range names {
		x, err := readRows(filepath.Join(featuresDir, n), o.Header)
		if err != nil {
			return nil, err
		}
		y, err := readRows(filepath.Join(labelsDir, n), o.Header)
		if err != nil {
			return nil, err
		}
		if len(x) == 0 || len(y) == 0 {
			return nil, fmt.Errorf("sequence %s: empty features or labels file", n)
		}
		if len(y) != len(x) && !(o.AlignEnd && len(y) < len(x)) {
			return nil, fmt.Errorf("sequence %s: %d feature steps but %d label steps (set AlignEnd for a label at the end)", n, len(x), len(y))
		}
		if fW < 0 {
			fW, yW = len(x[0]), len(y[0])
		}
		for _, r := range x {
			if len(r) != fW {
				return nil, fmt.Errorf("sequence %s: a step has %d features, others %d", n, len(r), fW)
			}
		}
		for _, r := range y {
			if len(r) != yW {
				return nil, fmt.Errorf("sequence %s: a label line has %d values, others %d", n, len(r), yW)
			}
		}
		tMax = max(tMax, len(x))
		xs, ys = append(xs, x), append(ys, y)
	}
	k := yW
	if o.NumClasses > 0 {
		if yW != 1 {
			return nil, fmt.Errorf("class labels are one number per line, the label files have %d", yW)
		}
		k = o.NumClasses
	}
	n := len(names)
	s := &Sequences{Names: names, NumClasses: o.NumClasses,
		X: ir.NewTensor(n, tMax, fW), Y: ir.NewTensor(n, tMax, k), Mask: ir.NewTensor(n, tMax), LabelMask: ir.NewTensor(n, tMax)}
	for i := range xs {
		for t, r := range xs[i] {
			s.Mask.Data[i*tMax+t] = 1
			for j, v := range r {
				s.X.Data[(i*tMax+t)*fW+j] = float32(v)
			}
		}
		off := len(xs[i]) - len(ys[i]) // 0 unless aligned at the end
		for t, r := range ys[i] {
			step := off + t
			s.LabelMask.Data[i*tMax+step] = 1
			row := s.Y.Data[(i*tMax+step)*k : (i*tMax+step+1)*k]
			if o.NumClasses > 0 {
				c, err := classOf(r[0], k)
				if err != nil {
					return nil, fmt.Errorf("sequence %s step %d: %w", names[i], t, err)
				}
				row[c] = 1
				continue
			}
			for j, v := range r {
				row[j] = float32(v)
			}
		}
	}
	return s, nil
}

func seqLess(a, b string) bool {
	na, ea := strconv.Atoi(strings.TrimSuffix(a, filepath.Ext(a)))
	nb, eb := strconv.Atoi(strings.TrimSuffix(b, filepath.Ext(b)))
	if ea == nil && eb == nil && na != nb {
		return na < nb
	}
	return a < b
}

func readRows(path string, header bool) ([][]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rows [][]float64
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || (header && i == 0) {
			continue
		}
		var r []float64
		for _, f := range strings.Split(line, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil {
				return nil, &CSVError{path, i + 1, fmt.Errorf("%q is not a number", f)}
			}
			r = append(r, v)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// SequenceIterator batches Sequences with their masks.
type SequenceIterator struct {
	s       *Sequences
	batch   int
	shuffle bool
	seed    int64
	epoch   int64
	order   []int
	pos     int
}

// Iterator batches the sequences, shuffled per epoch from seed if asked.
func (s *Sequences) Iterator(batchSize int, shuffle bool, seed int64) (*SequenceIterator, error) {
	if batchSize <= 0 {
		return nil, fmt.Errorf("batch size must be positive, got %d", batchSize)
	}
	it := &SequenceIterator{s: s, batch: batchSize, shuffle: shuffle, seed: seed, epoch: -1}
	it.Reset()
	return it, nil
}

// Reset starts the next epoch.
func (it *SequenceIterator) Reset() error {
	it.epoch++
	it.pos = 0
	n := it.s.X.Shape[0]
	if it.shuffle {
		it.order = permutation(n, it.seed*1000003+it.epoch)
	} else {
		it.order = permutation(0, 0)
		for i := 0; i < n; i++ {
			it.order = append(it.order, i)
		}
	}
	return nil
}

// Next returns the next batch or io.EOF.
func (it *SequenceIterator) Next() (*nn.Batch, error) {
	if it.pos >= len(it.order) {
		return nil, io.EOF
	}
	idx := it.order[it.pos:min(it.pos+it.batch, len(it.order))]
	it.pos += len(idx)
	return &nn.Batch{
		Inputs:     []*ir.Tensor{gatherRows(it.s.X, idx)},
		Labels:     []*ir.Tensor{gatherRows(it.s.Y, idx)},
		LabelMasks: []*ir.Tensor{gatherRows(it.s.LabelMask, idx)},
		InputMask:  gatherRows(it.s.Mask, idx),
	}, nil
}
