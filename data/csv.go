package data

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// CSVOptions describe a table of feature columns and one label column.
type CSVOptions struct {
	// LabelColumn is the label's column counted from 1 (as cut -f does);
	// negative counts from the end; 0 (the default) is the last column.
	LabelColumn int
	// Header: "auto" (default: the first row is a header when it is not
	// all numbers), "yes" or "no".
	Header string
	// Comma is the separator (default ',').
	Comma rune
	// NumClasses is the class count (default: the largest label + 1).
	NumClasses int
	Labels     LabelMode
	// Regression keeps the label value as a [N, 1] target instead of a
	// class.
	Regression bool
}

// Table is a CSV file read into memory.
type Table struct {
	X, Y       *ir.Tensor
	Header     []string // column names when the file had a header
	NumClasses int      // 0 for regression
}

// CSVError is a problem at a line of a CSV file.
type CSVError struct {
	File string
	Line int
	Err  error
}

func (e *CSVError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }
func (e *CSVError) Unwrap() error { return e.Err }

// ReadCSV reads a numeric CSV table with one label column.
func ReadCSV(path string, o CSVOptions) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadCSVReader(path, f, o)
}

// ReadCSVReader reads a CSV table from r; name is used in errors.
func ReadCSVReader(name string, r io.Reader, o CSVOptions) (*Table, error) {
	path := name
	cr := csv.NewReader(r)
	if o.Comma != 0 {
		cr.Comma = o.Comma
	}
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	t := &Table{}
	var feats []float32
	var labels []float64
	width, labelCol := -1, 0
	line := 0
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line++
		if err != nil {
			return nil, &CSVError{path, line, err}
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if width < 0 {
			width = len(rec)
			if width < 2 {
				return nil, &CSVError{path, line, fmt.Errorf("a row needs at least one feature and a label, this one has %d column(s)", width)}
			}
			switch {
			case o.LabelColumn == 0:
				labelCol = width - 1
			case o.LabelColumn < 0:
				labelCol = width + o.LabelColumn
			default:
				labelCol = o.LabelColumn - 1
			}
			if labelCol < 0 || labelCol >= width {
				return nil, &CSVError{path, line, fmt.Errorf("label column %d is outside the %d columns", o.LabelColumn, width)}
			}
			header := o.Header == "yes"
			if o.Header == "" || o.Header == "auto" {
				header = !allNumbers(rec)
			}
			if header {
				t.Header = append([]string(nil), rec...)
				continue
			}
		}
		if len(rec) != width {
			return nil, &CSVError{path, line, fmt.Errorf("%d columns, the first row has %d", len(rec), width)}
		}
		for j, s := range rec {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return nil, &CSVError{path, line, fmt.Errorf("column %d: %q is not a number", j, s)}
			}
			if j == labelCol {
				labels = append(labels, v)
			} else {
				feats = append(feats, float32(v))
			}
		}
	}
	n := len(labels)
	if n == 0 {
		return nil, fmt.Errorf("%s has no data rows", path)
	}
	t.X = ir.FromData(feats, n, width-1)
	if o.Regression {
		y := make([]float32, n)
		for i, v := range labels {
			y[i] = float32(v)
		}
		t.Y = ir.FromData(y, n, 1)
		return t, nil
	}
	classes, k, err := toClasses(labels, o.NumClasses)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t.NumClasses = k
	t.Y = classLabels(classes, k, o.Labels)
	return t, nil
}

func allNumbers(rec []string) bool {
	for _, s := range rec {
		if _, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
			return false
		}
	}
	return true
}

// toClasses checks labels are class numbers and infers the count.
func toClasses(labels []float64, k int) ([]int, int, error) {
	classes := make([]int, len(labels))
	top := 0
	for i, v := range labels {
		c, err := classOf(v, k)
		if err != nil {
			return nil, 0, fmt.Errorf("example %d: %w (use regression for real-valued targets)", i, err)
		}
		classes[i] = c
		top = max(top, c+1)
	}
	if k <= 0 {
		k = top
	}
	return classes, k, nil
}

// Iterator batches the table (see nn.NewArrayIterator).
func (t *Table) Iterator(batchSize int, shuffle bool, seed int64) (*nn.SliceIterator, error) {
	return nn.NewArrayIterator(t.X, t.Y, batchSize, shuffle, seed)
}

// Split returns the first and second part of the rows after a seeded
// shuffle, testFraction of them in the second.
func (t *Table) Split(testFraction float64, seed int64) (train, test *Table, err error) {
	if testFraction <= 0 || testFraction >= 1 {
		return nil, nil, fmt.Errorf("test fraction must be in (0, 1), got %g", testFraction)
	}
	n := t.X.Shape[0]
	perm := permutation(n, seed)
	nTest := max(1, int(float64(n)*testFraction+0.5))
	if nTest >= n {
		return nil, nil, fmt.Errorf("%d rows are too few to split", n)
	}
	pick := func(idx []int) *Table {
		return &Table{X: gatherRows(t.X, idx), Y: gatherRows(t.Y, idx), Header: t.Header, NumClasses: t.NumClasses}
	}
	return pick(perm[nTest:]), pick(perm[:nTest]), nil
}
