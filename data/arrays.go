package data

import (
	"math/rand"

	"github.com/retarget-dev/retarget/ir"
)

func permutation(n int, seed int64) []int { return rand.New(rand.NewSource(seed)).Perm(n) }

// gatherRows copies the examples idx (first axis) of t.
func gatherRows(t *ir.Tensor, idx []int) *ir.Tensor {
	per := ir.NumElements(t.Shape[1:])
	out := ir.NewTensor(append([]int{len(idx)}, t.Shape[1:]...)...)
	for i, r := range idx {
		copy(out.Data[i*per:(i+1)*per], t.Data[r*per:(r+1)*per])
	}
	return out
}
