package retarget

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/retarget-dev/retarget/internal/atomicfile"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
	"github.com/retarget-dev/retarget/npy"
)

// ShardFormat is the "format" of a featurized directory's index.json.
const ShardFormat = "retarget.featurized"

// ShardIndex is index.json of a featurized directory:
//
//	{"format":"retarget.featurized","version":1,"boundary":["pool2"],
//	 "inputs":[{"name":"pool2","shape":[8,2,2],"suffix":"features"}],
//	 "labels":[{"name":"out","shape":[3],"suffix":"labels"}],
//	 "shards":[{"prefix":"shard-00000","count":4096}, ...],"count":10000}
//
// Shard k stores each head input as <prefix>.<suffix>.npy (float32,
// [count, shape...]): the first is "features", more are "features.1", …;
// labels likewise ("labels", "labels.1", … for several outputs).
type ShardIndex struct {
	Format   string       `json:"format"`
	Version  int          `json:"version"`
	Boundary []string     `json:"boundary"`
	Inputs   []ShardArray `json:"inputs"`
	Labels   []ShardArray `json:"labels"`
	Shards   []Shard      `json:"shards"`
	Count    int          `json:"count"`
	// Key identifies what was featurized (FeaturizeKey); a later Featurize
	// with the same key reuses the shards.
	Key string `json:"key,omitempty"`
	// Reused is set when Featurize found the shards already written.
	Reused bool `json:"-"`
}

// ShardArray names one array stored in every shard.
type ShardArray struct {
	Name   string `json:"name"` // head input or graph output name
	Shape  []int  `json:"shape"`
	Suffix string `json:"suffix"`
}

// Shard is one group of files.
type Shard struct {
	Prefix string `json:"prefix"`
	Count  int    `json:"count"`
}

// FeaturizeOptions tune Featurize.
type FeaturizeOptions struct {
	Boundary  []string // default: Boundary(g)
	ShardSize int      // examples per shard (default 4096; the last may hold fewer)
	// DataID identifies the data (DataSet.ID). When set, the shards are
	// keyed by FeaturizeKey(g, boundary, DataID) and a directory that
	// already holds shards of that key is reused without running anything.
	DataID string
	// Progress, when set, is called after every batch with the examples
	// done and the total (-1 when the iterator has no Len method).
	Progress func(done, total int)

	// key, when set, is FeaturizeKey(g, boundary, DataID) already computed
	// by the caller, so the parameters are not hashed twice.
	key string
}

