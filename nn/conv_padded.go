package nn

import "runtime"

// A convolution (1-D or 2-D, groups 1) reads its im2col matrix from a
// zero-padded copy of its input: im2col row (c, i, j) over a band of output
// rows, taken at every column of the padded width wp, is the padded band
// shifted by i·dh·wp + j·dw — one contiguous run. The AVX-512 kernel reads
// its B panels there in place (other kernels pack them with plain copies),
// with no bounds tests (filling panels from the unpadded input spent a fifth
// of the ResNet block's training step on bounds and row-crossing runs), at the price of
// wp − ow extra columns per output row, computed and dropped. With strides sh×sw the copy is split into sh·sw
// phase planes (rows ≡ a mod sh, columns ≡ b mod sw) and wp is a phase
// plane's width: row (c, i, j) is then phase (i·dh mod sh, j·dw mod sw)
// shifted by ⌊i·dh/sh⌋·wp + ⌊j·dw/sw⌋, contiguous again. The input gradient
// of a stride-1 convolution is itself one — the output gradient, padded by
// the kernel's extent less the forward padding, convolved with the
// flipped, transposed weights — so it runs the same way instead of through
// a GEMM into columns and col2im.

// paddedConv is the geometry of one such convolution and its GEMM source.
type paddedConv struct {
	ok             bool
	c, h, w        int // input channels and plane
	kh, kw, sh, sw int
	dh, dw         int
	pt, pl         int
	oh, ow         int
	wp             int   // width of a phase plane (stride 1: the padded width pl + w + pr), the product's columns per output row
	band           int   // output rows per unit: oh (a unit is a sample) or fewer (a band of one sample)
	hb             int   // phase rows per unit: band + ⌊(kh-1)·dh/sh⌋
	per            int   // elements per unit in the padded buffer: channels × phases × hb·wp, then the right kernel reach
	np             int   // phase planes per channel
	phases         []int // phase (a, b) → its index among the phases some kernel tap reads, or -1 (a 1×1 stride-2 window reads one of four)
	chunk          int   // samples per product when a unit is a sample
	off            []int
	hi             int // the largest of off
	src            paddedSource
	task           paddedTask
	split          *paddedSplit
}

// setup sets the geometry of a convolution of c channels of h×w with the
// given kernel, strides, dilation and pads into filters output channels of
// oh×ow, within limit elements for the padded units and the product; ok is
// false when a pad is negative (the input gradient of a convolution padded
// past its kernel's extent) or the sizes disagree.
func (pc *paddedConv) setup(n, c, h, w, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, oh, ow, filters, limit int) {
	*pc = paddedConv{off: pc.off[:0], phases: pc.phases, c: c, h: h, w: w, kh: kh, kw: kw, sh: sh, sw: sw, dh: dh, dw: dw, pt: pt, pl: pl}
	reachY, reachX := (kh-1)*dh, (kw-1)*dw
	hp, wpad := h+pt+pb, w+pl+pr
	if pt < 0 || pb < 0 || pl < 0 || pr < 0 || hp <= reachY || wpad <= reachX ||
		(hp-reachY-1)/sh+1 != oh || (wpad-reachX-1)/sw+1 != ow {
		return
	}
	pc.ok, pc.oh, pc.ow = true, oh, ow
	pc.wp = (wpad + sw - 1) / sw
	if nr := sgemmKernel.nr; sw == 1 && pr > 0 && pr <= pl && pr <= reachX && oh*pc.wp%nr != 0 {
		// a row's right padding is the next row's left padding (the last
		// row's, the slack after the unit): one zero column per row on a
		// 3×3 window instead of two. BenchmarkConvPadded, ResNet50's 512
		// channels on 7×7 at batch 8: 1.05-1.09× faster. Unless a sample's
		// columns fill whole panels of the kernel, which they would then
		// straddle (256 channels on 14×14: 224 columns, 0.92-1.0× in three
		// rounds).
		pc.wp = pl + w
	}
	pc.phases = append(pc.phases[:0], make([]int, sh*sw)...)
	for i := range pc.phases {
		pc.phases[i] = -1
	}
	for i := 0; i < kh; i++ {
		for j := 0; j < kw; j++ {
			pc.phases[(i*dh%sh)*sw+j*dw%sw] = 0
		}
	}
	phases := 0
	for i, used := range pc.phases {
		if used == 0 {
			pc.phases[i] = phases
			phases++
		}
	}
	rowCost := pc.wp * max(c*phases, filters) // a band row: padded input or product columns
	pc.band = min(oh, max(1, limit/max(rowCost, 1)-reachY/sh))
	pc.hb = pc.band + reachY/sh
	pc.np = phases
	pc.per = c*phases*pc.hb*pc.wp + reachX/sw
	pc.chunk = 1
	if pc.band == oh {
		pc.chunk = max(1, min(n, limit/max(pc.per, filters*oh*pc.wp)))
	}
	for ch := 0; ch < c; ch++ {
		for i := 0; i < kh; i++ {
			for j := 0; j < kw; j++ {
				y, x := i*dh, j*dw
				phase := ch*phases + pc.phases[(y%sh)*sw+x%sw]
				pc.off = append(pc.off, phase*pc.hb*pc.wp+y/sh*pc.wp+x/sw)
				pc.hi = max(pc.hi, pc.off[len(pc.off)-1])
			}
		}
	}
}

