package keras

import "github.com/retarget-dev/retarget/ir"

// kWeight is one weight array as Keras stored it.
type kWeight struct {
	name  string
	shape []int
	data  []float32
}

// weightSource yields the weights of a layer, in the layer's Keras order.
// path is the layer's name, preceded by the names of the models it is
// nested in.
type weightSource interface {
	layerWeights(path []string) ([]kWeight, error)
}

// flipSpatial reverses the trailing k axes of an [O, I, k...] kernel
// (Theano convolves, TensorFlow correlates).
func flipSpatial(t *ir.Tensor, k int) {
	sp := t.Shape[len(t.Shape)-k:]
	block := ir.NumElements(sp)
	if block == 0 {
		return
	}
	for start := 0; start+block <= len(t.Data); start += block {
		b := t.Data[start : start+block]
		for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
			b[i], b[j] = b[j], b[i]
		}
	}
}

func tensorOf(w *kWeight) *ir.Tensor {
	return ir.FromData(append([]float32(nil), w.data...), w.shape...)
}

func filled(v float32, shape ...int) *ir.Tensor {
	t := ir.NewTensor(shape...)
	for i := range t.Data {
		t.Data[i] = v
	}
	return t
}

// concatCols joins [r, c_i] matrices (or [c_i] vectors) side by side.
func concatCols(parts ...*kWeight) ([]float32, []int) {
	rows := 1
	if len(parts[0].shape) == 2 {
		rows = parts[0].shape[0]
	}
	total := 0
	for _, p := range parts {
		total += p.shape[len(p.shape)-1]
	}
	out := make([]float32, 0, rows*total)
	for r := 0; r < rows; r++ {
		for _, p := range parts {
			c := p.shape[len(p.shape)-1]
			out = append(out, p.data[r*c:(r+1)*c]...)
		}
	}
	if len(parts[0].shape) == 2 {
		return out, []int{rows, total}
	}
	return out, []int{total}
}