// Featurize runs the frozen part of g (up to the boundary) once over every
// batch of it, in inference mode, and writes the boundary values with the
// labels into dir as NPY shards plus index.json (DL4J
// TransferLearningHelper.featurize; the format is in the package
// documentation). index.json is written last, atomically, and removed
// first, so a directory is either complete or has no index. Train the head
// with FitFeaturized.
func Featurize(g *ir.Graph, it nn.Iterator, dir string, opt FeaturizeOptions) (*ShardIndex, error) {
	boundary := opt.Boundary
	if len(boundary) == 0 {
		boundary = Boundary(g)
	}
	if opt.ShardSize <= 0 {
		opt.ShardSize = 4096
	}
	head, err := HeadGraph(g, boundary...)
	if err != nil {
		return nil, err
	}
	fg, err := FrozenGraph(g, boundary)
	if err != nil {
		return nil, err
	}
	key := opt.key
	if key == "" && opt.DataID != "" {
		if key, err = frozenKey(fg, boundary, opt.DataID); err != nil {
			return nil, err
		}
	}
	if key != "" {
		if idx := reusable(dir, key); idx != nil {
			return idx, nil
		}
	}
	net, err := nn.CompileInference(fg)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	indexPath := filepath.Join(dir, "index.json")
	if err := os.Remove(indexPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	total := -1
	if l, ok := it.(interface{ Len() int }); ok {
		total = l.Len()
	}
	done := 0
	idx := &ShardIndex{Format: ShardFormat, Version: 1, Boundary: boundary, Key: key}
	for i, in := range head.Inputs {
		idx.Inputs = append(idx.Inputs, ShardArray{Name: in.Name, Shape: in.Shape, Suffix: suffix("features", i)})
	}
	inputPos := map[string]int{}
	for i, in := range g.Inputs {
		inputPos[in.Name] = i
	}
	w := &shardWriter{dir: dir, idx: idx}
	if err := it.Reset(); err != nil {
		return nil, err
	}
	for {
		b, err := it.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(b.Inputs) != len(g.Inputs) {
			return nil, fmt.Errorf("featurize: the iterator gives %d inputs, the graph takes %d", len(b.Inputs), len(g.Inputs))
		}
		var fin []*ir.Tensor
		for _, in := range fg.Inputs {
			fin = append(fin, b.Inputs[inputPos[in.Name]])
		}
		outs, err := net.Predict(fin...)
		if err != nil {
			return nil, fmt.Errorf("featurize: %w", err)
		}
		feats := make([]*ir.Tensor, len(head.Inputs))
		for i, in := range head.Inputs {
			if i < len(boundary) {
				feats[i] = outs[i]
			} else {
				feats[i] = b.Inputs[inputPos[in.Name]]
			}
		}
		if err := w.add(feats, b.Labels, g.Outputs); err != nil {
			return nil, err
		}
		if done += b.Size(); opt.Progress != nil {
			opt.Progress(done, total)
		}
		for w.n >= opt.ShardSize {
			if err := w.flush(opt.ShardSize); err != nil {
				return nil, err
			}
		}
	}
	if err := w.flush(w.n); err != nil {
		return nil, err
	}
	if idx.Count == 0 {
		return nil, fmt.Errorf("featurize: the data holds no examples")
	}
	return idx, writeIndex(indexPath, idx)
}

func suffix(base string, i int) string {
	if i == 0 {
		return base
	}
	return fmt.Sprintf("%s.%d", base, i)
}

type shardWriter struct {
	dir         string
	idx         *ShardIndex
	n           int
	feats, labs [][]float32
	labelsSet   bool
}

func (w *shardWriter) add(feats, labels []*ir.Tensor, outs []ir.GraphOutput) error {
	if !w.labelsSet {
		w.labelsSet = true
		for k, l := range labels {
			if l != nil && k < len(outs) {
				w.idx.Labels = append(w.idx.Labels, ShardArray{Name: outs[k].Name, Shape: append([]int(nil), l.Shape[1:]...), Suffix: suffix("labels", len(w.idx.Labels))})
			}
		}
		w.feats = make([][]float32, len(feats))
		w.labs = make([][]float32, len(w.idx.Labels))
	}
	n := feats[0].Shape[0]
	for i, f := range feats {
		if f.Shape[0] != n || !ir.SameShape(f.Shape[1:], w.idx.Inputs[i].Shape) {
			return fmt.Errorf("featurize: %q has shape %v, want [%d %v]", w.idx.Inputs[i].Name, f.Shape, n, w.idx.Inputs[i].Shape)
		}
		w.feats[i] = append(w.feats[i], f.Data...)
	}
	j := 0
	for k, l := range labels {
		if l == nil || k >= len(outs) {
			continue
		}
		if j >= len(w.idx.Labels) || w.idx.Labels[j].Name != outs[k].Name || l.Shape[0] != n || !ir.SameShape(l.Shape[1:], w.idx.Labels[j].Shape) {
			return fmt.Errorf("featurize: labels of output %q change shape or presence between batches", outs[k].Name)
		}
		w.labs[j] = append(w.labs[j], l.Data...)
		j++
	}
	w.n += n
	return nil
}

// flush writes the first n buffered examples as the next shard.
func (w *shardWriter) flush(n int) error {
	if n == 0 {
		return nil
	}
	prefix := fmt.Sprintf("shard-%05d", len(w.idx.Shards))
	write := func(arrs []ShardArray, data [][]float32) error {
		for i, a := range arrs {
			p := filepath.Join(w.dir, prefix+"."+a.Suffix+".npy")
			k := n * ir.NumElements(a.Shape)
			if err := npy.WriteFile(p, append([]int{n}, a.Shape...), data[i][:k]); err != nil {
				return err
			}
			data[i] = append(data[i][:0], data[i][k:]...)
		}
		return nil
	}
	if err := write(w.idx.Inputs, w.feats); err != nil {
		return err
	}
	if err := write(w.idx.Labels, w.labs); err != nil {
		return err
	}
	w.idx.Shards = append(w.idx.Shards, Shard{Prefix: prefix, Count: n})
	w.idx.Count += n
	w.n -= n
	return nil
}

func writeIndex(path string, idx *ShardIndex) error {
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(path, append(b, '\n'))
}

// maxIndexBytes bounds index.json; a real one is a few KiB per thousand shards.
const maxIndexBytes = 64 << 20

// LoadShards reads a featurized directory: its index and every array,
// concatenated over the shards (head inputs, then labels, in index order).
func LoadShards(dir string) (*ShardIndex, []*ir.Tensor, []*ir.Tensor, error) {
	path := filepath.Join(dir, "index.json")
	idx, err := readIndex(path)
	if err != nil {
		return nil, nil, nil, err
	}
	load := func(arrs []ShardArray) ([]*ir.Tensor, error) {
		out := make([]*ir.Tensor, len(arrs))
		for i, a := range arrs {
			if !safeComponent(a.Suffix) {
				return nil, fmt.Errorf("%s: bad suffix %q", path, a.Suffix)
			}
			per := ir.NumElements(a.Shape)
			for _, d := range a.Shape {
				if d <= 0 {
					return nil, fmt.Errorf("%s: array %q has a bad shape %v", path, a.Name, a.Shape)
				}
			}
			var data []float32
			total := 0
			for _, s := range idx.Shards {
				if !safeComponent(s.Prefix) {
					return nil, fmt.Errorf("%s: bad shard prefix %q", path, s.Prefix)
				}
				p := filepath.Join(dir, s.Prefix+"."+a.Suffix+".npy")
				arr, err := npy.ReadFile(p)
				if err != nil {
					return nil, err
				}
				if len(arr.Shape) == 0 || arr.Shape[0] != s.Count || !ir.SameShape(arr.Shape[1:], a.Shape) {
					return nil, fmt.Errorf("%s: shape %v, the index says [%d %v]", p, arr.Shape, s.Count, a.Shape)
				}
				data = append(data, arr.Data...)
				total += s.Count
			}
			if total != idx.Count {
				return nil, fmt.Errorf("%s: shards hold %d examples, the index says %d", path, total, idx.Count)
			}
			out[i] = ir.FromData(data[:total*per:total*per], append([]int{total}, a.Shape...)...)
		}
		return out, nil
	}
	ins, err := load(idx.Inputs)
	if err != nil {
		return nil, nil, nil, err
	}
	labs, err := load(idx.Labels)
	if err != nil {
		return nil, nil, nil, err
	}
	return idx, ins, labs, nil
}

// readIndex reads and checks a featurized directory's index.json.
func readIndex(path string) (*ShardIndex, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxIndexBytes+1))
	f.Close()
	if err != nil {
		return nil, err
	}
	if len(b) > maxIndexBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes, not a shard index", path, maxIndexBytes)
	}
	var idx ShardIndex
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&idx); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if idx.Format != ShardFormat || idx.Version != 1 {
		return nil, fmt.Errorf("%s: format %q version %d, want %q version 1 (written by retarget featurize)", path, idx.Format, idx.Version, ShardFormat)
	}
	return &idx, nil
}

