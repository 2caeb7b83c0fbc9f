package nn

import "gonum.org/v1/gonum/blas/gonum"

// sgemmSmallRows is the most rows of C computed without packing: with one or
// two rows (a depthwise convolution's per-group product), packing op(B)
// would copy as much as the product itself computes.
const sgemmSmallRows = 2

// sgemmSmallSplit is the least k·n for which sgemmSmall splits the columns
// between goroutines: VGG16's first dense layer on one example (25088×4096,
// a 411 MB B read once) took 40–44 ms on one goroutine, 25 on two.
const sgemmSmallSplit = 1 << 20

// smallJob is one sgemmSmall split by columns between goroutines.
type smallJob struct {
	ta, tb        bool
	m, n, k       int
	alpha         float32
	a, b, c       []float32
	lda, ldb, ldc int
	parts         int
	wg            partsWait
}

var smallJobs = newFreeList()

func (j *smallJob) runPart(i int) {
	j0, j1 := i*j.n/j.parts, (i+1)*j.n/j.parts
	sgemmSmallCols(j.ta, j.tb, j.m, j0, j1, j.k, j.alpha, j.a, j.lda, j.b, j.ldb, j.c, j.ldc)
}

// sgemmSmall computes C = alpha·op(A)·op(B) + beta·C row by row with level-1
// BLAS: axpys over the rows of B, or dots with its rows when B is
// transposed; a large B is split by columns between up to threads
// goroutines.
func sgemmSmall(threads int, ta, tb bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmScale(beta, c, ldc, 0, m, 0, n)
	if parts := min(threads, n/64); parts > 1 && n*k >= sgemmSmallSplit {
		j := takeFree[smallJob](smallJobs)
		*j = smallJob{ta: ta, tb: tb, m: m, n: n, k: k, alpha: alpha, a: a, b: b, c: c, lda: lda, ldb: ldb, ldc: ldc, parts: parts}
		runParts(j, parts, &j.wg)
		j.a, j.b, j.c = nil, nil, nil
		smallJobs.put(j)
		return
	}
	sgemmSmallCols(ta, tb, m, 0, n, k, alpha, a, lda, b, ldb, c, ldc)
}

// sgemmSmallCols adds alpha·op(A)·op(B) to columns [j0, j1) of C.
func sgemmSmallCols(ta, tb bool, m, j0, j1, k int, alpha float32, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	impl := gonum.Implementation{}
	n := j1 - j0
	for i := 0; i < m; i++ {
		crow := c[i*ldc+j0 : i*ldc+j1]
		// op(A) row i: a[i*lda+p] or, transposed, a[p*lda+i]
		aOff, aInc := i*lda, 1
		if ta {
			aOff, aInc = i, lda
		}
		if tb {
			for j := range crow {
				crow[j] += alpha * impl.Sdot(k, a[aOff:], aInc, b[(j0+j)*ldb:], 1)
			}
			continue
		}
		for p := 0; p < k; p++ {
			if s := alpha * a[aOff+p*aInc]; s != 0 {
				impl.Saxpy(n, s, b[p*ldb+j0:p*ldb+j1], 1, crow, 1)
			}
		}
	}
}
