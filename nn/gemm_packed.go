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
	// inPlace: packInPlace packed the operand into its own storage for
	// good; pack and release then leave it be
	inPlace bool
	edge    []float32 // the partial last row panel (inPlace)
}

// packedBufs holds the storage of released packed operands.
var packedBufs = newFreeList()

// release gives the packed storage back (mul must not run until the next
// pack): layers pack their weights for one pass and do not keep a second
// copy of them between passes.
func (p *packedA[F]) release() {
	if p.inPlace {
		return
	}
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
	if p.inPlace {
		if p.job.kern.name == sgemmKernel.name && p.m == m && p.k == k && canPack[F](m, k) {
			return
		}
		p.unpackInPlace() // the kernel changed (SetGemmKernel): back to row-major
	}
	p.ta, p.m, p.k, p.alpha, p.a, p.lda, p.packed = ta, m, k, alpha, a, lda, false
	a32, _ := any(a).([]float32)
	if !canPack[F](m, k) || alpha == 0 {
		return
	}
	sgemmCheck(ta, false, m, 1, k, len(a), lda, k, 1, m, 1) // A only
	j := p.newJob(m, k)
	j.ta, j.alpha, j.a, j.lda = ta, float32(alpha), a32, lda
	prepackA(j, p.threads, m)
	p.packed = true
}

// newJob sets p.job up for a packed m×k operand with the current kernel,
// its panels in p.pk (mpad·k values).
func (p *packedA[F]) newJob(m, k int) *sgemmJob {
	kern := sgemmKernel
	mpad := (m + kern.mr - 1) / kern.mr * kern.mr
	if p.pk == nil {
		p.box = takeFitting[float32](packedBufs, mpad*k)
		p.pk = *p.box
	}
	p.pk = growSlice(p.pk, mpad*k)
	p.setThreads()
	if p.job == nil {
		p.job = new(sgemmJob)
	}
	j := p.job
	*j = sgemmJob{kern: kern, k: k, alpha: 1, lda: k, apk: p.pk[:mpad*k], mpad: mpad, m: m,
		rows: j.rows, cols: j.cols, slab: j.slab}
	return j
}

// packTo sets the operand up as a packed m×k matrix (alpha 1) that the
// caller fills, and returns its panels with the layout's kc and mr:
// element (i, p) of the slab of columns pc = p/kc·kc (kb = min(kc, k−pc)
// wide) lies at pc·mpad + i/mr·mr·kb + (p−pc)·mr + i%mr. The rows that pad
// the last panel are zero. It reports nil when canPack does not.
func (p *packedA[F]) packTo(m, k int) (pk []float32, kc, mr int) {
	if p.inPlace || !canPack[F](m, k) {
		return nil, 0, 0
	}
	p.ta, p.m, p.k, p.alpha, p.a, p.lda = false, m, k, 1, nil, k
	j := p.newJob(m, k)
	kern, mpad := j.kern, j.mpad
	kc, _ = kern.blocks()
	if pad := mpad - m; pad > 0 {
		for pc := 0; pc < k; pc += kc {
			kb := min(kc, k-pc)
			last := j.apk[pc*mpad+(mpad-kern.mr)*kb:][:kern.mr*kb]
			for q := 0; q < kb; q++ {
				clear(last[q*kern.mr+kern.mr-pad : (q+1)*kern.mr])
			}
		}
	}
	p.packed = true
	return j.apk, kc, kern.mr
}

// setThreads sets how many goroutines the products use.
func (p *packedA[F]) setThreads() {
	p.threads = runtime.GOMAXPROCS(0)
	if p.serial {
		p.threads = 1
	}
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
		aedge: p.job.aedge, rows: job.rows, cols: job.cols, slab: job.slab}
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
		job.apk, job.aedge = nil, nil
	}
}

// packInPlace packs the row-major m×k operand w (alpha 1, a network's
// weights it may rewrite) into the micro-kernel's panels in w's own
// storage, for every later pack: its whole row panels take w's first
// rows' place, the partial last one, which would not fit, is packed apart
// (p.edge, at most mr·k values). A network packing its weights on every
// pass copies all of them each time, about 4% of ResNet50's CPU profile
// (packing in place measured 0.93–0.98× the forward pass's time); a
// second, packed copy kept between passes would hold them twice. It
// reports false, doing nothing, when the operand is not packed (pack's
// conditions) or has no whole row panel.
func (p *packedA[F]) packInPlace(m, k int, w []F) bool {
	w32, ok := any(w).([]float32)
	kern := sgemmKernel
	full := m / kern.mr * kern.mr
	if !ok || !canPack[F](m, k) || full == 0 || len(w32) < m*k {
		return false
	}
	p.release()
	p.setThreads()
	if p.job == nil {
		p.job = new(sgemmJob)
	}
	// the whole panels are packed from a copy of their rows, over them
	box := takeFitting[float32](packedBufs, full*k)
	rows := growSlice(*box, full*k)
	copy(rows, w32[:full*k])
	j := p.job
	*j = sgemmJob{kern: kern, k: k, alpha: 1, a: rows, lda: k, apk: w32[:full*k], mpad: full,
		rows: j.rows, cols: j.cols, slab: j.slab}
	prepackA(j, p.threads, full)
	j.a = nil
	*box = rows
	packedBufs.put(box)
	p.edge = nil
	if full < m {
		p.edge = make([]float32, kern.mr*k)
		e := &sgemmJob{kern: kern, k: k, alpha: 1, a: w32[full*k:], lda: k, apk: p.edge, mpad: kern.mr}
		prepackA(e, 1, m-full)
	}
	j.aedge = p.edge
	p.ta, p.m, p.k, p.alpha, p.a, p.lda = false, m, k, 1, w, k
	p.packed, p.inPlace = true, true
	return true
}

// unpackInPlace puts packInPlace's operand back in row-major order.
func (p *packedA[F]) unpackInPlace() {
	j, mr := p.job, p.job.kern.mr
	kc, _ := j.kern.blocks()
	w32, full, k := j.apk, j.mpad, p.k
	box := takeFitting[float32](packedBufs, full*k)
	pk := growSlice(*box, full*k)
	copy(pk, w32)
	for pc := 0; pc < k; pc += kc {
		kb := min(kc, k-pc)
		for ir := 0; ir < full; ir += mr {
			panel := pk[pc*full+ir*kb:][:mr*kb]
			for q := 0; q < kb; q++ {
				for r := 0; r < mr; r++ {
					w32[(ir+r)*k+pc+q] = panel[q*mr+r]
				}
			}
		}
	}
	*box = pk
	packedBufs.put(box)
	*j = sgemmJob{rows: j.rows, cols: j.cols, slab: j.slab}
	p.inPlace, p.packed, p.edge = false, false, nil
}
