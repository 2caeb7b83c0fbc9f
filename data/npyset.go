package data

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/npy"
)

// ArrayOptions say how a label array is read.
type ArrayOptions struct {
	// NumClasses > 0 (or Labels set) turns a label array of class numbers
	// ([N] or [N, 1]) into one-hot or index labels; otherwise labels are
	// used as they are (already one-hot, or regression targets).
	NumClasses int
	Labels     LabelMode
}

// ReadNPY reads a feature array and a label array (.npy files) whose first
// axes agree.
func ReadNPY(featuresPath, labelsPath string, o ArrayOptions) (*Table, error) {
	x, err := npy.ReadFile(featuresPath)
	if err != nil {
		return nil, err
	}
	y, err := npy.ReadFile(labelsPath)
	if err != nil {
		return nil, err
	}
	return arrayTable(featuresPath, labelsPath, x.Shape, x.Data, y.Shape, y.Data, o)
}

func arrayTable(xName, yName string, xs []int, xd []float32, ys []int, yd []float32, o ArrayOptions) (*Table, error) {
	if len(xs) == 0 || len(ys) == 0 {
		return nil, fmt.Errorf("%s and %s need an example axis (got shapes %v and %v)", xName, yName, xs, ys)
	}
	if xs[0] != ys[0] {
		return nil, fmt.Errorf("%s has %d examples, %s has %d", xName, xs[0], yName, ys[0])
	}
	if ir.NumElements(xs) != len(xd) || ir.NumElements(ys) != len(yd) {
		return nil, fmt.Errorf("%s or %s holds a different number of values than its shape says", xName, yName)
	}
	t := &Table{X: ir.FromData(xd, xs...)}
	sparse := len(ys) == 1 || (len(ys) == 2 && ys[1] == 1)
	if !sparse || (o.NumClasses == 0 && o.Labels == "") {
		if len(ys) == 1 {
			ys = []int{ys[0], 1}
		}
		t.Y = ir.FromData(yd, ys...)
		if len(ys) == 2 && ys[1] > 1 {
			t.NumClasses = ys[1]
		}
		return t, nil
	}
	labels := make([]float64, len(yd))
	for i, v := range yd {
		labels[i] = float64(v)
	}
	classes, k, err := toClasses(labels, o.NumClasses)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", yName, err)
	}
	mode := o.Labels
	if mode == "" {
		mode = OneHot
	}
	t.NumClasses = k
	t.Y = classLabels(classes, k, mode)
	return t, nil
}
