package retarget

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
	"github.com/retarget-dev/retarget/npy"
)

func TestPartBoundsTileTheSource(t *testing.T) {
	for _, total := range []int{0, 1, 5, 20, 250, 1000} {
		for _, batch := range []int{1, 7, 16, 64} {
			for _, n := range []int{1, 2, 3, 7, 40} {
				next, empty := 0, 0
				nb := (total + batch - 1) / batch
				for i := 0; i < n; i++ {
					lo, hi := Part{Index: i, Count: n}.Bounds(total, batch)
					if lo != next || hi < lo || (lo%batch != 0 && lo != total) {
						t.Fatalf("total %d batch %d part %d/%d: [%d, %d) after %d", total, batch, i, n, lo, hi, next)
					}
					// balanced: every part has ⌊B/N⌋ or ⌈B/N⌉ batches
					if b := (hi - lo + batch - 1) / batch; b < nb/n || b > (nb+n-1)/n {
						t.Fatalf("total %d batch %d part %d/%d holds %d batches of %d", total, batch, i, n, b, nb)
					}
					if lo == hi {
						empty++
					}
					next = hi
				}
				if next != total {
					t.Fatalf("total %d batch %d parts %d end at %d", total, batch, n, next)
				}
				if n > nb && empty != n-nb {
					t.Fatalf("total %d batch %d: %d empty parts of %d", total, batch, empty, n)
				}
			}
		}
	}
}

func TestParsePartAndEnvironment(t *testing.T) {
	if p, err := ParsePart("3/7"); err != nil || p != (Part{3, 7}) {
		t.Fatal(p, err)
	}
	for _, bad := range []string{"7/7", "-1/3", "3", "a/b", "1/0", "0/100000"} {
		if _, err := ParsePart(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	cases := []struct {
		env   func(string) string
		count int
		want  Part
		err   string
	}{
		{env("JOB_COMPLETION_INDEX", "2", "JOB_COMPLETIONS", "5"), 0, Part{2, 5}, ""},
		{env("JOB_COMPLETION_INDEX", "2"), 4, Part{2, 4}, ""},
		{env("JOB_COMPLETION_INDEX", "2"), 0, Part{}, "JOB_COMPLETIONS"},
		{env("JOB_COMPLETION_INDEX", "5", "JOB_COMPLETIONS", "5"), 0, Part{}, "[0, 5)"},
		{env("SLURM_ARRAY_TASK_ID", "3", "SLURM_ARRAY_TASK_COUNT", "3", "SLURM_ARRAY_TASK_MIN", "1"), 0, Part{2, 3}, ""},
		{env("SLURM_ARRAY_TASK_ID", "0", "SLURM_ARRAY_TASK_COUNT", "4"), 0, Part{0, 4}, ""},
		{env("SLURM_ARRAY_TASK_ID", "x", "SLURM_ARRAY_TASK_COUNT", "4"), 0, Part{}, "not a number"},
		{env(), 3, Part{}, "JOB_COMPLETION_INDEX"},
	}
	for i, c := range cases {
		p, err := PartFromEnv(c.env, c.count)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("case %d: %v, want an error with %q", i, err, c.err)
			}
			continue
		}
		if err != nil || p != c.want {
			t.Errorf("case %d: %v %v, want %v", i, p, err, c.want)
		}
	}
	if _, err := PartFromEnv(env(), 0); !errors.Is(err, ErrNoPartEnv) {
		t.Fatal(err)
	}
}

// npySource writes n examples of deepMLP's input with class labels.
func npySource(t testing.TB, n int) DataSpec {
	dir := t.TempDir()
	x := randTensor(31, n, 8)
	y := make([]float32, n)
	for i := range y {
		y[i] = float32(i % 3)
	}
	spec := DataSpec{Type: "npy", Features: filepath.Join(dir, "x.npy"), Labels: filepath.Join(dir, "y.npy")}
	if err := npy.WriteFile(spec.Features, x.Shape, x.Data); err != nil {
		t.Fatal(err)
	}
	if err := npy.WriteFile(spec.Labels, []int{n}, y); err != nil {
		t.Fatal(err)
	}
	return spec
}

