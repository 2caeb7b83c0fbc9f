package nn

import (
	"github.com/retarget-dev/retarget/internal/hugemem"
	"github.com/retarget-dev/retarget/ir"
)

// reuse returns m resized to shape, keeping its storage when it is large
// enough, so ops allocate their buffers once for the largest batch. The
// contents are not cleared.
func reuse[F Float](m *Mat[F], shape ...int) *Mat[F] {
	n := ir.NumElements(shape)
	if m == nil {
		m = &Mat[F]{}
	}
	if cap(m.Data) < n {
		m.Data = hugemem.Make[F](n)
	}
	m.Data = m.Data[:n]
	m.Shape = append(m.Shape[:0], shape...)
	return m
}

// reuseZero is reuse with the contents cleared.
func reuseZero[F Float](m *Mat[F], shape ...int) *Mat[F] {
	m = reuse(m, shape...)
	clear(m.Data)
	return m
}

// view shares data under another shape.
func view[F Float](m *Mat[F], shape ...int) *Mat[F] {
	return &Mat[F]{Shape: append([]int(nil), shape...), Data: m.Data}
}

// withBatch prefixes a shape without batch with n.
func withBatch(n int, shape []int) []int {
	return append([]int{n}, shape...)
}

// strides of a row-major shape.
func strides(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

// MatFromTensor converts an ir.Tensor into a Mat of F (copying, except that
// float32 shares the data).
func MatFromTensor[F Float](t *ir.Tensor) *Mat[F] {
	m := &Mat[F]{Shape: append([]int(nil), t.Shape...)}
	if d, ok := any(t.Data).([]F); ok {
		m.Data = d
		return m
	}
	m.Data = make([]F, len(t.Data))
	for i, v := range t.Data {
		m.Data[i] = F(v)
	}
	return m
}

// TensorFromMat copies a Mat into a new ir.Tensor.
func TensorFromMat[F Float](m *Mat[F]) *ir.Tensor {
	t := ir.NewTensor(m.Shape...)
	for i, v := range m.Data {
		t.Data[i] = float32(v)
	}
	return t
}

// transposeND writes src (shape) permuted by perm into dst: output axis i is
// input axis perm[i].
func transposeND[F Float](dst, src []F, shape, perm []int) {
	r := len(shape)
	st := strides(shape)
	outShape := make([]int, r)
	inStride := make([]int, r)
	for i, p := range perm {
		outShape[i] = shape[p]
		inStride[i] = st[p]
	}
	n := len(src)
	if n == 0 {
		return
	}
	if r == 0 {
		copy(dst, src)
		return
	}
	idx := make([]int, r)
	last := r - 1
	ls, ln := inStride[last], outShape[last]
	off := 0
	for o := 0; o < n; o += ln {
		d := dst[o : o+ln]
		for j := range d {
			d[j] = src[off+j*ls]
		}
		// advance the multi-index over all but the last axis
		for a := last - 1; a >= 0; a-- {
			idx[a]++
			off += inStride[a]
			if idx[a] < outShape[a] {
				break
			}
			off -= inStride[a] * outShape[a]
			idx[a] = 0
		}
	}
}

// inversePerm returns q with q[perm[i]] = i.
func inversePerm(perm []int) []int {
	q := make([]int, len(perm))
	for i, p := range perm {
		q[p] = i
	}
	return q
}

func addTo[F Float](dst, src []F) {
	i := 0
	if s32, ok := any(src).([]float32); ok {
		i = addSIMD(any(dst).([]float32), s32)
	}
	for ; i < len(src); i++ {
		dst[i] += src[i]
	}
}
