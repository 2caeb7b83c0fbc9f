package nn

import (
	"runtime"
)

// packedA is the left operand alpha·op(A) (m×k) of several products with
// different right operands: a convolution's weights against each sample's
// or tile's im2col columns. With the fast float32 kernels it is packed once
// into the micro-kernel's panels; otherwise (float64, the gonum backend,
// one or two rows) mul is a plain gemm.
type packedA[F Float] struct {
	ta      bool
	m, k    int
	alpha   F
	a       []F
	lda     int
	job     *sgemmJob // kern, k, alpha, apk, mpad of the packed form
	pk      []float32
	box     *[]float32 // pk's holder in packedBufs (boxing pk anew would allocate)
	packed  bool
	threads int
	serial  bool // mul runs on the calling goroutine alone (the caller splits the work)
}

// packedBufs holds the storage of released packed operands.
var packedBufs = newFreeList()

// release gives the packed storage back (mul must not run until the next
// pack): layers pack their weights for one pass and do not keep a second
// copy of them between passes.
func (p *packedA[F]) release() {
	if p.pk != nil {
		*p.box = p.pk
		packedBufs.put(p.box)
		p.pk, p.box, p.packed = nil, nil, false
		p.job.a, p.job.apk = nil, nil
	}
	p.a = nil
}

// canPack reports whether pack packs an m×k operand (with alpha not 0)
// instead of keeping it.
func canPack[F Float](m, k int) bool {
	var z F
	_, f32 := any(z).(float32)
	_, fast := gemm32.(fastGemm32)
	return f32 && fast && m > sgemmSmallRows && k > 0
}

// pack sets the operand (a is kept, not copied, when it cannot be packed).
func (p *packedA[F]) pack(ta bool, m, k int, alpha F, a []F, lda int) {
	p.ta, p.m, p.k, p.alpha, p.a, p.lda, p.packed = ta, m, k, alpha, a, lda, false
	a32, _ := any(a).([]float32)
	if !canPack[F](m, k) || alpha == 0 {
		return
	}
	sgemmCheck(ta, false, m, 1, k, len(a), lda, k, 1, m, 1) // A only
	kern := sgemmKernel
	mpad := (m + kern.mr - 1) / kern.mr * kern.mr
	if p.pk == nil {
		p.box = takeFitting[float32](packedBufs, mpad*k)
		p.pk = *p.box
	}
	p.pk = growSlice(p.pk, mpad*k)
	p.threads = runtime.GOMAXPROCS(0)
	if p.serial {
		p.threads = 1
	}
	if p.job == nil {
		p.job = new(sgemmJob)
	}
	j := p.job
	*j = sgemmJob{kern: kern, ta: ta, k: k, alpha: float32(alpha), a: a32, lda: lda, apk: p.pk[:mpad*k], mpad: mpad,
		rows: j.rows, cols: j.cols, slab: j.slab}
	prepackA(j, p.threads, m)
	p.packed = true
}

// mul computes C (m×n, row stride ldc) = A·op(B) + beta·C.
func (p *packedA[F]) mul(tb bool, n int, b []F, ldb int, beta F, c []F, ldc int) {
	if !p.packed || n == 0 {
		gemm(p.ta, tb, p.m, n, p.k, p.alpha, p.a, p.lda, b, ldb, beta, c, ldc)
		return
	}
	b32, c32 := any(b).([]float32), any(c).([]float32)
	sgemmCheck(false, tb, p.m, n, p.k, p.m*p.k, p.k, len(b32), ldb, len(c32), ldc) // A was checked by pack
	job := p.job
	job.tb, job.b, job.ldb, job.beta, job.c, job.ldc = tb, b32, ldb, float32(beta), c32, ldc
	job.start(p.threads, p.m, n)
	job.b, job.c = nil, nil
}

// mulFrom is mul with op(B) (k×n) packed from src; it reports false, doing
// nothing, when A is not packed (the caller then materialises B).
func (p *packedA[F]) mulFrom(n int, src bSource, beta F, c []F, ldc int) bool {
	if !p.packed {
		return false
	}
	if n == 0 {
		return true
	}
	p.mulFromWith(p.job, p.threads, n, src, beta, c, ldc)
	return true
}

// share makes job a product of the packed A (its own goroutine's: job is
// not p.job), keeping job's split buffers.
func (p *packedA[F]) share(job *sgemmJob) {
	*job = sgemmJob{kern: p.job.kern, ta: p.job.ta, k: p.job.k, alpha: p.job.alpha, apk: p.job.apk, mpad: p.job.mpad,
		rows: job.rows, cols: job.cols, slab: job.slab}
}

// mulFromWith is mulFrom (A packed, n > 0) run as job on up to threads
// goroutines: products on other goroutines at the same time each bring
// their own job.
func (p *packedA[F]) mulFromWith(job *sgemmJob, threads, n int, src bSource, beta F, c []F, ldc int) {
	c32 := any(c).([]float32)
	sgemmCheck(false, false, p.m, n, p.k, p.m*p.k, p.k, 0, n, len(c32), ldc)
	if job != p.job {
		p.share(job)
	}
	job.tb, job.b, job.src, job.beta, job.c, job.ldc = false, nil, src, float32(beta), c32, ldc
	job.start(threads, p.m, n)
	job.src, job.c = nil, nil
	if job != p.job {
		job.apk = nil
	}
}
