package data

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/retarget-dev/retarget/npy"
)

// The probes read headers and first lines only: a 1 MiB array's probe
// sees its shape, a CSV's probe its first record.
func TestProbes(t *testing.T) {
	dir := t.TempDir()
	x := filepath.Join(dir, "x.npy")
	if err := npy.WriteFile(x, []int{1024, 256}, make([]float32, 1024*256)); err != nil {
		t.Fatal(err)
	}
	h, err := ProbeNPY(x)
	if err != nil || len(h.Shape) != 2 || h.Shape[0] != 1024 || h.Shape[1] != 256 {
		t.Fatalf("ProbeNPY: %v %v", h, err)
	}
	if _, err := ProbeNPY(filepath.Join(dir, "missing.npy")); err == nil {
		t.Fatal("a missing file probes")
	}
	c := filepath.Join(dir, "t.csv")
	os.WriteFile(c, []byte("a,b,c,label\n1,2,3,0\n"), 0o644)
	rec, err := ProbeCSV(c, ',')
	if err != nil || len(rec) != 4 || rec[0] != "a" {
		t.Fatalf("ProbeCSV: %v %v", rec, err)
	}
	img := filepath.Join(dir, "img")
	for _, d := range []string{"zebra", "cat", ".hidden"} {
		os.MkdirAll(filepath.Join(img, d), 0o755)
	}
	if cl, err := ProbeImageClasses(img); err != nil || len(cl) != 2 || cl[0] != "cat" {
		t.Fatalf("ProbeImageClasses: %v %v", cl, err)
	}
	sx, sy := filepath.Join(dir, "sx"), filepath.Join(dir, "sy")
	os.MkdirAll(sx, 0o755)
	os.MkdirAll(sy, 0o755)
	os.WriteFile(filepath.Join(sx, "10.csv"), []byte("1,2,3\n"), 0o644)
	os.WriteFile(filepath.Join(sx, "2.csv"), []byte("1,2,3\n4,5,6\n"), 0o644)
	os.WriteFile(filepath.Join(sy, "2.csv"), []byte("0,1\n"), 0o644)
	sp, err := ProbeSequences(sx, sy)
	if err != nil || sp.First != "2.csv" || sp.Features != 3 || sp.LabelColumns != 2 {
		t.Fatalf("ProbeSequences: %+v %v", sp, err)
	}
	y := filepath.Join(dir, "y.npy")
	npy.WriteFile(y, []int{3}, []float32{0, 2, 3})
	if err := CheckClassNumbers(y, 3, 1<<20); err == nil {
		t.Fatal("class 3 of 3 passes")
	}
	if err := CheckClassNumbers(y, 4, 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := CheckClassNumbers(y, 3, 10); err != nil {
		t.Fatal("a file over the bound is read:", err)
	}
	a, err := Fingerprint([]byte("spec"), img, c)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(img, "cat", "1.png"), []byte("x"), 0o644)
	os.Chtimes(c, time.Now(), time.Now().Add(time.Hour))
	b, _ := Fingerprint([]byte("spec"), img, c)
	if a == b {
		t.Fatal("the fingerprint does not change with the files")
	}
}
