package nn

import "gonum.org/v1/gonum/blas/gonum"

// sgemmSmallRows is the most rows of C computed without packing: with one or
// two rows (a depthwise convolution's per-group product), packing op(B)
// would copy as much as the product itself computes.
const sgemmSmallRows = 2

// sgemmSmall computes C = alpha·op(A)·op(B) + beta·C row by row with level-1
// BLAS: axpys over the rows of B, or dots with its rows when B is transposed.
func sgemmSmall(ta, tb bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	impl := gonum.Implementation{}
	sgemmScale(beta, c, ldc, 0, m, 0, n)
	for i := 0; i < m; i++ {
		crow := c[i*ldc : i*ldc+n]
		// op(A) row i: a[i*lda+p] or, transposed, a[p*lda+i]
		aOff, aInc := i*lda, 1
		if ta {
			aOff, aInc = i, lda
		}
		if tb {
			for j := range crow {
				crow[j] += alpha * impl.Sdot(k, a[aOff:], aInc, b[j*ldb:], 1)
			}
			continue
		}
		for p := 0; p < k; p++ {
			if s := alpha * a[aOff+p*aInc]; s != 0 {
				impl.Saxpy(n, s, b[p*ldb:p*ldb+n], 1, crow, 1)
			}
		}
	}
}
