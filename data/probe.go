package data

import (
	"bufio"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/npy"
)

// The probes below read what a source holds without loading its data (as
// image.DecodeConfig does for an image), so that a plan or a command can
// check every source against a model before any work.

// maxProbeLineBytes bounds the first line read from a CSV file.
const maxProbeLineBytes = 1 << 20

// ProbeNPY reads the header of an .npy file: its shape and dtype.
// Fortran-order arrays are refused (the readers refuse them too).
func ProbeNPY(path string) (npy.Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return npy.Header{}, err
	}
	defer f.Close()
	h, _, err := npy.ReadHeader(bufio.NewReader(f))
	if err != nil {
		return h, fmt.Errorf("%s: %w", path, err)
	}
	if h.Fortran {
		return h, fmt.Errorf("%s: Fortran-order arrays are not supported: save with np.ascontiguousarray(a)", path)
	}
	return h, nil
}

// ProbeCSV reads the first record of a CSV file (at most 1 MiB).
func ProbeCSV(path string, comma rune) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(io.LimitReader(f, maxProbeLineBytes))
	if comma != 0 {
		r.Comma = comma
	}
	r.FieldsPerRecord = -1
	rec, err := r.Read()
	if err == io.EOF {
		return nil, errors.New("the file is empty")
	}
	if err != nil {
		return nil, fmt.Errorf("first line: %w", err)
	}
	return rec, nil
}

// ProbeImageClasses lists the class subfolders of an image folder, in the
// order ScanImageFolder numbers them, without listing the images.
func ProbeImageClasses(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// SequenceProbe is what the first file of a CSV-sequence source holds.
type SequenceProbe struct {
	First    string // the first file name, in ReadCSVSequences's order
	Features int    // columns of its first line: features per step
	// LabelColumns is the columns of the first line of its label file
	// (-1 when the label folder has no such file).
	LabelColumns int
	LabelErr     error // why the label file could not be read, when it exists
}

// ProbeSequences reads the first line of the first sequence file and of
// its label file.
func ProbeSequences(featuresDir, labelsDir string) (SequenceProbe, error) {
	p := SequenceProbe{LabelColumns: -1}
	entries, err := os.ReadDir(featuresDir)
	if err != nil {
		return p, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return p, errors.New("holds no sequence files")
	}
	sort.Slice(names, func(i, j int) bool { return seqLess(names[i], names[j]) })
	p.First = names[0]
	rec, err := ProbeCSV(filepath.Join(featuresDir, p.First), ',')
	if err != nil {
		return p, fmt.Errorf("%s: %w", p.First, err)
	}
	p.Features = len(rec)
	lpath := filepath.Join(labelsDir, p.First)
	if _, err := os.Stat(lpath); err != nil {
		return p, nil
	}
	if lrec, err := ProbeCSV(lpath, ','); err != nil {
		p.LabelErr = err
	} else {
		p.LabelColumns = len(lrec)
	}
	return p, nil
}

// CheckClassNumbers reads a class-number label array whole when it is at
// most maxBytes (larger ones are left to the reader) and reports the
// first value that is not a class number below k.
func CheckClassNumbers(path string, k int, maxBytes int64) error {
	fi, err := os.Stat(path)
	if err != nil || fi.Size() > maxBytes {
		return nil
	}
	a, err := npy.ReadFile(path)
	if err != nil {
		return err
	}
	for i, v := range a.Data {
		f := float64(v)
		if f != math.Trunc(f) || f < 0 || f >= float64(k) {
			return fmt.Errorf("label %g (example %d) is not a class number in [0, %d)", f, i, k)
		}
	}
	return nil
}

// Fingerprint hashes the path, size and modification time of every file
// under paths (files or folders) after prefix: a source's identity, which
// changes when a file is added, removed or rewritten.
func Fingerprint(prefix []byte, paths ...string) (string, error) {
	h := sha256.New()
	h.Write(prefix)
	var files []string
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", err
		}
		err = filepath.WalkDir(abs, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	sort.Strings(files)
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "\x00%s\x00%d\x00%d", f, fi.Size(), fi.ModTime().UnixNano())
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ReadNPYFeatures reads a feature array (.npy) with an example axis.
func ReadNPYFeatures(path string) (*Table, error) {
	a, err := npy.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(a.Shape) == 0 {
		return nil, fmt.Errorf("%s has shape %v: it needs an example axis first", path, a.Shape)
	}
	t := &Table{}
	t.X = ir.FromData(a.Data, a.Shape...)
	return t, nil
}

// ReadNPYLabels reads a label array (.npy) as ReadNPY reads its labels.
func ReadNPYLabels(path string, o ArrayOptions) (*Table, error) {
	a, err := npy.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(a.Shape) == 0 {
		return nil, fmt.Errorf("%s has shape %v: it needs an example axis first", path, a.Shape)
	}
	// the features are a placeholder of the right example count
	return arrayTable(path, path, []int{a.Shape[0], 0}, nil, a.Shape, a.Data, o)
}
