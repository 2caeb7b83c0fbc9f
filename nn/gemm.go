package nn

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// gemmer is the one matrix-multiply entry point of the engine:
// c = alpha·op(a)·op(b) + beta·c, row-major, with leading dimensions.
// A faster backend only needs to implement it for float32 and float64.
type gemmer[F Float] interface {
	Gemm(transA, transB bool, m, n, k int, alpha F, a []F, lda int, b []F, ldb int, beta F, c []F, ldc int)
}

// The backends in use; replace them to drop in a faster BLAS.
var (
	gemm32 gemmer[float32] = fastGemm32{}
	gemm64 gemmer[float64] = gonumGemm64{}
)

type gonumGemm32 struct{}

func (gonumGemm32) Gemm(ta, tb bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gonum.Implementation{}.Sgemm(trans(ta), trans(tb), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

type gonumGemm64 struct{}

func (gonumGemm64) Gemm(ta, tb bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	gonum.Implementation{}.Dgemm(trans(ta), trans(tb), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func trans(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

// gemm multiplies with the backend of F. Empty products are skipped (BLAS
// rejects zero leading dimensions).
func gemm[F Float](ta, tb bool, m, n, k int, alpha F, a []F, lda int, b []F, ldb int, beta F, c []F, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				if beta == 0 {
					row[j] = 0
				} else {
					row[j] *= beta
				}
			}
		}
		return
	}
	switch cc := any(c).(type) {
	case []float32:
		gemm32.Gemm(ta, tb, m, n, k, float32(alpha), any(a).([]float32), lda, any(b).([]float32), ldb, float32(beta), cc, ldc)
	case []float64:
		gemm64.Gemm(ta, tb, m, n, k, float64(alpha), any(a).([]float64), lda, any(b).([]float64), ldb, float64(beta), cc, ldc)
	default:
		panic("nn: gemm on an unsupported float type")
	}
}
