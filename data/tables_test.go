package data

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/internal/hdf5"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/npy"
)

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCSV(t *testing.T) {
	d := t.TempDir()
	p := writeFile(t, d, "a.csv", "x1,x2,label\n1,2,0\n3,4,2\n\n5,6,1\n")
	tb, err := ReadCSV(p, CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(tb.Header, ",") != "x1,x2,label" || tb.NumClasses != 3 {
		t.Fatalf("header %v classes %d", tb.Header, tb.NumClasses)
	}
	if !ir.SameShape(tb.X.Shape, []int{3, 2}) || tb.X.Data[4] != 5 || !ir.SameShape(tb.Y.Shape, []int{3, 3}) || tb.Y.Data[3+2] != 1 {
		t.Fatalf("x %v y %v", tb.X.Data, tb.Y.Data)
	}
	// no header, label first, integer labels
	p = writeFile(t, d, "b.csv", "1;0.5;0.25\n0;1.5;2.5\n")
	tb, err = ReadCSV(p, CSVOptions{LabelColumn: 1, Comma: ';', Labels: Index, NumClasses: 2})
	if err != nil {
		t.Fatal(err)
	}
	if tb.Header != nil || !ir.SameShape(tb.Y.Shape, []int{2, 1}) || tb.Y.Data[0] != 1 || tb.X.Data[1] != 0.25 {
		t.Fatalf("x %v y %v", tb.X.Data, tb.Y.Data)
	}
	it, err := tb.Iterator(1, true, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(drain(t, it)) != 2 {
		t.Fatal("batches")
	}
	// regression keeps values
	tb, err = ReadCSV(p, CSVOptions{Regression: true, Comma: ';'})
	if err != nil || tb.Y.Data[1] != 2.5 {
		t.Fatalf("%v %v", err, tb)
	}
	// errors name the file and line
	p = writeFile(t, d, "bad.csv", "1,2,0\n1,x,1\n")
	var ce *CSVError
	if _, err := ReadCSV(p, CSVOptions{}); !errors.As(err, &ce) || ce.Line != 2 {
		t.Fatalf("want a line-2 CSV error, got %v", err)
	}
	p = writeFile(t, d, "frac.csv", "1,2,0.5\n")
	if _, err := ReadCSV(p, CSVOptions{}); err == nil || !strings.Contains(err.Error(), "class") {
		t.Fatalf("fractional class accepted: %v", err)
	}
	p = writeFile(t, d, "ragged.csv", "1,2,0\n1,1\n")
	if _, err := ReadCSV(p, CSVOptions{}); err == nil {
		t.Fatal("ragged rows accepted")
	}
}

func TestTableSplit(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 10; i++ {
		b.WriteString(strings.Repeat("1,", 1) + string(rune('0'+i%2)) + "\n")
	}
	tb, err := ReadCSV(writeFile(t, t.TempDir(), "s.csv", b.String()), CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tr, te, err := tb.Split(0.3, 5)
	if err != nil || tr.X.Shape[0] != 7 || te.X.Shape[0] != 3 || te.Y.Shape[1] != 2 {
		t.Fatalf("%v %v %v", err, tr.X.Shape, te.X.Shape)
	}
}

func TestNPY(t *testing.T) {
	d := t.TempDir()
	xp, yp := filepath.Join(d, "x.npy"), filepath.Join(d, "y.npy")
	npy.WriteFile(xp, []int{3, 2}, []float32{1, 2, 3, 4, 5, 6})
	npy.WriteFile(yp, []int{3}, []float32{1, 0, 1})
	tb, err := ReadNPY(xp, yp, ArrayOptions{NumClasses: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !ir.SameShape(tb.Y.Shape, []int{3, 2}) || tb.Y.Data[1] != 1 || tb.Y.Data[2] != 1 {
		t.Fatalf("y %v %v", tb.Y.Shape, tb.Y.Data)
	}
	tb, _ = ReadNPY(xp, yp, ArrayOptions{})
	if !ir.SameShape(tb.Y.Shape, []int{3, 1}) {
		t.Fatalf("raw labels %v", tb.Y.Shape)
	}
	npy.WriteFile(yp, []int{2}, []float32{1, 0})
	if _, err := ReadNPY(xp, yp, ArrayOptions{}); err == nil {
		t.Fatal("mismatched example counts accepted")
	}
}

func TestHDF5(t *testing.T) {
	p := filepath.Join(t.TempDir(), "d.h5")
	w, err := hdf5.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Root().CreateDataset("x_train", []uint64{2, 3}, []float32{1, 2, 3, 4, 5, 6}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Root().CreateDataset("y_train", []uint64{2}, []int64{2, 0}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	tb, err := ReadHDF5(p, "x_train", "y_train", ArrayOptions{NumClasses: 3})
	if err != nil {
		t.Fatal(err)
	}
	if tb.X.Data[5] != 6 || tb.Y.Data[2] != 1 || tb.Y.Data[3] != 1 {
		t.Fatalf("x %v y %v", tb.X.Data, tb.Y.Data)
	}
	if _, err := ReadHDF5(p, "x_train", "nope", ArrayOptions{}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("missing dataset: %v", err)
	}
}

func TestCSVSequences(t *testing.T) {
	d := t.TempDir()
	fd, ld := filepath.Join(d, "features"), filepath.Join(d, "labels")
	writeFile(t, fd, "0.csv", "1,2\n3,4\n5,6\n")
	writeFile(t, ld, "0.csv", "1\n")
	writeFile(t, fd, "10.csv", "7,8\n")
	writeFile(t, ld, "10.csv", "0\n")
	writeFile(t, fd, "2.csv", "9,9\n9,9\n")
	writeFile(t, ld, "2.csv", "1\n")
	s, err := ReadCSVSequences(fd, ld, SequenceOptions{NumClasses: 2, AlignEnd: true})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(s.Names, " ") != "0.csv 2.csv 10.csv" {
		t.Fatalf("order %v", s.Names)
	}
	if !ir.SameShape(s.X.Shape, []int{3, 3, 2}) || !ir.SameShape(s.Y.Shape, []int{3, 3, 2}) {
		t.Fatalf("shapes %v %v", s.X.Shape, s.Y.Shape)
	}
	wantMask := []float32{1, 1, 1, 1, 1, 0, 1, 0, 0}
	wantLab := []float32{0, 0, 1, 0, 1, 0, 1, 0, 0}
	for i := range wantMask {
		if s.Mask.Data[i] != wantMask[i] || s.LabelMask.Data[i] != wantLab[i] {
			t.Fatalf("mask %v label mask %v", s.Mask.Data, s.LabelMask.Data)
		}
	}
	// sequence 0's label (class 1) sits at its last step
	if s.Y.Data[(0*3+2)*2+1] != 1 {
		t.Fatalf("y %v", s.Y.Data)
	}
	it, _ := s.Iterator(2, false, 0)
	bs := drain(t, it)
	if len(bs) != 2 || bs[0].InputMask == nil || bs[0].LabelMasks[0].Shape[1] != 3 {
		t.Fatal("sequence batches")
	}
	writeFile(t, ld, "2.csv", "1\n0\n1\n")
	if _, err := ReadCSVSequences(fd, ld, SequenceOptions{NumClasses: 2, AlignEnd: true}); err == nil {
		t.Fatal("more labels than steps accepted")
	}
}