// units is how many units a product over samples [s, n) covers, and their
// output rows each.
func (pc *paddedConv) units(s, n, band int) (nu, rows int) {
	if pc.band == pc.oh {
		return min(pc.chunk, n-s), pc.oh
	}
	return 1, min(pc.band, pc.oh-band*pc.band)
}

// bands is the number of bands a sample is cut into.
func (pc *paddedConv) bands() int { return (pc.oh + pc.band - 1) / pc.band }

// sizes are the elements of the padded buffer and of the product (filters
// rows) one product needs.
func (pc *paddedConv) sizes(filters int) (padded, product int) {
	return pc.chunk * pc.per, filters * pc.chunk * pc.band * pc.wp
}

// paddedSource is the im2col matrix (or its transpose) of nu units of a
// paddedConv, for the GEMM to pack from.
type paddedSource struct {
	p    []float32
	per  int   // elements between units
	cols int   // columns per unit: rows·wp
	off  []int // im2col row → offset in a unit
	hi   int   // the largest offset
}

// rows lets the kernel read a panel within one unit in place: its row p is
// the unit's padded copy from off[p0+p] on.
func (s *paddedSource) rows(p0, kb, j, nr int) ([]float32, []int, int, bool) {
	u, pos := j/s.cols, j%s.cols
	if pos+nr > s.cols {
		return nil, nil, 0, false
	}
	return s.p[u*s.per+pos:], s.off[p0 : p0+kb], s.hi, true
}

func (s *paddedSource) pack(dst []float32, tb bool, p0, kb, j0, nb, nr int) {
	var off [64]int
	for jr := 0; jr < nb; jr += nr {
		cols := min(nr, nb-jr)
		d := dst[jr*kb : (jr+nr)*kb]
		if !tb { // panel row p is im2col row p0+p over the panel's positions: a run per unit
			for q := 0; q < cols; {
				u, pos := (j0+jr+q)/s.cols, (j0+jr+q)%s.cols
				n := min(cols-q, s.cols-pos)
				base := u*s.per + pos
				for p, o := range s.off[p0 : p0+kb] {
					copy(d[p*nr+q:p*nr+q+n], s.p[base+o:])
				}
				q += n
			}
			clearPanelPad(d, kb, cols, nr)
			continue
		}
		// transposed: panel row p is position p0+p, column c im2col row j0+jr+c
		if cols > len(off) {
			panic("paddedSource: panel wider than 64 columns")
		}
		rows := s.off[j0+jr : j0+jr+cols]
		for p := 0; p < kb; {
			u, pos := (p0+p)/s.cols, (p0+p)%s.cols
			n := min(kb-p, s.cols-pos)
			base := u*s.per + pos
			for c, o := range rows {
				off[c] = base + o
			}
			packBTAt(d[p*nr:], s.p, off[:cols], n, nr)
			p += n
		}
		clearPanelPad(d, kb, cols, nr)
	}
}

// paddedTask is one parallel pass over the units × channels of a product.
type paddedTask struct {
	pc       *paddedConv
	kind     int
	x, out   []float32 // the convolution's input and output (whole batch)
	p, prod  []float32 // padded units, product (or expanded output gradient)
	s, band  int       // first unit's sample, band
	nu, rows int       // units, output rows per unit
	filters  int
	post     planeFn[float32] // run on each output plane a whole-sample scatter completes
}

