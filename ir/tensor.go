package ir

import (
	"fmt"
	"math"

	"github.com/retarget-dev/retarget/internal/hugemem"
)

// Tensor is a dense float32 array in row-major order.
type Tensor struct {
	Shape []int     `json:"shape"`
	Data  []float32 `json:"-"`
}

// NewTensor allocates a zero tensor of the given shape.
func NewTensor(shape ...int) *Tensor {
	return &Tensor{Shape: append([]int(nil), shape...), Data: hugemem.Make[float32](NumElements(shape))}
}

// FromData wraps data (not copied) with a shape; it panics if the sizes differ,
// which is a programming error, never an input error.
func FromData(data []float32, shape ...int) *Tensor {
	if NumElements(shape) != len(data) {
		panic(fmt.Sprintf("ir.FromData: %d values for shape %v", len(data), shape))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}
}

// Len is the number of elements.
func (t *Tensor) Len() int { return len(t.Data) }

// Clone deep-copies the tensor.
func (t *Tensor) Clone() *Tensor {
	if t == nil {
		return nil
	}
	d := hugemem.Make[float32](len(t.Data))
	copy(d, t.Data)
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: d}
}

// Equal reports bit-identical shape and data.
func (t *Tensor) Equal(o *Tensor) bool {
	if !SameShape(t.Shape, o.Shape) || len(t.Data) != len(o.Data) {
		return false
	}
	for i, v := range t.Data {
		if math.Float32bits(v) != math.Float32bits(o.Data[i]) {
			return false
		}
	}
	return true
}

// NumElements is the product of the dimensions (1 for a scalar shape).
func NumElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// SameShape compares two shapes element by element.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
