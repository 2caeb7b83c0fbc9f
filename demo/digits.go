package demo

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"

	"github.com/retarget-dev/retarget/data"
	"github.com/retarget-dev/retarget/ir"
)

// The scikit-learn copy of the UCI handwritten digits (BSD licence, see
// NOTICE): 1797 rows of 64 pixel values (0..16) and the digit.
//
//go:embed assets/digits.csv.gz
var digitsCSV []byte

// Digits is a subset of the 8x8 digits: X [N, 8, 8, 1] (NHWC, values in
// [0, 1]) and one-hot labels Y [N, len(classes)], where column j stands for
// digit classes[j].
type Digits struct {
	X, Y *ir.Tensor
}

// LoadDigits returns the examples of the given digits, in file order.
func LoadDigits(classes ...int) (*Digits, error) {
	zr, err := gzip.NewReader(bytes.NewReader(digitsCSV))
	if err != nil {
		return nil, fmt.Errorf("embedded digits: %w", err)
	}
	var raw bytes.Buffer
	if _, err := raw.ReadFrom(zr); err != nil {
		return nil, fmt.Errorf("embedded digits: %w", err)
	}
	tb, err := data.ReadCSVReader("digits.csv", &raw, data.CSVOptions{Header: "no", Regression: true})
	if err != nil {
		return nil, err
	}
	col := map[int]int{}
	for j, c := range classes {
		col[c] = j
	}
	n := tb.X.Shape[0]
	var xs []float32
	var picked []int
	for i := 0; i < n; i++ {
		j, ok := col[int(tb.Y.Data[i])]
		if !ok {
			continue
		}
		for _, v := range tb.X.Data[i*64 : (i+1)*64] {
			xs = append(xs, v/16)
		}
		picked = append(picked, j)
	}
	y := ir.NewTensor(len(picked), len(classes))
	for i, j := range picked {
		y.Data[i*len(classes)+j] = 1
	}
	return &Digits{X: ir.FromData(xs, len(picked), 8, 8, 1), Y: y}, nil
}

// Split divides the examples into a training and a test part (testFraction
// of them, drawn from seed).
func (d *Digits) Split(testFraction float64, seed int64) (train, test *Digits, err error) {
	t := &data.Table{X: d.X, Y: d.Y}
	a, b, err := t.Split(testFraction, seed)
	if err != nil {
		return nil, nil, err
	}
	return &Digits{X: a.X, Y: a.Y}, &Digits{X: b.X, Y: b.Y}, nil
}
