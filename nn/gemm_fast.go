package nn

import (
	"fmt"
	"runtime"
)

// fastGemm32 is the engine's float32 GEMM: C is split into one rectangle per
// goroutine (at most GOMAXPROCS); each goroutine runs a Goto-style blocked
// product on its rectangle: op(B) is packed into kc×nr panels, alpha·op(A)
// into mr×kc panels, and a register-tiled micro-kernel (AVX2+FMA assembly,
// or portable Go) computes mr×nr tiles of C.
type fastGemm32 struct{}

// sgemmMicro is a micro-kernel: c[mr][nr] (row stride ldc) = (acc ? c : 0) +
// Σp a[p]⊗b[p], with a packed as k groups of mr floats and b as k groups of
// nr floats.
type sgemmMicro struct {
	mr, nr int
	kc, mc int // blocking when not the defaults sgemmKC, sgemmMC
	name   string
	fn     func(k int, a, b, c []float32, ldc int, acc bool)
	// rows, if not nil, is fn reading row p of B at b[off[p]:][:nr], every
	// off[p] in [0, hi] (a rowsSource's panels, unpacked)
	rows func(k int, a, b []float32, off []int, hi int, c []float32, ldc int, acc bool)
	// part and partRows, if not nil, are fn and rows for the first
	// 1 … mr-1 rows of a panel (C has only those)
	part     func(rows, k int, a, b, c []float32, ldc int, acc bool)
	partRows func(rows, k int, a, b []float32, off []int, hi int, c []float32, ldc int, acc bool)
}

// blocks returns the kc and mc of the kernel, mc a multiple of mr.
func (m sgemmMicro) blocks() (kc, mc int) {
	kc, mc = sgemmKC, sgemmMC
	if m.kc > 0 {
		kc = m.kc
	}
	if m.mc > 0 {
		mc = m.mc
	}
	return kc, max(mc/m.mr, 1) * m.mr
}

// Blocking: a kc×nr panel of B stays in L1 while the mc×kc block of A streams
// from L2; nc bounds the packed B block (kc·nc floats, 4 MiB).
const (
	sgemmKC = 256
	sgemmMC = 144
	sgemmNC = 4096
	// sgemmGrain is the least m·n·k worth a goroutine of its own.
	sgemmGrain = 1 << 18
)

