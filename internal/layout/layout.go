// Package layout holds the tensor layout transforms shared by the Keras
// importer and exporter: the IR keeps image tensors channels first
// ([C, d...]), Keras mostly channels last ([d..., C]).
package layout

// Transpose returns data of shape permuted so that output axis i is input
// axis perm[i], and the permuted shape.
func Transpose(data []float32, shape, perm []int) ([]float32, []int) {
	n := len(shape)
	out := make([]int, n)
	for i, p := range perm {
		out[i] = shape[p]
	}
	inStride := make([]int, n)
	s := 1
	for i := n - 1; i >= 0; i-- {
		inStride[i] = s
		s *= shape[i]
	}
	res := make([]float32, len(data))
	idx := make([]int, n)
	for o := range res {
		off := 0
		for i := 0; i < n; i++ {
			off += idx[i] * inStride[perm[i]]
		}
		res[o] = data[off]
		for i := n - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < out[i] {
				break
			}
			idx[i] = 0
		}
	}
	return res, out
}

// CLShape turns a channels-first shape [C, d...] into channels-last
// [d..., C]; shapes of rank below 2 are returned as they are (copied).
func CLShape(s []int) []int {
	if len(s) < 2 {
		return append([]int(nil), s...)
	}
	return append(append([]int(nil), s[1:]...), s[0])
}

// CFPerm is the permutation taking channels-last [d..., C] to [C, d...].
func CFPerm(rank int) []int {
	p := []int{rank - 1}
	for i := 0; i < rank-1; i++ {
		p = append(p, i)
	}
	return p
}

// CLPerm is the permutation taking channels-first [C, d...] to [d..., C].
func CLPerm(rank int) []int {
	var p []int
	for i := 1; i < rank; i++ {
		p = append(p, i)
	}
	return append(p, 0)
}

// FlatRowPerm maps each position of the channels-first flattening of a
// tensor of shape pre = [C, s...] to its position in the channels-last
// flattening (a Dense after a Flatten reads its kernel rows in that order).
func FlatRowPerm(pre []int) []int {
	ch := pre[0]
	sp := 1
	for _, d := range pre[1:] {
		sp *= d
	}
	perm := make([]int, ch*sp)
	for cc := 0; cc < ch; cc++ {
		for s := 0; s < sp; s++ {
			perm[cc*sp+s] = s*ch + cc
		}
	}
	return perm
}

// KerasAxis maps axis ax (negative from the end) of a rank-r IR tensor to
// the Keras axis, which counts the batch. channelsLast says the Keras
// tensor is the channels-last form of the IR tensor, so IR axis 0 (the
// channels) is the last Keras axis.
func KerasAxis(rank, ax int, channelsLast bool) int {
	if ax < 0 {
		ax += rank
	}
	if channelsLast {
		if ax == 0 {
			return rank
		}
		return ax
	}
	return ax + 1
}
