package retarget

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/npy"
)

// FeaturizedSet is one or more featurized folders read as one data set:
// single-process folders (an index.json) and folders of parts written by
// featurize --shard (part-IIIII-of-NNNNN subfolders), in the order given,
// each in example order. ReadFeaturized reads only the indexes; the shards
// are streamed by FeaturizedStream.
type FeaturizedSet struct {
	Boundary  []string
	Inputs    []ShardArray
	Labels    []ShardArray
	FrozenKey string
	Shards    []ShardFile // every shard of every complete part, in example order
	Count     int         // examples in Shards
	Bytes     int64       // size of the shard files
	Folders   []FolderStatus
}

// ShardFile is one shard of a FeaturizedSet.
type ShardFile struct {
	Dir, Prefix string
	Count       int
}

// FolderStatus is what one featurized folder holds.
type FolderStatus struct {
	Dir string
	// Parts is the number of parts of a partitioned folder (0: written by
	// one process, with its own index.json).
	Parts   int
	Present []PartStatus
	// Missing are the parts with no complete index; Started are those of
	// them whose folder exists (a run still going, or one that was killed:
	// rerun it).
	Missing, Started []int
	Total            int // examples of the source (partitioned folders)
	Count            int // examples present
	Bytes            int64
}

// PartStatus is one complete part.
type PartStatus struct {
	Index, First, Count int
	Bytes               int64
}

// Complete reports whether every part of the folder is there.
func (f FolderStatus) Complete() bool { return len(f.Missing) == 0 }

// IncompleteError lists the missing parts of featurized folders.
type IncompleteError struct{ Folders []FolderStatus }

func (e *IncompleteError) Error() string {
	var msgs []string
	for _, f := range e.Folders {
		if f.Complete() {
			continue
		}
		msgs = append(msgs, fmt.Sprintf("%s has %d of %d parts; missing %s", f.Dir, len(f.Present), f.Parts, PartList(f.Missing, f.Started)))
	}
	return "featurized data incomplete: " + strings.Join(msgs, "; ") + " (run the missing parts with 'retarget featurize ... --shard I/N', or allow an incomplete set)"
}