func featurizePart(t testing.TB, g *ir.Graph, spec DataSpec, dir string, p Part, batch, shardSize int) *ShardIndex {
	t.Helper()
	ds, err := OpenData(spec, g, DataOptions{BatchSize: batch, Part: p})
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	idx, err := Featurize(g, ds, dir, FeaturizeOptions{ShardSize: shardSize, DataID: ds.ID, Part: ds.PartInfo})
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func sameBits(a, b *ir.Tensor) bool {
	if !ir.SameShape(a.Shape, b.Shape) {
		return false
	}
	for i := range a.Data {
		if math.Float32bits(a.Data[i]) != math.Float32bits(b.Data[i]) {
			return false
		}
	}
	return true
}

// The union of N parts is a single-process featurize, example by example,
// bit for bit, for sizes that do not divide and parts with no example.
func TestPartsEqualOneProcess(t *testing.T) {
	g, _, _ := featurizeSetup(t, 1)
	for _, n := range []int{250, 20} {
		spec := npySource(t, n)
		whole := t.TempDir()
		featurizePart(t, g, spec, whole, Part{}, 8, 40)
		_, wantIn, wantLab, err := LoadShards(whole)
		if err != nil {
			t.Fatal(err)
		}
		for _, parts := range []int{1, 3, 7} {
			dir := t.TempDir()
			empty := 0
			for i := 0; i < parts; i++ {
				idx := featurizePart(t, g, spec, dir, Part{Index: i, Count: parts}, 8, 40)
				if idx.Count == 0 {
					empty++
				}
			}
			if n == 20 && parts == 7 && empty != 4 {
				t.Fatalf("20 examples in batches of 8 over 7 parts: %d empty parts, want 4", empty)
			}
			_, in, lab, err := LoadShards(dir)
			if err != nil {
				t.Fatalf("%d parts: %v", parts, err)
			}
			if !sameBits(in[0], wantIn[0]) || !sameBits(lab[0], wantLab[0]) {
				t.Fatalf("%d examples in %d parts differ from one process (shapes %v %v)", n, parts, in[0].Shape, wantIn[0].Shape)
			}
			st, err := FeaturizedStatus(dir)
			if err != nil || !st.Complete() || st.Count != n || (parts > 1 && st.Parts != parts) {
				t.Fatalf("status %+v %v", st, err)
			}
		}
	}
}

// failAfter gives k batches of it, then an error: a process that dies.
type failAfter struct {
	nn.Iterator
	k int
}

func (f *failAfter) Next() (*nn.Batch, error) {
	if f.k == 0 {
		return nil, errors.New("killed")
	}
	f.k--
	return f.Iterator.Next()
}

func TestKilledPartIsMissingAndRerunRedoesOnlyIt(t *testing.T) {
	g, _, _ := featurizeSetup(t, 1)
	spec := npySource(t, 100)
	dir := t.TempDir()
	featurizePart(t, g, spec, dir, Part{0, 3}, 8, 10)
	featurizePart(t, g, spec, dir, Part{2, 3}, 8, 10)
	ds, err := OpenData(spec, g, DataOptions{BatchSize: 8, Part: Part{1, 3}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Featurize(g, &failAfter{ds, 3}, dir, FeaturizeOptions{ShardSize: 10, DataID: ds.ID, Part: ds.PartInfo}); err == nil {
		t.Fatal("the failing part reported success")
	}
	shards, _ := filepath.Glob(filepath.Join(dir, Part{1, 3}.Name(), "shard-*"))
	if len(shards) == 0 {
		t.Fatal("the killed part wrote no shard: the test does not test a half-written part")
	}
	st, err := FeaturizedStatus(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Complete() || fmt.Sprint(st.Missing) != "[1]" || fmt.Sprint(st.Started) != "[1]" || len(st.Present) != 2 {
		t.Fatalf("status %+v", st)
	}
	head, _ := Trainable(g)
	_, err = FeaturizedIterator(head, dir, 8, false, 0)
	var inc *IncompleteError
	if !errors.As(err, &inc) || !strings.Contains(err.Error(), "missing 1 (started, not finished)") {
		t.Fatalf("fitting an incomplete folder: %v", err)
	}
	// allowed explicitly, the present parts train
	st2, err := OpenFeaturizedStream(head, []string{dir}, StreamOptions{BatchSize: 8}, true)
	if err != nil || st2.Len() != st.Count {
		t.Fatalf("%v %d", err, st.Count)
	}
	st2.Close()
	again := featurizePart(t, g, spec, dir, Part{0, 3}, 8, 10)
	if !again.Reused {
		t.Fatal("a finished part was featurized again")
	}
	redo := featurizePart(t, g, spec, dir, Part{1, 3}, 8, 10)
	if redo.Reused || redo.Count == 0 {
		t.Fatalf("%+v", redo)
	}
	whole := t.TempDir()
	featurizePart(t, g, spec, whole, Part{}, 8, 10)
	_, a, _, err := LoadShards(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, b, _, _ := LoadShards(whole)
	if !sameBits(a[0], b[0]) {
		t.Fatal("rerun parts differ from one process")
	}
	// a part of another partition in the same folder is refused
	featurizePart(t, g, spec, dir, Part{0, 2}, 8, 10)
	if _, err := ReadFeaturized(dir); err == nil || !strings.Contains(err.Error(), "parts of two runs") {
		t.Fatalf("mixed partitions: %v", err)
	}
}

func TestFoldersMustAgree(t *testing.T) {
	g, _, _ := featurizeSetup(t, 1)
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	featurizePart(t, g, npySource(t, 30), a, Part{}, 8, 16)
	featurizePart(t, g, npySource(t, 50), b, Part{}, 8, 16)
	set, err := ReadFeaturized(a, b)
	if err != nil || set.Count != 80 || len(set.Shards) != 6 {
		t.Fatalf("%v %+v", err, set)
	}
	// another boundary and other frozen weights
	g2 := mustBuild(t, New(deepMLP(t)).FreezeThrough("f1"))
	g2.Vertex("f1").Params["W"].Data[0] += 1
	featurizePart(t, g2, npySource(t, 10), c, Part{}, 8, 16)
	_, err = ReadFeaturized(a, b, c)
	if err == nil {
		t.Fatal("disagreeing folders accepted")
	}
	for _, w := range []string{c, "boundary [f1], not [f2]", "features", "frozen_key"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

func collect(t *testing.T, it nn.Iterator) (rows [][]float32, sizes []int) {
	t.Helper()
	if err := it.Reset(); err != nil {
		t.Fatal(err)
	}
	for {
		b, err := it.Next()
		if errors.Is(err, io.EOF) {
			return rows, sizes
		}
		if err != nil {
			t.Fatal(err)
		}
		n := b.Size()
		sizes = append(sizes, n)
		per := len(b.Inputs[0].Data) / n
		for i := 0; i < n; i++ {
			row := append([]float32(nil), b.Inputs[0].Data[i*per:(i+1)*per]...)
			row = append(row, b.Labels[len(b.Labels)-1].Data[i*3:(i+1)*3]...)
			rows = append(rows, row)
		}
	}
}

func rowKeys(rows [][]float32) []string {
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprint(r))
	}
	return out
}

func TestStreamMatchesInMemory(t *testing.T) {
	g, _, _ := featurizeSetup(t, 1)
	dir := t.TempDir()
	spec := npySource(t, 230)
	for i := 0; i < 3; i++ {
		featurizePart(t, g, spec, dir, Part{i, 3}, 16, 25)
	}
	head, _ := Trainable(g)
	_, ins, labs, err := LoadShards(dir)
	if err != nil {
		t.Fatal(err)
	}
	// in order: the batches and the fitted weights of an in-memory fit
	mem, _ := nn.NewSliceIterator(ins, labs, 32, false, 0)
	st, err := FeaturizedIterator(head, dir, 32, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	wantRows, wantSizes := collect(t, mem)
	gotRows, gotSizes := collect(t, st)
	if fmt.Sprint(gotSizes) != fmt.Sprint(wantSizes) || fmt.Sprint(gotRows) != fmt.Sprint(wantRows) {
		t.Fatal("unshuffled stream differs from the in-memory batches")
	}
	h1, h2 := head.Clone(), head.Clone()
	n1, _ := nn.Compile(h1)
	n2, _ := nn.Compile(h2)
	mem.Reset()
	if _, err := n1.Fit(mem, nn.FitConfig{Epochs: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := FitFeaturized(h2, dir, FitFeaturizedOptions{BatchSize: 32, Fit: nn.FitConfig{Epochs: 2}}); err != nil {
		t.Fatal(err)
	}
	_ = n2
	for _, v := range h1.Vertices {
		for k, p := range v.Params {
			if !sameBits(p, h2.Vertex(v.Name).Params[k]) {
				t.Fatalf("%s/%s: streamed fit differs from the in-memory fit", v.Name, k)
			}
		}
	}

	// a buffer smaller than the set: every example once per epoch, in an
	// order that changes with the epoch and is the same for the same seed
	sh, _ := OpenFeaturizedStream(head, []string{dir}, StreamOptions{BatchSize: 32, Shuffle: true, Seed: 9, ShuffleBuffer: 40}, false)
	defer sh.Close()
	e0, _ := collect(t, sh)
	e1, _ := collect(t, sh)
	sh2, _ := OpenFeaturizedStream(head, []string{dir}, StreamOptions{BatchSize: 32, Shuffle: true, Seed: 9, ShuffleBuffer: 40}, false)
	defer sh2.Close()
	r0, _ := collect(t, sh2)
	want := rowKeys(wantRows)
	sort.Strings(want)
	for _, e := range [][][]float32{e0, e1} {
		got := rowKeys(e)
		sort.Strings(got)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatal("a shuffled epoch is not every example once")
		}
	}
	if fmt.Sprint(e0) == fmt.Sprint(e1) || fmt.Sprint(e0) == fmt.Sprint(wantRows) {
		t.Fatal("shuffling does not change the order")
	}
	if fmt.Sprint(e0) != fmt.Sprint(r0) {
		t.Fatal("the same seed gives another order")
	}
	// an epoch cut short (early stopping) and restarted reads from the start
	sh.Reset()
	sh.Next()
	again, _ := collect(t, sh)
	if len(again) != len(wantRows) {
		t.Fatalf("restarted epoch: %d rows, want %d", len(again), len(wantRows))
	}
}

func TestStreamRefusesDamagedShard(t *testing.T) {
	g, _, _ := featurizeSetup(t, 1)
	dir := t.TempDir()
	featurizePart(t, g, npySource(t, 60), dir, Part{}, 8, 20)
	head, _ := Trainable(g)
	st, err := FeaturizedIterator(head, dir, 8, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := npy.WriteFile(filepath.Join(dir, "shard-00001.features.npy"), []int{19, 24}, make([]float32, 19*24)); err != nil {
		t.Fatal(err)
	}
	st.Reset()
	var last error
	for {
		if _, last = st.Next(); last != nil {
			break
		}
	}
	if errors.Is(last, io.EOF) || !strings.Contains(last.Error(), "the index says") {
		t.Fatalf("damaged shard: %v", last)
	}
	os.Remove(filepath.Join(dir, "shard-00002.labels.npy"))
	if _, err := ReadFeaturized(dir); err == nil || !strings.Contains(err.Error(), "shard file missing") {
		t.Fatalf("missing shard file: %v", err)
	}
}

// BenchmarkFeaturizedStream reads a featurized folder of 64 shards (about
// 8 MiB) once per op, shuffled through the default buffer.
func BenchmarkFeaturizedStream(b *testing.B) {
	g, _, _ := featurizeSetup(b, 1)
	dir := b.TempDir()
	featurizePart(b, g, npySource(b, 64*1024), dir, Part{}, 256, 1024)
	head, _ := Trainable(g)
	st, err := FeaturizedIterator(head, dir, 32, true, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	b.SetBytes(int64(st.Len()) * (24 + 3) * 4)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st.Reset()
		for {
			if _, err := st.Next(); err != nil {
				break
			}
		}
	}
}