func (fastGemm32) Gemm(ta, tb bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmFast(sgemmKernel, runtime.GOMAXPROCS(0), ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

type sgemmJob struct {
	kern        sgemmMicro
	apk         []float32 // alpha·op(A) packed whole (prepackA), or nil: each run packs its blocks
	mpad        int       // rows of apk: m rounded up to mr, or the whole panels of A when aedge holds its last one
	aedge       []float32 // the last, partial row panel of a packed A kept apart from apk (packedA.packInPlace), or nil
	ta, tb      bool
	k           int
	alpha, beta float32
	a, b, c     []float32
	src         bSource // packs op(B) when b is nil
	bInPlace    bool    // A is at most sgemmInPlacePanels row panels: the kernel reads row-major B in place (set by start)
	lda, ldb    int
	ldc         int
	// cP > 0: C is a batch of planes of cP positions side by side (beta 0
	// or 1): column col is position col%cP of sample col/cP, whose rows lie
	// cP apart from c[(col/cP)·cPer] on; ldc is not used
	cP, cPer int

	// the parts runParts hands out: tiles of the rows×cols grid, or
	// (packing) slabs [slab[i], slab[i+1]) of kc-deep A
	packing    bool
	m          int
	rows, cols []int
	slab       []int
	wg         partsWait
}

func (j *sgemmJob) runPart(i int) {
	if j.packing {
		j.packSlabs(j.slab[i], j.slab[i+1])
		return
	}
	tn := len(j.cols) - 1
	r, c := i/tn, i%tn
	j.run(j.rows[r], j.rows[r+1], j.cols[c], j.cols[c+1])
}

var sgemmJobs = newFreeList()

type sgemmBufs struct {
	a, b, t []float32
	inPlace stridedB
}

// stridedB is a plain row-major op(B) read in place by a kernel's rows
// form (row p of a panel is nr values ldb apart from the next). It serves
// the products of a single row panel (a dense layer on a few examples),
// which read each B panel once: packing it would copy all of B (VGG16's
// 411 MB fc1 per Predict) for nothing.
type stridedB struct {
	b   []float32
	ldb int
	off []int // p·ldb for p < kc
}

// set points s at b, rows ldb apart, for panels of up to rows rows; the
// offsets of the last such B are kept.
func (s *stridedB) set(b []float32, ldb, rows int) {
	if s.ldb != ldb || len(s.off) < rows {
		s.off = growSlice(s.off, rows)
		for p := range s.off {
			s.off[p] = p * ldb
		}
	}
	s.b, s.ldb = b, ldb
}

func (s *stridedB) pack(dst []float32, tb bool, p0, kb, j0, nb, nr int) {
	packB(dst, s.b, s.ldb, tb, p0, kb, j0, nb, nr)
}

func (s *stridedB) rows(p0, kb, j, nr int) ([]float32, []int, int, bool) {
	return s.b[p0*s.ldb+j:], s.off[:kb], (kb - 1) * s.ldb, true
}

// planesB is op(B) of a batch of planes side by side, a 1×1
// convolution's input over all its samples: column col is position col%p
// of sample col/p, the sample's rows lie p apart from b[(col/p)·per] on.
// The kernel reads the panels that lie within one sample in place.
type planesB struct {
	rowsB stridedB // b, ldb = p, the rows' offsets
	per   int
}

// set points s at the samples in b, planes of p positions, samples per
// apart, for panels of up to rows rows.
func (s *planesB) set(b []float32, p, per, rows int) {
	s.rowsB.set(b, p, rows)
	s.per = per
}

func (s *planesB) rows(p0, kb, j, nr int) ([]float32, []int, int, bool) {
	p := s.rowsB.ldb
	n, q := j/p, j%p
	if q+nr > p {
		return nil, nil, 0, false
	}
	return s.rowsB.b[n*s.per+p0*p+q:], s.rowsB.off[:kb], (kb - 1) * p, true
}

// pack is packB's untransposed case over the samples (tb is false).
func (s *planesB) pack(dst []float32, _ bool, p0, kb, j0, nb, nr int) {
	p := s.rowsB.ldb
	packSegments(dst, s.rowsB.b, p, s.per, p, p0, kb, j0, nb, nr)
}

// packSegments packs columns [j0, j0+nb) and rows [p0, p0+kb) of a B whose
// columns come in segments of seg: column col is lane col%seg of segment
// col/seg, which starts at src[(col/seg)·segStride], its rows stride apart.
// Each run of columns within one segment is copied row by row.
func packSegments(dst, src []float32, seg, segStride, stride, p0, kb, j0, nb, nr int) {
	for jr := 0; jr < nb; jr += nr {
		cols := min(nr, nb-jr)
		d := dst[jr*kb : (jr+nr)*kb]
		for x := 0; x < cols; {
			col := j0 + jr + x
			lane := col % seg
			w := min(cols-x, seg-lane)
			base := src[col/seg*segStride+p0*stride+lane:]
			for r := 0; r < kb; r++ {
				copy(d[r*nr+x:][:w], base[r*stride:][:w])
			}
			x += w
		}
		clearPanelPad(d, kb, cols, nr)
	}
}

// bSource packs blocks of op(B) the way packB does, from wherever B comes
// (a padded convolution input, conv_padded.go).
type bSource interface {
	pack(dst []float32, tb bool, p0, kb, j0, nb, nr int)
}

// rowsSource is a bSource some of whose panels a kernel reads in place:
// row p0+p of op(B) over the columns [j, j+nr) is b[off[p]:][:nr], every
// off[p] in [0, hi].
type rowsSource interface {
	bSource
	rows(p0, kb, j, nr int) (b []float32, off []int, hi int, ok bool)
}

// sgemmPool holds the parts' blocks, sgemmPacks the whole packed A of one
// product: apart, sequential products reuse the same packed buffer instead
// of growing every buffer that happens to take that role.
var sgemmPool, sgemmPacks = newFreeList(), newFreeList()

func sgemmFast(kern sgemmMicro, threads int, ta, tb bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmCheck(ta, tb, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		sgemmScale(beta, c, ldc, 0, m, 0, n)
		return
	}
	if m <= sgemmSmallRows {
		sgemmSmall(threads, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	job := takeFree[sgemmJob](sgemmJobs)
	*job = sgemmJob{kern: kern, ta: ta, tb: tb, k: k, alpha: alpha, beta: beta, a: a, b: b, c: c, lda: lda, ldb: ldb, ldc: ldc,
		rows: job.rows, cols: job.cols, slab: job.slab}
	job.start(threads, m, n)
	job.a, job.b, job.c, job.apk, job.aedge = nil, nil, nil, nil, nil
	sgemmJobs.put(job)
}

// sgemmFrom is sgemmFast on up to threads goroutines with op(B) packed from src (m > sgemmSmallRows,
// k > 0: the callers' shapes).
func sgemmFrom(threads int, ta, tb bool, m, n, k int, alpha float32, a []float32, lda int, src bSource, beta float32, c []float32, ldc int) {
	sgemmCheck(ta, tb, m, n, k, len(a), lda, 0, max(1, n, k), len(c), ldc)
	job := takeFree[sgemmJob](sgemmJobs)
	*job = sgemmJob{kern: sgemmKernel, ta: ta, tb: tb, k: k, alpha: alpha, beta: beta, a: a, src: src, c: c, lda: lda, ldc: ldc,
		rows: job.rows, cols: job.cols, slab: job.slab}
	job.start(threads, m, n)
	job.a, job.src, job.c, job.apk, job.aedge = nil, nil, nil, nil, nil
	sgemmJobs.put(job)
}

// sgemmInPlacePanels is the most row panels of A for which the kernel
// reads a row-major B where it lies instead of packing it: each B panel is
// then read from memory once, and again from cache for the other row
// panels. Packing copies all of B, a dense layer's whole weight matrix,
// every product: reading in place measured 1.3× faster for the seed's head
// on a batch of 32 (32×4096×25088, BenchmarkSgemm), 1.25× at 56 rows, the
// same at 112 and 0.77× at 224 (×4096×4096).
const sgemmInPlacePanels = 4

// sgemmInPlaceSub is the rows of B a sweep over the columns takes when the
// kernel reads a row-major B in place: a kc block's rows are then read side
// by side, and 16 streams through memory measured 27.4–27.8 GB/s against 12.6–
// 15.7 for 128 (two goroutines, VGG16's 25088×4096 weights).
const sgemmInPlaceSub = 16

// sgemmStreamB is the least B (values a goroutine reads) that sgemmInPlaceSub
// applies to: 4 MiB, more than a core's cache; a smaller B is read from
// cache, and each sweep reloads the C tiles.
const sgemmStreamB = 1 << 20

// start runs the job on up to threads goroutines, C being m×n. Each
// goroutine packs the A rows it needs once per nc-wide block of its columns;
// when that repeats (a convolution's wide im2col, or several goroutines side
// by side), A is packed once for all of them, unless it came packed.
func (job *sgemmJob) start(threads, m, n int) {
	kern, k := job.kern, job.k
	job.bInPlace = m <= sgemmInPlacePanels*kern.mr
	if w := m * n * k / sgemmGrain; w < threads {
		threads = max(w, 1)
	}
	tm, tn := sgemmGrid(threads, m, n, kern.mr, kern.nr)
	if job.apk == nil && (n/tn+sgemmNC-1)/sgemmNC*tn > 1 {
		pk := takeFree[[]float32](sgemmPacks)
		defer sgemmPacks.put(pk)
		job.mpad = (m + kern.mr - 1) / kern.mr * kern.mr
		*pk = growSlice(*pk, job.mpad*k)
		job.apk = (*pk)[:job.mpad*k]
		prepackA(job, tm*tn, m)
	}
	if tm*tn == 1 {
		job.run(0, m, 0, n)
		return
	}
	job.rows = sgemmSplit(job.rows, m, tm, kern.mr)
	job.cols = sgemmSplit(job.cols, n, tn, kern.nr)
	runParts(job, tm*tn, &job.wg)
}

// prepackA packs alpha·op(A) whole into j.apk with up to threads
// goroutines: kc-deep slabs one after the other, each the mpad rows as
// packA lays them out.
func prepackA(j *sgemmJob, threads, m int) {
	kc, _ := j.kern.blocks()
	slabs := (j.k + kc - 1) / kc
	threads = min(threads, slabs, max(m*j.k/sgemmGrain*4, 1))
	j.m = m
	j.slab = sgemmSplit(j.slab, slabs, threads, 1)
	j.packing = true
	runParts(j, threads, &j.wg)
	j.packing = false
}

func (j *sgemmJob) packSlabs(lo, hi int) {
	kc, _ := j.kern.blocks()
	for s := lo; s < hi; s++ {
		pc := s * kc
		packA(j.apk[pc*j.mpad:], j.a, j.lda, j.ta, j.alpha, 0, j.m, pc, min(kc, j.k-pc), j.kern.mr)
	}
}

// sgemmGrid picks tm×tn ≤ threads rectangles, using as many goroutines as
// there are whole micro-tiles for and, among those, the split whose
// rectangles have the least perimeter (what each goroutine packs).
func sgemmGrid(threads, m, n, mr, nr int) (int, int) {
	mt, nt := (m+mr-1)/mr, (n+nr-1)/nr
	bt, bn, cost := 1, 1, float64(m+n)
	for tm := 1; tm <= min(threads, mt); tm++ {
		tn := min(threads/tm, nt)
		c := float64(m)/float64(tm) + float64(n)/float64(tn)
		if tm*tn > bt*bn || (tm*tn == bt*bn && c < cost) {
			bt, bn, cost = tm, tn, c
		}
	}
	return bt, bn
}

// sgemmSplit cuts [0, n) into parts ranges on multiples of step, as evenly as
// the steps allow; it returns the parts+1 boundaries (in b's storage).
func sgemmSplit(b []int, n, parts, step int) []int {
	tiles := (n + step - 1) / step
	b = append(b[:0], make([]int, parts+1)...)
	for i := 1; i <= parts; i++ {
		b[i] = min(tiles*i/parts*step, n)
	}
	return b
}

// run computes rows [i0, i1) × columns [j0, j1) of C.
func (j *sgemmJob) run(i0, i1, j0, j1 int) {
	if i0 >= i1 || j0 >= j1 {
		return
	}
	mr, nr := j.kern.mr, j.kern.nr
	beta := j.beta
	if beta != 0 && beta != 1 {
		sgemmScale(beta, j.c, j.ldc, i0, i1, j0, j1)
		beta = 1
	}
	bufs := takeFree[sgemmBufs](sgemmPool)
	defer sgemmPool.put(bufs)
	kcb, mc := j.kern.blocks()
	kc := min(kcb, j.k)
	mcap := (min(mc, i1-i0) + mr - 1) / mr * mr
	ncap := (min(sgemmNC, j1-j0) + nr - 1) / nr * nr
	bufs.a = growSlice(bufs.a, mcap*kc)
	bufs.b = growSlice(bufs.b, ncap*kc)
	bufs.t = growSlice(bufs.t, mr*nr)
	rs, _ := j.src.(rowsSource)
	src := j.src
	inPlace := j.src == nil && j.kern.rows != nil && !j.tb && j.bInPlace
	stream := inPlace && (j1-j0)*j.k > sgemmStreamB
	if inPlace {
		st := &bufs.inPlace
		st.set(j.b, j.ldb, kc)
		rs, src = st, st
		defer func() { st.b = nil }()
	}
	if j.kern.rows == nil || j.tb {
		rs = nil
	}
	for jc := j0; jc < j1; jc += sgemmNC {
		nb := min(sgemmNC, j1-jc)
		for pc := 0; pc < j.k; pc += kcb {
			kb := min(kcb, j.k-pc)
			acc := pc > 0 || beta != 0
			switch {
			case rs != nil: // pack only the panels the kernel cannot read in place
				for jr := 0; jr < nb; jr += nr {
					if _, _, _, ok := rs.rows(pc, kb, jc+jr, nr); !ok || jr+nr > nb {
						src.pack(bufs.b[jr*kb:], false, pc, kb, jc+jr, min(nr, nb-jr), nr)
					}
				}
			case j.src != nil:
				j.src.pack(bufs.b, j.tb, pc, kb, jc, nb, nr)
			default:
				packB(bufs.b, j.b, j.ldb, j.tb, pc, kb, jc, nb, nr)
			}
			sub := kb // the rows of the block each sweep over the columns takes
			if stream {
				sub = sgemmInPlaceSub
			}
			for ic := i0; ic < i1; ic += mc {
				mb := min(mc, i1-ic)
				if j.apk == nil {
					packA(bufs.a, j.a, j.lda, j.ta, j.alpha, ic, mb, pc, kb, mr)
				}
				for q := 0; q < kb; q += sub {
					j.sweep(bufs, rs, pc, kb, q, min(sub, kb-q), ic, mb, jc, nb, acc || q > 0)
				}
			}
		}
	}
}

// sweep runs rows [q, q+qb) of the kc block at pc against all the block's
// column panels, for rows [ic, ic+mb) of A.
func (j *sgemmJob) sweep(bufs *sgemmBufs, rs rowsSource, pc, kb, q, qb, ic, mb, jc, nb int, acc bool) {
	mr, nr := j.kern.mr, j.kern.nr
	tile := bufs.t[:mr*nr]
	for jr := 0; jr < nb; jr += nr {
		bp := bufs.b[jr*kb+q*nr : (jr+nr)*kb]
		ncols := min(nr, nb-jr)
		var rb []float32
		var roff []int
		hi, direct := 0, false
		if rs != nil && ncols == nr {
			rb, roff, hi, direct = rs.rows(pc+q, qb, jc+jr, nr)
		}
		for ir := 0; ir < mb; ir += mr {
			ap := j.panelA(bufs.a, pc, kb, ic, ir)[q*mr:]
			mm := min(mr, mb-ir)
			off, ldc, whole := j.cAt(ic+ir, jc+jr, ncols)
			switch {
			case !whole: // the tile's columns span two planes (not direct: rows declines such panels)
				j.kern.fn(qb, ap, bp, tile, nr, false)
				j.planesTile(tile, ic+ir, mm, jc+jr, ncols, acc)
				continue
			case mm == mr && direct:
				j.kern.rows(qb, ap, rb, roff, hi, j.c[off:], ldc, acc)
				continue
			case mm == mr && ncols == nr:
				j.kern.fn(qb, ap, bp, j.c[off:], ldc, acc)
				continue
			case direct && j.kern.partRows != nil:
				j.kern.partRows(mm, qb, ap, rb, roff, hi, j.c[off:], ldc, acc)
				continue
			case ncols == nr && j.kern.part != nil:
				j.kern.part(mm, qb, ap, bp, j.c[off:], ldc, acc)
				continue
			case direct:
				j.kern.rows(qb, ap, rb, roff, hi, tile, nr, false)
			default:
				j.kern.fn(qb, ap, bp, tile, nr, false)
			}
			for r := 0; r < mm; r++ {
				tileRow(j.c[off+r*ldc:][:ncols], tile[r*nr:][:ncols], acc)
			}
		}
	}
}

// cAt is where C's row row, column col is, its row stride, and whether
// the ncols columns from col on lie in one row of C (of one plane).
func (j *sgemmJob) cAt(row, col, ncols int) (int, int, bool) {
	if j.cP == 0 {
		return row*j.ldc + col, j.ldc, true
	}
	s, q := col/j.cP, col%j.cP
	return s*j.cPer + row*j.cP + q, j.cP, q+ncols <= j.cP
}

// planesTile writes (acc: adds) the mm×ncols tile at C's row row0, column
// col0, whose columns span more than one plane (cP > 0).
func (j *sgemmJob) planesTile(tile []float32, row0, mm, col0, ncols int, acc bool) {
	nr := j.kern.nr
	for x := 0; x < ncols; {
		off, _, _ := j.cAt(row0, col0+x, 0)
		w := min(ncols-x, j.cP-(col0+x)%j.cP)
		for r := 0; r < mm; r++ {
			tileRow(j.c[off+r*j.cP:][:w], tile[r*nr+x:][:w], acc)
		}
		x += w
	}
}

// tileRow writes (acc: adds) a row of a tile computed apart into C.
func tileRow(dst, src []float32, acc bool) {
	if !acc {
		copy(dst, src)
		return
	}
	addTo(dst, src)
}

// panelA is the packed row panel of A at row ic+ir of the kb-deep block
// at pc: in buf (packed for the block at ic) or in the job's packed A.
func (j *sgemmJob) panelA(buf []float32, pc, kb, ic, ir int) []float32 {
	mr := j.kern.mr
	switch row := ic + ir; {
	case j.apk == nil:
		return buf[ir*kb : (ir+mr)*kb]
	case row < j.mpad:
		return j.apk[pc*j.mpad+row*kb:][:mr*kb]
	default:
		return j.aedge[pc*mr:][:mr*kb]
	}
}

// packA stores alpha·op(A)[i0:i0+mb, p0:p0+kb] as panels of mr rows, each
// kb groups of mr values; rows past mb are zero.
func packA(dst, a []float32, lda int, ta bool, alpha float32, i0, mb, p0, kb, mr int) {
	for ir := 0; ir < mb; ir += mr {
		rows := min(mr, mb-ir)
		d := dst[ir*kb : (ir+mr)*kb]
		if ta { // op(A)[i][p] = a[p*lda+i]: rows are contiguous
			for p := 0; p < kb; p++ {
				src := a[(p0+p)*lda+i0+ir:][:rows]
				g := d[p*mr : p*mr+mr]
				for r, v := range src {
					g[r] = alpha * v
				}
				clear(g[rows:])
			}
			continue
		}
		if alpha == 1 && rows <= 64 { // row-major A: gather its rows' values for each p, stores contiguous
			var off [64]int
			for r := 0; r < rows; r++ {
				off[r] = (i0+ir+r)*lda + p0
			}
			packBTAt(d, a, off[:rows], kb, mr)
		} else {
			for r := 0; r < rows; r++ {
				src := a[(i0+ir+r)*lda+p0:][:kb]
				for p, v := range src {
					d[p*mr+r] = alpha * v
				}
			}
		}
		for r := rows; r < mr; r++ {
			for p := 0; p < kb; p++ {
				d[p*mr+r] = 0
			}
		}
	}
}

// packB stores op(B)[p0:p0+kb, j0:j0+nb] as panels of nr columns, each kb
// groups of nr values; columns past nb are zero.
func packB(dst, b []float32, ldb int, tb bool, p0, kb, j0, nb, nr int) {
	for jr := 0; jr < nb; jr += nr {
		cols := min(nr, nb-jr)
		d := dst[jr*kb : (jr+nr)*kb]
		if !tb { // op(B)[p][j] = b[p*ldb+j]: columns are contiguous
			for p := 0; p < kb; p++ {
				g := d[p*nr : p*nr+nr]
				copy(g, b[(p0+p)*ldb+j0+jr:][:cols])
				clear(g[cols:])
			}
			continue
		}
		packBT(d, b, ldb, p0, kb, j0+jr, cols, nr)
	}
}

// packBT is packB's transposed case for one panel: row p of the panel
// gathers b[(j0+c)·ldb + p0 + p] over its columns c.
func packBT(d, b []float32, ldb, p0, kb, j0, cols, nr int) {
	var off [64]int
	if cols > len(off) {
		panic("nn: packB panel wider than 64 columns")
	}
	for c := 0; c < cols; c++ {
		off[c] = (j0+c)*ldb + p0
	}
	packBTAt(d, b, off[:cols], kb, nr)
	clearPanelPad(d, kb, cols, nr)
}

// clearPanelPad zeroes the columns [cols, nr) of a kb-row panel d that has
// fewer columns of B than the kernel's nr.
func clearPanelPad(d []float32, kb, cols, nr int) {
	if cols < nr {
		for p := 0; p < kb; p++ {
			clear(d[p*nr+cols : p*nr+nr])
		}
	}
}

// packBTAt writes rows [0, kb) of a panel whose column c reads b from
// off[c] on: d[p·nr + c] = b[off[c] + p]. Four rows at a time, so that
// every column's four consecutive values are read together and each store
// is contiguous.
func packBTAt(d, b []float32, off []int, kb, nr int) {
	cols := len(off)
	p := transposeColsSIMD(d, b, off, kb, nr)
	for ; p+4 <= kb; p += 4 {
		r0 := d[p*nr : p*nr+cols]
		r1 := d[(p+1)*nr : (p+1)*nr+cols]
		r2 := d[(p+2)*nr : (p+2)*nr+cols]
		r3 := d[(p+3)*nr : (p+3)*nr+cols]
		for c := range r0 {
			s := b[off[c]+p:][:4]
			r0[c], r1[c], r2[c], r3[c] = s[0], s[1], s[2], s[3]
		}
	}
	for ; p < kb; p++ {
		r := d[p*nr : p*nr+cols]
		for c := range r {
			r[c] = b[off[c]+p]
		}
	}
}

// sgemmScale sets C[i0:i1, j0:j1] to beta·C; beta 0 clears (NaNs included).
func sgemmScale(beta float32, c []float32, ldc, i0, i1, j0, j1 int) {
	if beta == 1 {
		return
	}
	for i := i0; i < i1; i++ {
		row := c[i*ldc+j0 : i*ldc+j1]
		if beta == 0 {
			clear(row)
			continue
		}
		for x := range row {
			row[x] *= beta
		}
	}
}

// sgemmCheck panics, as BLAS does, on sizes and strides that do not fit the
// slices: the assembly kernel must never see an out-of-range tile.
func sgemmCheck(ta, tb bool, m, n, k, la, lda, lb, ldb, lc, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("nn: sgemm: negative size m=%d n=%d k=%d", m, n, k))
	}
	ar, ac := m, k
	if ta {
		ar, ac = k, m
	}
	br, bc := k, n
	if tb {
		br, bc = n, k
	}
	need := func(name string, rows, cols, l, ld int) {
		if ld < max(1, cols) {
			panic(fmt.Sprintf("nn: sgemm: ld%s=%d < %d columns", name, ld, cols))
		}
		if rows > 0 && cols > 0 && l < (rows-1)*ld+cols {
			panic(fmt.Sprintf("nn: sgemm: %s has %d elements, a %d×%d matrix with ld %d needs %d", name, l, rows, cols, ld, (rows-1)*ld+cols))
		}
	}
	need("a", ar, ac, la, lda)
	if lb > 0 { // lb 0: B comes packed from a bSource
		need("b", br, bc, lb, ldb)
	}
	need("c", m, n, lc, ldc)
}