const (
	paddedFill    = iota // x → p
	paddedScatter        // prod → out, dropping the extra columns
	paddedExpand         // out → prod with the extra columns zero: the output gradient as the weight gradient's left operand
)

func (t *paddedTask) runRange(lo, hi int) {
	pc := t.pc
	inPer, outPer := pc.c*pc.h*pc.w, t.filters*pc.oh*pc.ow
	oy0, rows := t.band*pc.band, t.rows
	cols, ld := rows*pc.wp, t.nu*rows*pc.wp
	for i := lo; i < hi; i++ {
		switch t.kind {
		case paddedFill:
			u, ch := i/pc.c, i%pc.c
			unit := t.p[u*pc.per:][:pc.per]
			src := t.x[(t.s+u)*inPer+ch*pc.h*pc.w:][:pc.h*pc.w]
			pc.fillChannel(unit, src, ch, oy0)
			if ch == pc.c-1 {
				clear(unit[pc.c*pc.np*pc.hb*pc.wp:])
			}
		default:
			u, f := i/t.filters, i%t.filters
			prod := t.prod[f*ld+u*cols:][:cols]
			o := t.out[(t.s+u)*outPer+f*pc.oh*pc.ow+oy0*pc.ow:][:rows*pc.ow]
			for r := 0; r < rows; r++ {
				if t.kind == paddedScatter {
					copy(o[r*pc.ow:][:pc.ow], prod[r*pc.wp:])
					continue
				}
				row := prod[r*pc.wp:][:pc.wp]
				copy(row, o[r*pc.ow:][:pc.ow])
				clear(row[pc.ow:])
			}
			if t.post != nil && t.kind == paddedScatter {
				t.post((t.s+u)*t.filters+f, o) // the plane is whole (units are samples), and in cache
			}
		}
	}
}

// fillChannel writes the phase planes of channel ch (input plane src) of a
// unit whose first output row is oy0.
func (pc *paddedConv) fillChannel(unit, src []float32, ch, oy0 int) {
	if pc.sh == 2 && pc.sw == 2 && pc.np == 4 {
		pc.fillStride2(unit, src, ch, oy0)
		return
	}
	pc.fillPhases(unit, src, ch, oy0)
}

// fillPhases is fillChannel one phase plane, then one row, at a time.
func (pc *paddedConv) fillPhases(unit, src []float32, ch, oy0 int) {
	plane := pc.hb * pc.wp
	for a := 0; a < pc.sh; a++ {
		for b := 0; b < pc.sw; b++ {
			k := pc.phases[a*pc.sw+b]
			if k < 0 {
				continue
			}
			ph := unit[(ch*pc.np+k)*plane:][:plane]
			for r := 0; r < pc.hb; r++ {
				dst := ph[r*pc.wp:][:pc.wp]
				y := (oy0+r)*pc.sh + a - pc.pt
				if y < 0 || y >= pc.h {
					clear(dst)
					continue
				}
				row := src[y*pc.w:][:pc.w]
				if pc.sw == 1 {
					clear(dst[:pc.pl])
					copy(dst[pc.pl:], row)
					clear(dst[pc.pl+pc.w:])
					continue
				}
				// columns x read input column x·sw + b − pl, inside for x in [lo, hi)
				lo := min(max(0, (pc.pl-b+pc.sw-1)/pc.sw), len(dst))
				hi := lo
				if last := pc.w - 1 + pc.pl - b; last >= 0 {
					hi = max(min(len(dst), last/pc.sw+1), lo)
				}
				clear(dst[:lo])
				x := lo
				if pc.sw == 2 && hi > lo {
					x += evensSIMD(dst[lo:hi], row[2*lo+b-pc.pl:])
				}
				for ; x < hi; x++ {
					dst[x] = row[x*pc.sw+b-pc.pl]
				}
				clear(dst[hi:])
			}
		}
	}
}

