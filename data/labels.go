package data

import (
	"fmt"
	"math"

	"github.com/retarget-dev/retarget/ir"
)

// LabelMode is how class labels are handed to the engine.
type LabelMode string

const (
	// OneHot gives [N, K] rows with a single 1 (for the mcxent loss).
	OneHot LabelMode = "onehot"
	// Index gives [N, 1] class numbers as floats (for sparse_mcxent).
	Index LabelMode = "index"
)

// classLabels turns class numbers into a label tensor.
func classLabels(classes []int, k int, mode LabelMode) *ir.Tensor {
	n := len(classes)
	if mode == Index {
		t := ir.NewTensor(n, 1)
		for i, c := range classes {
			t.Data[i] = float32(c)
		}
		return t
	}
	t := ir.NewTensor(n, k)
	for i, c := range classes {
		t.Data[i*k+c] = 1
	}
	return t
}

// classOf reads a label value as a class number below k (k <= 0: any).
func classOf(v float64, k int) (int, error) {
	if v != math.Trunc(v) || v < 0 || math.IsInf(v, 0) || (k > 0 && int(v) >= k) || v > 1<<30 {
		if k > 0 {
			return 0, fmt.Errorf("label %g is not a class number in [0, %d)", v, k)
		}
		return 0, fmt.Errorf("label %g is not a class number", v)
	}
	return int(v), nil
}