func safeComponent(s string) bool {
	return s != "" && !strings.ContainsAny(s, `/\`) && s != "." && s != ".." && !strings.HasPrefix(s, ".")
}

// FitFeaturizedOptions tune FitFeaturized.
type FitFeaturizedOptions struct {
	BatchSize int   // default 32
	Shuffle   bool  // reshuffle every epoch
	Seed      int64 // shuffle seed
	Fit       nn.FitConfig
}

// FitFeaturized trains head (from Trainable or HeadGraph) on a featurized
// directory; the shards are loaded into memory once, so epochs cost only
// the head (DL4J TransferLearningHelper.fitFeaturized). With the same seed,
// batch size and shuffling it gives the weights a fit of the full network
// gives, since the frozen part computes the same values. Merge the result
// back with MergeHead.
func FitFeaturized(head *ir.Graph, dir string, opt FitFeaturizedOptions) (*nn.FitResult, error) {
	it, err := FeaturizedIterator(head, dir, opt.BatchSize, opt.Shuffle, opt.Seed)
	if err != nil {
		return nil, err
	}
	net, err := nn.Compile(head)
	if err != nil {
		return nil, err
	}
	return net.Fit(it, opt.Fit)
}

// FeaturizedIterator batches a featurized directory as head's inputs and
// labels (batch size default 32).
func FeaturizedIterator(head *ir.Graph, dir string, batchSize int, shuffle bool, seed int64) (*nn.SliceIterator, error) {
	idx, ins, labs, err := LoadShards(dir)
	if err != nil {
		return nil, err
	}
	byName := map[string]*ir.Tensor{}
	for i, a := range idx.Inputs {
		byName[a.Name] = ins[i]
	}
	var inputs []*ir.Tensor
	for _, in := range head.Inputs {
		t := byName[in.Name]
		if t == nil {
			return nil, fmt.Errorf("%s: no features for head input %q (featurized at boundary %v)", dir, in.Name, idx.Boundary)
		}
		if !ir.SameShape(t.Shape[1:], in.Shape) {
			return nil, fmt.Errorf("%s: features of %q have shape %v, the head takes %v", dir, in.Name, t.Shape[1:], in.Shape)
		}
		inputs = append(inputs, t)
	}
	labByName := map[string]*ir.Tensor{}
	for i, a := range idx.Labels {
		labByName[a.Name] = labs[i]
	}
	labels := make([]*ir.Tensor, len(head.Outputs))
	for k, o := range head.Outputs {
		labels[k] = labByName[o.Name]
	}
	if batchSize <= 0 {
		batchSize = 32
	}
	return nn.NewSliceIterator(inputs, labels, batchSize, shuffle, seed)
}

// Trainable is the unfrozen part of g as a graph of its own (DL4J
// TransferLearningHelper.unfrozenGraph): its inputs are the boundary
// vertices (Boundary(g)), named as them, and the graph inputs it reads
// directly. It is HeadGraph with the default boundary.
func Trainable(g *ir.Graph) (*ir.Graph, error) { return HeadGraph(g) }

// OutputFromFeaturized runs head (from Trainable) on featurized inputs,
// one per head input in order, in inference mode (DL4J
// TransferLearningHelper.outputFromFeaturized).
func OutputFromFeaturized(head *ir.Graph, features ...*ir.Tensor) ([]*ir.Tensor, error) {
	if len(features) != len(head.Inputs) {
		return nil, fmt.Errorf("the head takes %d input(s), got %d", len(head.Inputs), len(features))
	}
	net, err := nn.CompileInference(head.Clone())
	if err != nil {
		return nil, err
	}
	return net.Predict(features...)
}
