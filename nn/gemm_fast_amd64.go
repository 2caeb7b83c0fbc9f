//go:build amd64

package nn

import "golang.org/x/sys/cpu"

// sgemmKern6x16 is the AVX2+FMA micro-kernel of gemm_fast_amd64.s.
//
//go:noescape
func sgemmKern6x16(k int, a, b, c *float32, ldc int, acc int)

var sgemmAVX2 = sgemmMicro{mr: 6, nr: 16, name: "avx2-6x16", fn: func(k int, a, b, c []float32, ldc int, acc bool) {
	// bounds the assembly relies on
	_, _, _ = a[6*k-1], b[16*k-1], c[5*ldc+15]
	ac := 0
	if acc {
		ac = 1
	}
	sgemmKern6x16(k, &a[0], &b[0], &c[0], ldc, ac)
}}

// bestSgemmKernel picks the AVX2 kernel where the CPU and OS support it.
func bestSgemmKernel() sgemmMicro {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		return sgemmAVX2
	}
	return sgemmGo4x4
}