// fillStride2 is fillChannel for 2×2 strides whose taps read all four
// phases (a 3×3 window): each input row is split into its even and odd
// columns, the two column phases of its row phase, in one pass. Phase by
// phase, a row at a time, the calls per row took a fifth of ResNet50's
// 3×3 stride-2 layers (128 channels on 56×56).
func (pc *paddedConv) fillStride2(unit, src []float32, ch, oy0 int) {
	plane := pc.hb * pc.wp
	// input column x lands on padded column x + pl: phase (x+pl) mod 2 at
	// (x+pl)/2, so the even columns start at eo in one phase, the odd ones
	// at oo in the other
	ne, no := (pc.w+1)/2, pc.w/2
	eo, oo, swap := pc.pl/2, pc.pl/2, pc.pl%2 == 1
	if swap {
		oo++
	}
	for a := 0; a < 2; a++ {
		p0 := unit[(ch*pc.np+pc.phases[a*2])*plane:][:plane]
		p1 := unit[(ch*pc.np+pc.phases[a*2+1])*plane:][:plane]
		for r := 0; r < pc.hb; r++ {
			ev, od := p0[r*pc.wp:][:pc.wp], p1[r*pc.wp:][:pc.wp]
			if swap {
				ev, od = od, ev
			}
			y := (oy0+r)*2 + a - pc.pt
			if y < 0 || y >= pc.h {
				clear(ev)
				clear(od)
				continue
			}
			row := src[y*pc.w:][:pc.w]
			clear(ev[:eo])
			clear(od[:oo])
			e, o := ev[eo:][:ne], od[oo:][:no]
			i := deinterleaveSIMD(e, o, row)
			for ; i < no; i++ {
				e[i], o[i] = row[2*i], row[2*i+1]
			}
			if ne > no {
				e[no] = row[2*no]
			}
			clear(ev[eo+ne:])
			clear(od[oo+no:])
		}
	}
}

// pass runs one parallel pass of kind over nu units of rows output rows
// from sample s (or over band of sample s).
func (pc *paddedConv) pass(kind int, x, out, p, prod []float32, s, band, nu, rows, filters int, post planeFn[float32]) {
	t := &pc.task
	*t = paddedTask{pc: pc, kind: kind, x: x, out: out, p: p, prod: prod, s: s, band: band, nu: nu, rows: rows, filters: filters, post: post}
	items, per := nu*pc.c, pc.np*pc.hb*pc.wp
	if kind != paddedFill {
		items, per = nu*filters, rows*pc.wp
	}
	parallelRange(items, per, t)
	*t = paddedTask{}
}

// forward writes the convolution of the samples [s, next) of x (n in all)
// by the packed weights w (filters × c·kh·kw) into out and returns next;
// p and prod are scratch of sizes(filters). When the units are whole
// samples it runs post on each output plane as it is written and reports
// posted; otherwise the caller runs it.
func (pc *paddedConv) forward(w *packedA[float32], x, out []float32, s, n, filters int, p, prod []float32, post planeFn[float32]) (next int, posted bool) {
	if m := pc.bySample(n - s); m > 0 {
		pc.runSplit(splitPass{kind: splitForward, w: w, x: x, out: out, p: p, prod: prod, s: s, n: s + m, filters: filters, post: post})
		return s + m, true
	}
	if pc.band != pc.oh {
		post = nil
	}
	nu := 1
	for b := 0; b < pc.bands(); b++ {
		var rows int
		nu, rows = pc.units(s, n, b)
		pc.pass(paddedFill, x, nil, p, nil, s, b, nu, rows, filters, nil)
		pc.src = paddedSource{p: p, per: pc.per, cols: rows * pc.wp, off: pc.off, hi: pc.hi}
		ld := nu * rows * pc.wp
		w.mulFrom(ld, &pc.src, 0, prod, ld)
		pc.src.p = nil
		pc.pass(paddedScatter, nil, out, nil, prod, s, b, nu, rows, filters, post)
	}
	return s + nu, post != nil
}

// weightGrad adds the weight gradient of n samples (dOut: filters planes of
// oh×ow each) to gW (filters × c·kh·kw).
func (pc *paddedConv) weightGrad(x, dOut, gW []float32, n, filters int, p, prod []float32) {
	K := len(pc.off)
	s := pc.bySample(n)
	if s > 0 {
		pc.runSplit(splitPass{kind: splitWeightGrad, x: x, out: dOut, p: p, prod: prod, gW: gW, n: s, filters: filters})
	}
	for s < n {
		nu := 1
		for b := 0; b < pc.bands(); b++ {
			var rows int
			nu, rows = pc.units(s, n, b)
			pc.pass(paddedFill, x, nil, p, nil, s, b, nu, rows, filters, nil)
			pc.pass(paddedExpand, nil, dOut, nil, prod, s, b, nu, rows, filters, nil)
			pc.src = paddedSource{p: p, per: pc.per, cols: rows * pc.wp, off: pc.off, hi: pc.hi}
			ld := nu * rows * pc.wp
			sgemmFrom(runtime.GOMAXPROCS(0), false, true, filters, K, ld, 1, prod, ld, &pc.src, 1, gW, K)
			pc.src.p = nil
		}
		s += nu
	}
}

