//go:build amd64

package nn

import "golang.org/x/sys/cpu"

// sgemmKern6x16 is the AVX2+FMA micro-kernel of gemm_fast_amd64.s.
//
//go:noescape
func sgemmKern6x16(k int, a, b, c *float32, ldc int, acc int)

// sgemmKern14x32 is the AVX-512F micro-kernel of gemm_avx512_amd64.s.
//
//go:noescape
func sgemmKern14x32(k int, a, b, c *float32, ldc int, acc int)

// sgemmKern14x32Rows is sgemmKern14x32 reading row p of B at b[off[p]:].
//
//go:noescape
func sgemmKern14x32Rows(k int, a, b *float32, off *int, c *float32, ldc int, acc int)

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

var sgemmAVX2 = sgemmMicro{mr: 6, nr: 16, name: "avx2", fn: func(k int, a, b, c []float32, ldc int, acc bool) {
	// bounds the assembly relies on
	_, _, _ = a[6*k-1], b[16*k-1], c[5*ldc+15]
	sgemmKern6x16(k, &a[0], &b[0], &c[0], ldc, boolInt(acc))
}}

var sgemmAVX512 = sgemmMicro{mr: 14, nr: 32, kc: 128, mc: 280, name: "avx512", fn: func(k int, a, b, c []float32, ldc int, acc bool) {
	_, _, _ = a[14*k-1], b[32*k-1], c[13*ldc+31]
	sgemmKern14x32(k, &a[0], &b[0], &c[0], ldc, boolInt(acc))
}, rows: func(k int, a, b []float32, off []int, hi int, c []float32, ldc int, acc bool) {
	_, _, _, _ = a[14*k-1], off[k-1], b[hi+31], c[13*ldc+31]
	sgemmKern14x32Rows(k, &a[0], &b[0], &off[0], &c[0], ldc, boolInt(acc))
}, part: func(rows, k int, a, b, c []float32, ldc int, acc bool) {
	_, _, _ = a[14*k-1], b[32*k-1], c[(rows-1)*ldc+31]
	sgemmKern14x32Part[rows](k, &a[0], &b[0], &c[0], ldc, boolInt(acc))
}, partRows: func(rows, k int, a, b []float32, off []int, hi int, c []float32, ldc int, acc bool) {
	_, _, _, _ = a[14*k-1], off[k-1], b[hi+31], c[(rows-1)*ldc+31]
	sgemmKern14x32RowsPart[rows](k, &a[0], &b[0], &off[0], &c[0], ldc, boolInt(acc))
}}

// sgemmKernels lists the micro-kernels this CPU and OS run, fastest first.
func sgemmKernels() []sgemmMicro {
	var ks []sgemmMicro
	if cpu.X86.HasAVX512F {
		ks = append(ks, sgemmAVX512)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, sgemmAVX2)
	}
	return append(ks, sgemmGo4x4)
}
