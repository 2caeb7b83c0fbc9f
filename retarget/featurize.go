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
	// FrozenKey identifies the frozen part alone (FeaturizeKey without the
	// data): folders of different data with the same FrozenKey, boundary
	// and arrays train one head together.
	FrozenKey string `json:"frozen_key,omitempty"`
	// Part is set in the index of one part of a featurize run on many
	// machines (featurize --shard I/N).
	Part *PartInfo `json:"part,omitempty"`
	// Reused is set when Featurize found the shards already written.
	Reused bool `json:"-"`
	// Dir is the folder the index was read from or written to, Bytes the
	// size of its shard files.
	Dir   string `json:"-"`
	Bytes int64  `json:"-"`
}

// PartInfo places one part of a partitioned featurize in its data source.
type PartInfo struct {
	Index int `json:"index"` // 0 ≤ Index < Count
	Count int `json:"count"`
	// First is the position in the source of the part's first example and
	// Total the examples of the whole source; BatchSize is the batch size
	// the partition was computed with (Part.Bounds), which every part of a
	// run must share.
	First     int `json:"first"`
	Total     int `json:"total"`
	BatchSize int `json:"batch_size"`
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
	// Part, when set (DataSet.PartInfo: the iterator gives only that
	// part's examples), writes the shards and their index.json into the
	// part's own folder dir/part-IIIII-of-NNNNN, leaving every other file of
	// dir alone, so the parts of a run on many machines can write into one
	// shared folder at once. A part may hold no example.
	Part *PartInfo

	// key and frozen, when set, are the data and frozen-part keys already
	// computed by the caller, so the parameters are not hashed twice.
	key, frozen string
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
	head, err := headGraph(g, true, boundary) // only its inputs are read
	if err != nil {
		return nil, err
	}
	fg, err := FrozenGraph(g, boundary)
	if err != nil {
		return nil, err
	}
	part := opt.Part
	if part != nil {
		if part.Count <= 1 {
			part = nil
		} else {
			p := Part{Index: part.Index, Count: part.Count}
			if err := p.check(); err != nil {
				return nil, err
			}
			dir = filepath.Join(dir, p.Name())
		}
	}
	// with the key given, reuse needs no hashing of the parameters
	frozen, key := opt.frozen, opt.key
	if key != "" {
		if idx := reusable(dir, key, part); idx != nil {
			return idx, nil
		}
	}
	if frozen == "" {
		if frozen, err = frozenKey(fg, boundary); err != nil {
			return nil, err
		}
	}
	if key == "" && opt.DataID != "" {
		key = dataKey(frozen, opt.DataID)
		if idx := reusable(dir, key, part); idx != nil {
			return idx, nil
		}
	}
	// fg is this call's own copy of the frozen part: the network may take
	// its convolution weights (packed once, in place)
	net, err := nn.CompileWith[float32](fg, nn.Options{Inference: true, TakeWeights: true})
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
	idx := &ShardIndex{Format: ShardFormat, Version: 1, Boundary: boundary, Key: key, FrozenKey: frozen, Part: part, Dir: dir}
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
	if idx.Count == 0 && part == nil {
		return nil, fmt.Errorf("featurize: the data holds no examples")
	}
	idx.Bytes = w.bytes
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
	bytes       int64
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
			if st, err := os.Stat(p); err == nil {
				w.bytes += st.Size()
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

// LoadShards reads a featurized directory (whole, or every part of a
// partitioned one) into memory: its index and every array, concatenated
// over the shards (head inputs, then labels, in index order). Streaming
// (FeaturizedStream) needs only a few shards in memory.
func LoadShards(dir string) (*ShardIndex, []*ir.Tensor, []*ir.Tensor, error) {
	set, err := ReadFeaturized(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := set.Complete(); err != nil {
		return nil, nil, nil, err
	}
	idx := &ShardIndex{Format: ShardFormat, Version: 1, Boundary: set.Boundary, Inputs: set.Inputs, Labels: set.Labels,
		Count: set.Count, FrozenKey: set.FrozenKey, Dir: dir, Bytes: set.Bytes}
	arrs := append(append([]ShardArray(nil), set.Inputs...), set.Labels...)
	data := make([][]float32, len(arrs))
	for i, a := range arrs {
		data[i] = make([]float32, 0, set.Count*ir.NumElements(a.Shape))
	}
	one := make([][]float32, len(arrs))
	for _, f := range set.Shards {
		if err := set.loadShard(f, arrs, one); err != nil {
			return nil, nil, nil, err
		}
		for i := range arrs {
			data[i] = append(data[i], one[i]...)
		}
		idx.Shards = append(idx.Shards, Shard{Prefix: f.Prefix, Count: f.Count})
	}
	out := make([]*ir.Tensor, len(arrs))
	for i, a := range arrs {
		out[i] = ir.FromData(data[i], append([]int{set.Count}, a.Shape...)...)
	}
	return idx, out[:len(set.Inputs)], out[len(set.Inputs):], nil
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
	// ShuffleBuffer is the examples drawn from at random when shuffling
	// (default DefaultShuffleBuffer); see StreamOptions.
	ShuffleBuffer int
	// AllowIncomplete fits the parts that are there when some are missing.
	AllowIncomplete bool
	// History, HistoryEvery and Plot are FitOptions's.
	History      string
	HistoryEvery int
	Plot         string
	// Fit gives the epochs, the seed of dropout, and hooks (see
	// FitOptions.Hooks).
	Fit nn.FitConfig
}

// FitFeaturized trains head (from Trainable or HeadGraph) on featurized
// folders (DL4J TransferLearningHelper.fitFeaturized), streaming them a
// shard at a time, so memory does not grow with their size. Folders of
// several runs (parts, or other data through the same frozen part) train
// together. Without shuffling it gives the weights of an in-memory fit of
// the same batches; with the same seed, batch size and in-order batches it
// gives the weights a fit of the full network gives, since the frozen part
// computes the same values. Merge the result back with MergeHead.
func FitFeaturized(head *ir.Graph, dir string, opt FitFeaturizedOptions, more ...string) (*nn.FitResult, error) {
	r, err := Fit(head, FitOptions{Train: FitData{Featurized: append([]string{dir}, more...)}, BatchSize: opt.BatchSize,
		Shuffle: opt.Shuffle, Seed: opt.Seed, ShuffleBuffer: opt.ShuffleBuffer, AllowIncomplete: opt.AllowIncomplete,
		History: opt.History, HistoryEvery: opt.HistoryEvery, Plot: opt.Plot, Hooks: opt.Fit, head: true})
	if r == nil {
		return nil, err
	}
	return r.Fit, err
}

// FeaturizedIterator streams a featurized folder as head's inputs and
// labels (batch size default 32); it refuses a folder with missing parts.
func FeaturizedIterator(head *ir.Graph, dir string, batchSize int, shuffle bool, seed int64) (*FeaturizedStream, error) {
	return OpenFeaturizedStream(head, []string{dir}, StreamOptions{BatchSize: batchSize, Shuffle: shuffle, Seed: seed}, false)
}

// OpenFeaturizedStream reads the indexes of dirs (ReadFeaturized), refuses
// missing parts unless allowIncomplete, and streams them for head.
func OpenFeaturizedStream(head *ir.Graph, dirs []string, opt StreamOptions, allowIncomplete bool) (*FeaturizedStream, error) {
	set, err := ReadFeaturized(dirs...)
	if err != nil {
		return nil, err
	}
	if !allowIncomplete {
		if err := set.Complete(); err != nil {
			return nil, err
		}
	}
	return NewFeaturizedStream(head, set, opt)
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