// flipWeights writes the weights of a convolution's input gradient: wt[c][f,
// kh-1-i, kw-1-j] = w[f][c, i, j].
func flipWeights(wt, w []float32, filters, c, kh, kw int) {
	kk := kh * kw
	for f := 0; f < filters; f++ {
		for ch := 0; ch < c; ch++ {
			src := w[(f*c+ch)*kk:][:kk]
			dst := wt[(ch*filters+f)*kk:][:kk]
			for i, v := range src {
				dst[kk-1-i] = v
			}
		}
	}
}

// setupPadded sets the padded geometries of a convolution (groups 1, 1-D or
// 2-D) of n samples — the input gradient's for stride 1, unless it belongs
// to an inference network — and grows the scratch sizes to fit them.
func (c *convCore[F]) setupPadded(n, limit int) {
	c.pf.ok, c.pb.ok = false, false
	g := &c.geo
	var z F
	if _, f32 := any(z).(float32); !f32 || c.generic || c.noPadded || g.is3D() || c.groups != 1 {
		return
	}
	reachY, reachX := (g.kh-1)*g.dh, (g.kw-1)*g.dw
	// the pads the windows reach (input rows or columns past the last window are not read)
	pb, pr := max((g.oh-1)*g.sh+reachY+1-g.h-g.pt, 0), max((g.ow-1)*g.sw+reachX+1-g.w-g.pl, 0)
	c.pf.setup(n, g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.pt, pb, g.pl, pr, g.oh, g.ow, c.filters, limit)
	if g.sh == 1 && g.sw == 1 && !c.pooled { // an inference network's convolutions run no backward pass
		c.pb.setup(n, c.filters, g.oh, g.ow, g.kh, g.kw, 1, 1, g.dh, g.dw, reachY-g.pt, reachY-pb, reachX-g.pl, reachX-pr, g.h, g.w, g.c, limit)
	}
	if !c.pf.ok {
		c.pb.ok = false
		return
	}
	for _, pc := range []*paddedConv{&c.pf, &c.pb} {
		if pc.ok {
			padded, prod := pc.sizes(c.filters + g.c - pc.c) // the product's rows: the other side's channels
			c.colN, c.tmpN = max(c.colN, padded), max(c.tmpN, prod)
		}
	}
}

// usePadded reports whether passes run from padded copies (float32, not
// switched off before setup).
func (c *convCore[F]) usePadded() bool { return c.pf.ok }

// backwardPadded accumulates the weight gradient and writes the input
// gradient from padded copies where it can; it returns the ones left to
// the im2col path (nil when done).
func (c *convCore[F]) backwardPadded(x, W, dOut, gW, dx []F) ([]F, []F) {
	_, fast := gemm32.(fastGemm32)
	if !c.usePadded() || !fast {
		return gW, dx
	}
	g, n := &c.geo, c.inShape[0]
	x32, d32 := any(x).([]float32), any(dOut).([]float32)
	p, prod := any(c.col).([]float32), any(c.tmp).([]float32)
	if gW != nil && c.filters > sgemmSmallRows {
		c.pf.weightGrad(x32, d32, any(gW).([]float32), n, c.filters, p, prod)
		gW = nil
	}
	if dx != nil && c.pb.ok {
		K := c.filters * g.k()
		c.wT = growSlice(c.wT, g.c*K)
		wT := any(c.wT).([]float32)
		flipWeights(wT, any(W).([]float32), c.filters, g.c, g.kh, g.kw)
		c.wpkT.pack(false, g.c, K, 1, c.wT, K)
		if c.wpkT.packed {
			wpk, dx32 := any(&c.wpkT).(*packedA[float32]), any(dx).([]float32)
			for s := 0; s < n; {
				s, _ = c.pb.forward(wpk, d32, dx32, s, n, g.c, p, prod, nil)
			}
			dx = nil
		}
		c.wpkT.release()
	}
	return gW, dx
}