// PartList writes part numbers, marking those started and not finished.
func PartList(missing, started []int) string {
	st := map[int]bool{}
	for _, i := range started {
		st[i] = true
	}
	var out []string
	for i, p := range missing {
		if i == 20 {
			out = append(out, fmt.Sprintf("… (%d more)", len(missing)-20))
			break
		}
		s := fmt.Sprint(p)
		if st[p] {
			s += " (started, not finished)"
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

// Complete returns an *IncompleteError when a part of a folder is missing.
func (s *FeaturizedSet) Complete() error {
	for _, f := range s.Folders {
		if !f.Complete() {
			return &IncompleteError{Folders: s.Folders}
		}
	}
	return nil
}

// ReadFeaturized reads the indexes of featurized folders (each written by
// Featurize, whole or in parts) and checks that they agree: the same
// boundary, the same arrays and the same frozen part; parts of one folder
// must also come from one partition of one source. Every disagreement is
// reported at once. Missing parts are not an error here (see Complete).
func ReadFeaturized(dirs ...string) (*FeaturizedSet, error) {
	if len(dirs) == 0 {
		return nil, errors.New("no featurized folder given")
	}
	set := &FeaturizedSet{}
	var problems []string
	first := ""
	for _, dir := range dirs {
		idxs, status, err := readFolder(dir)
		if err != nil {
			return nil, err
		}
		set.Folders = append(set.Folders, status)
		for _, idx := range idxs {
			if msg := set.agree(idx, first); msg != "" {
				problems = append(problems, msg)
				continue
			}
			if first == "" {
				first = idx.Dir
			}
			for _, s := range idx.Shards {
				set.Shards = append(set.Shards, ShardFile{Dir: idx.Dir, Prefix: s.Prefix, Count: s.Count})
			}
			set.Count += idx.Count
			set.Bytes += idx.Bytes
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("featurized folders do not agree: %s", strings.Join(dedupe(problems), "; "))
	}
	if first == "" {
		return nil, fmt.Errorf("%s: no complete featurized part yet", strings.Join(dirs, ", "))
	}
	return set, nil
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// agree folds idx into the set's description, or says how it differs
// from the first index (at firstDir). Parts without examples carry no
// labels and take the others'.
func (s *FeaturizedSet) agree(idx *ShardIndex, firstDir string) string {
	if firstDir == "" {
		s.Boundary, s.Inputs, s.FrozenKey = idx.Boundary, idx.Inputs, idx.FrozenKey
		if idx.Count > 0 {
			s.Labels = idx.Labels
		}
		return ""
	}
	var diffs []string
	if !sameStrings(idx.Boundary, s.Boundary) {
		diffs = append(diffs, fmt.Sprintf("boundary %v, not %v", idx.Boundary, s.Boundary))
	}
	if !sameArrays(idx.Inputs, s.Inputs) {
		diffs = append(diffs, fmt.Sprintf("features %s, not %s", arraysText(idx.Inputs), arraysText(s.Inputs)))
	}
	if idx.FrozenKey != s.FrozenKey {
		diffs = append(diffs, "another frozen network (frozen_key differs: other weights or layers)")
	}
	if idx.Count > 0 {
		if s.Labels == nil && s.Count == 0 {
			s.Labels = idx.Labels
		} else if !sameArrays(idx.Labels, s.Labels) {
			diffs = append(diffs, fmt.Sprintf("labels %s, not %s", arraysText(idx.Labels), arraysText(s.Labels)))
		}
	}
	if len(diffs) == 0 {
		return ""
	}
	return fmt.Sprintf("%s has %s (as in %s)", idx.Dir, strings.Join(diffs, ", "), firstDir)
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sameArrays(a, b []ShardArray) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Suffix != b[i].Suffix || !ir.SameShape(a[i].Shape, b[i].Shape) {
			return false
		}
	}
	return true
}

func arraysText(as []ShardArray) string {
	var out []string
	for _, a := range as {
		out = append(out, fmt.Sprintf("%s%v", a.Name, a.Shape))
	}
	return "[" + strings.Join(out, " ") + "]"
}

// IsFeaturized reports whether dir looks like a featurized folder: an
// index.json or part folders.
func IsFeaturized(dir string) bool {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return false
	}
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err == nil {
		return true
	}
	subs, err := partDirs(dir)
	return err == nil && len(subs) > 0
}

// FeaturizedStatus reads what one featurized folder holds (parts present
// and missing) without reading its shards.
func FeaturizedStatus(dir string) (FolderStatus, error) {
	_, st, err := readFolder(dir)
	return st, err
}

// readFolder reads a single-process folder's index, or the indexes of the
// parts under dir in part order, checking that the parts form one partition.
func readFolder(dir string) ([]*ShardIndex, FolderStatus, error) {
	status := FolderStatus{Dir: dir}
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return nil, status, fmt.Errorf("%s: no such folder, so no featurized data; write one with 'retarget featurize MODEL --data SOURCE --out %s'", dir, dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err == nil {
		idx, err := readIndex(filepath.Join(dir, "index.json"))
		if err != nil {
			return nil, status, err
		}
		if idx.Part != nil {
			return nil, status, fmt.Errorf("%s: the index of one part (%d of %d); give the folder above it", dir, idx.Part.Index, idx.Part.Count)
		}
		if err := checkShardFiles(dir, idx); err != nil {
			return nil, status, err
		}
		status.Count, status.Bytes, status.Total = idx.Count, idx.Bytes, idx.Count
		status.Present = []PartStatus{{Count: idx.Count, Bytes: idx.Bytes}}
		return []*ShardIndex{idx}, status, nil
	}
	subs, err := partDirs(dir)
	if err != nil {
		return nil, status, err
	}
	byIndex := map[int]*ShardIndex{}
	started := map[int]bool{}
	var problems []string
	var ref *ShardIndex
	for _, sub := range subs {
		p, ok := parsePartName(filepath.Base(sub))
		if !ok {
			continue
		}
		if status.Parts == 0 {
			status.Parts = p.Count
		} else if p.Count != status.Parts {
			problems = append(problems, fmt.Sprintf("%s is a part of %d, others of %d (parts of two runs in one folder: remove one run's)", filepath.Base(sub), p.Count, status.Parts))
			continue
		}
		started[p.Index] = true
		ipath := filepath.Join(sub, "index.json")
		if _, err := os.Stat(ipath); err != nil {
			continue // started, never finished
		}
		idx, err := readIndex(ipath)
		if err != nil {
			return nil, status, err
		}
		idx.Dir = sub
		if idx.Part == nil || idx.Part.Index != p.Index || idx.Part.Count != p.Count {
			problems = append(problems, fmt.Sprintf("%s: its index is not that of part %d of %d", sub, p.Index, p.Count))
			continue
		}
		if err := checkShardFiles(sub, idx); err != nil {
			return nil, status, err
		}
		if ref == nil {
			ref = idx
		} else if d := partsDiffer(ref, idx); d != "" {
			problems = append(problems, fmt.Sprintf("%s and %s come from different runs (%s)", filepath.Base(ref.Dir), filepath.Base(sub), d))
			continue
		}
		lo, hi := p.Bounds(idx.Part.Total, idx.Part.BatchSize)
		if idx.Part.First != lo || idx.Count != hi-lo {
			problems = append(problems, fmt.Sprintf("%s holds examples [%d, %d), its part is [%d, %d)", sub, idx.Part.First, idx.Part.First+idx.Count, lo, hi))
			continue
		}
		byIndex[p.Index] = idx
	}
	if len(problems) > 0 {
		return nil, status, fmt.Errorf("%s: %s", dir, strings.Join(problems, "; "))
	}
	if status.Parts == 0 {
		return nil, status, fmt.Errorf("%s: no index.json and no part folders, so no featurized shards; write them with 'retarget featurize MODEL --data SOURCE --out %s'", dir, dir)
	}
	var idxs []*ShardIndex
	for i := 0; i < status.Parts; i++ {
		idx := byIndex[i]
		if idx == nil {
			status.Missing = append(status.Missing, i)
			if started[i] {
				status.Started = append(status.Started, i)
			}
			continue
		}
		idxs = append(idxs, idx)
		status.Present = append(status.Present, PartStatus{Index: i, First: idx.Part.First, Count: idx.Count, Bytes: idx.Bytes})
		status.Count += idx.Count
		status.Bytes += idx.Bytes
		status.Total = idx.Part.Total
	}
	sort.Ints(status.Missing)
	return idxs, status, nil
}

// partsDiffer says how two parts' runs differ, or "".
func partsDiffer(a, b *ShardIndex) string {
	var d []string
	if a.Key != b.Key {
		d = append(d, "another model or data source: the keys differ")
	}
	if a.Part.Total != b.Part.Total {
		d = append(d, fmt.Sprintf("a source of %d examples, not %d", b.Part.Total, a.Part.Total))
	}
	if a.Part.BatchSize != b.Part.BatchSize {
		d = append(d, fmt.Sprintf("--batch-size %d, not %d", b.Part.BatchSize, a.Part.BatchSize))
	}
	return strings.Join(d, ", ")
}

// checkShardFiles checks an index's names and that its shard files exist,
// and sums their sizes into idx.Bytes.
func checkShardFiles(dir string, idx *ShardIndex) error {
	path := filepath.Join(dir, "index.json")
	idx.Dir, idx.Bytes = dir, 0
	total := 0
	for _, arrs := range [][]ShardArray{idx.Inputs, idx.Labels} {
		for _, a := range arrs {
			if !safeComponent(a.Suffix) {
				return fmt.Errorf("%s: bad suffix %q", path, a.Suffix)
			}
			for _, d := range a.Shape {
				if d <= 0 {
					return fmt.Errorf("%s: array %q has a bad shape %v", path, a.Name, a.Shape)
				}
			}
		}
	}
	for _, s := range idx.Shards {
		if !safeComponent(s.Prefix) {
			return fmt.Errorf("%s: bad shard prefix %q", path, s.Prefix)
		}
		if s.Count <= 0 {
			return fmt.Errorf("%s: shard %s holds %d examples", path, s.Prefix, s.Count)
		}
		total += s.Count
		for _, arrs := range [][]ShardArray{idx.Inputs, idx.Labels} {
			for _, a := range arrs {
				st, err := os.Stat(filepath.Join(dir, s.Prefix+"."+a.Suffix+".npy"))
				if err != nil {
					return fmt.Errorf("%s: shard file missing: %w", path, err)
				}
				idx.Bytes += st.Size()
			}
		}
	}
	if total != idx.Count {
		return fmt.Errorf("%s: shards hold %d examples, the index says %d", path, total, idx.Count)
	}
	return nil
}

// loadShard reads one shard's arrays (head inputs, then labels, as the
// set lists them) into out, reusing out's storage where it is large
// enough, checking each against the index.
func (s *FeaturizedSet) loadShard(f ShardFile, arrs []ShardArray, out [][]float32) error {
	for i, a := range arrs {
		p := filepath.Join(f.Dir, f.Prefix+"."+a.Suffix+".npy")
		arr, err := npy.ReadFileInto(p, out[i])
		if err != nil {
			return err
		}
		if len(arr.Shape) == 0 || arr.Shape[0] != f.Count || !ir.SameShape(arr.Shape[1:], a.Shape) {
			return fmt.Errorf("%s: shape %v, the index says [%d %v]", p, arr.Shape, f.Count, a.Shape)
		}
		out[i] = arr.Data
	}
	return nil
}
