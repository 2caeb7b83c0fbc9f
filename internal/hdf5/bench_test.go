package hdf5

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/retarget-dev/retarget/internal/testenv"
)

const benchElems = 50 << 20 // 50 Mi float32 = 200 MiB

// BenchmarkReadLargeContiguous reads a ~200 MiB contiguous float32 dataset
// (written by our Writer into a temp dir) with ReadInto, and, when python3
// with h5py is available, times h5py on the same file and reports
// h5py_MB/s and the ratio ours/h5py.
func BenchmarkReadLargeContiguous(b *testing.B) {
	path := filepath.Join(b.TempDir(), "big.h5")
	src := make([]float32, benchElems)
	for i := range src {
		src[i] = float32(i)
	}
	w, err := Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := w.Root().CreateDataset("data", []uint64{benchElems}, src); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	d, err := f.Root().Dataset("data")
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]float32, benchElems)
	if err := d.ReadInto(dst); err != nil { // warm the page cache
		b.Fatal(err)
	}
	if dst[12345] != 12345 {
		b.Fatal("bad data")
	}
	b.SetBytes(benchElems * 4)
	best := time.Duration(1 << 62)
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if err := d.ReadInto(dst); err != nil {
			b.Fatal(err)
		}
		best = min(best, time.Since(t0))
	}
	b.StopTimer()
	ours := float64(benchElems*4) / 1e6 / best.Seconds()
	b.ReportMetric(ours, "best_MB/s")
	script := filepath.Join("..", "..", "testdata", "gen", "hdf5_bench_h5py.py")
	py, err := testenv.Python("h5py", "numpy")
	if err != nil {
		b.Logf("h5py comparison skipped: %v", err)
		return
	}
	out, err := exec.Command(py, script, path, "data", "5").Output()
	if err != nil {
		b.Logf("h5py comparison skipped: %v", err)
		return
	}
	fields := strings.Fields(string(out))
	if len(fields) >= 2 {
		if h, err := strconv.ParseFloat(fields[1], 64); err == nil && h > 0 {
			b.ReportMetric(h, "h5py_MB/s")
			b.ReportMetric(ours/h, "ours/h5py")
		}
	}
	fmt.Printf("BenchmarkReadLargeContiguous: ours best %.0f MB/s; h5py: %s", ours, out)
}