// A pass over whole-sample units of a batch with at least a unit per
// goroutine runs by sample: each goroutine fills, multiplies (alone) and
// scatters its own range of samples in its own share of the scratch, and
// the weight gradient sums one product per goroutine at the end. The
// batch-wide passes instead wait on each other three times per chunk
// (fill, product, scatter): on the small planes of training (a ResNet
// block's 28×28, a small CNN's 32×32) those waits and the hand-offs cost
// as much as a fifth of the step.

const (
	splitForward    = iota // x by the packed weights into out
	splitWeightGrad        // the weight gradient of x and the output gradient (out) into gW
)

// splitPass is what one sample-parallel pass computes.
type splitPass struct {
	kind                int
	w                   *packedA[float32]
	x, out, p, prod, gW []float32
	s, n, filters       int
	post                planeFn[float32]
}

// paddedSplit runs a splitPass (its parts are goroutines).
type paddedSplit struct {
	splitPass
	pc      *paddedConv
	parts   int
	workers []paddedWorker
	wg      partsWait
}

// paddedWorker is one goroutine's state in a paddedSplit.
type paddedWorker struct {
	task paddedTask
	src  paddedSource
	job  sgemmJob
	gw   []float32 // its weight-gradient sum (part 0 adds into the layer's)
	used bool      // gw holds this pass's sum
}

// bySample is how many of n samples a pass runs by sample (0: none): the
// largest multiple of the goroutines' count, so that none idles while
// another runs one more (an inference network's batches of 3 on 2 cores);
// the rest split their products across the goroutines.
func (pc *paddedConv) bySample(n int) int {
	t := runtime.GOMAXPROCS(0)
	if t < 2 || pc.band != pc.oh || pc.chunk < t {
		return 0
	}
	return n - n%t
}

func (pc *paddedConv) runSplit(sp splitPass) {
	if pc.split == nil {
		pc.split = new(paddedSplit)
	}
	t := pc.split
	t.splitPass, t.pc, t.parts = sp, pc, runtime.GOMAXPROCS(0)
	if len(t.workers) < t.parts {
		t.workers = append(t.workers, make([]paddedWorker, t.parts-len(t.workers))...)
	}
	runParts(t, t.parts, &t.wg)
	if t.kind == splitWeightGrad {
		for i := 1; i < t.parts; i++ {
			if w := &t.workers[i]; w.used {
				addTo(t.gW, w.gw[:len(t.gW)])
				w.used = false
			}
		}
	}
	t.splitPass = splitPass{}
}

func (t *paddedSplit) runPart(i int) {
	pc, wk := t.pc, &t.workers[i]
	lo, hi := t.s+(t.n-t.s)*i/t.parts, t.s+(t.n-t.s)*(i+1)/t.parts
	cw := pc.chunk / t.parts
	cols := pc.oh * pc.wp
	p := t.p[i*cw*pc.per:][:cw*pc.per]
	prod := t.prod[i*cw*t.filters*cols:][:cw*t.filters*cols]
	gW := t.gW
	if t.kind == splitWeightGrad && i > 0 {
		wk.gw = growSlice(wk.gw, len(t.gW))
		gW = wk.gw[:len(t.gW)]
	}
	task := &wk.task
	for s := lo; s < hi; s += cw {
		nu := min(cw, hi-s)
		ld := nu * cols
		*task = paddedTask{pc: pc, kind: paddedFill, x: t.x, p: p, s: s, nu: nu, rows: pc.oh, filters: t.filters}
		task.runRange(0, nu*pc.c)
		wk.src = paddedSource{p: p, per: pc.per, cols: cols, off: pc.off, hi: pc.hi}
		switch t.kind {
		case splitForward:
			t.w.mulFromWith(&wk.job, 1, ld, &wk.src, 0, prod, ld)
			task.kind, task.out, task.prod, task.post = paddedScatter, t.out, prod, t.post
		default:
			task.kind, task.out, task.prod = paddedExpand, t.out, prod
		}
		task.runRange(0, nu*t.filters)
		if t.kind == splitWeightGrad {
			beta := float32(1)
			if i > 0 && s == lo {
				beta = 0
			}
			K := len(pc.off)
			sgemmFrom(1, false, true, t.filters, K, ld, 1, prod, ld, &wk.src, beta, gW, K)
		}
		wk.src.p = nil
	}
	wk.used = t.kind == splitWeightGrad && i > 0 && hi > lo
	*task = paddedTask{}
}
