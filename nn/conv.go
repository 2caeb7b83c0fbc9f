package nn

import (
	"fmt"
	"runtime"

	"github.com/retarget-dev/retarget/ir"
)

// colLimit bounds the im2col buffer (elements): samples are batched into
// one GEMM up to it, and a larger sample's output positions are processed
// in tiles that fit it (VGG16's conv1_2 would otherwise need 64·9×224·224
// floats). A buffer that stays in the L2/L3 cache beats a wider GEMM
// (measured on the ResNet block of speed_bench_test.go and on
// BenchmarkConvVGG16Block1).
const colLimit = 1 << 18

// inferColLimit caps the column buffer of an inference network's
// convolutions, which run forward only, where a batch gives each goroutine
// whole samples (paddedConv.bySample) within it: ResNet50's 3×3 and 1×1
// stride-2 layers and its stem, with one sample per product, split every
// GEMM across the goroutines at 130-200 GFLOP/s. Interleaved on an AMD
// EPYC (Zen 5), ResNet50 forward at batch 8: its stride-2 layers 92 → 82
// ms, the whole pass 3-8% faster. The ResNet block's training step was 4%
// slower with it, hence inference only.
const inferColLimit = 1 << 20

// inferMinCols is the fewest columns (output positions, padded rows
// included) an inference convolution's product should have, within
// inferColLimit: each product streams all of the weights through the
// caches. ResNet50's 3×3 layers on 7×7 planes (63 columns a sample, 9.4 MB
// of weights) ran at 186–188 GFLOP/s with two samples a product, 195–204 with
// three and then one, 240–246 with four (a goroutine's whole share of 8).
// 14×14 planes (224 columns) gained nothing from more, and VGG16's peak
// has no room for it there.
const inferMinCols = 192

// convCore is a grouped 1-D/2-D convolution without bias via im2col + GEMM.
// W is [filters, C/groups, k...].
type convCore[F Float] struct {
	rank, filters, groups int
	kernel, strides, dil  []int
	padding               ir.Padding
	pads                  []int

	geo      convGeom
	inShape  []int
	outShape []int
	cin      int
	col, tmp []F
	wpk      packedA[F] // the weights of one forward pass, packed once (groups == 1)
	// takeWeights: the first forward pass that packs the weights packs
	// them in their own storage for good (Options.TakeWeights)
	takeWeights bool
	tj          *tileJob[F]
	task        convTask[F]
	chunk       int
	// tile is the number of output positions per im2col + GEMM when one
	// sample runs at a time (chunk 1); the sample's whole plane otherwise
	tile int
	// colBudget overrides colLimit (tests force tiles)
	colBudget int
	// pooled: col and tmp are borrowed from an inference network's pool
	// for each call (borrow) instead of kept
	pooled     bool
	colN, tmpN int
	// generic disables the depthwise, pointwise and Winograd kernels (tests
	// compare them with the im2col path); noWinograd only Winograd
	generic, noWinograd bool
	noPadded            bool        // materialise the im2col columns instead of the padded copy (tests and benchmarks compare)
	pf, pb              paddedConv  // stride 1, groups 1: the forward pass and the input gradient from padded copies
	wpkT                packedA[F]  // the input gradient's weights, packed for one backward pass
	wT                  []F         // the input gradient's weights (flipWeights)
	pool                *bufPool[F] // the inference pool during a pooled call
	wino                winograd[F]
	pwB                 stridedB // a pointwise forward pass's sample, read in place
	pwSplit             *pointwiseSplit
	winoU, winoV, winoM []F
}

func (c *convCore[F]) setup(in []int) error {
	if ir.SameShape(in, c.inShape) {
		return nil
	}
	if len(in) != c.rank+2 {
		return fmt.Errorf("input shape %v, want rank %d with batch", in, c.rank+2)
	}
	sp := in[2:]
	out, err := ir.SpatialOut("conv", sp, c.kernel, c.strides, c.dil, c.padding, c.pads, false)
	if err != nil {
		return err
	}
	begin, _ := ir.ResolvePads(sp, c.kernel, c.strides, c.dil, c.padding, c.pads)
	at := func(xs []int, i int) int {
		if i < len(xs) && xs[i] > 0 {
			return xs[i]
		}
		return 1
	}
	c.cin = in[1]
	if c.cin%c.groups != 0 || c.filters%c.groups != 0 {
		return fmt.Errorf("%d input and %d output channels are not divisible by %d groups", c.cin, c.filters, c.groups)
	}
	g := convGeom{c: c.cin / c.groups, h: 1, kh: 1, sh: 1, dh: 1, oh: 1}
	if c.rank == 3 {
		g.d, g.kd, g.sd, g.dd, g.pf, g.od = sp[0], c.kernel[0], at(c.strides, 0), at(c.dil, 0), begin[0], out[0]
	}
	if c.rank >= 2 {
		a := c.rank - 2
		g.h, g.kh, g.sh, g.dh, g.pt, g.oh = sp[a], c.kernel[a], at(c.strides, a), at(c.dil, a), begin[a], out[a]
	}
	a := c.rank - 1
	g.w, g.kw, g.sw, g.dw, g.pl, g.ow = sp[a], c.kernel[a], at(c.strides, a), at(c.dil, a), begin[a], out[a]
	c.geo = g
	c.inShape = append(c.inShape[:0], in...)
	c.outShape = append([]int{in[0], c.filters}, out...)
	if !c.needsColumns() {
		return nil
	}
	rows := g.c * g.k()
	limit := colLimit
	if t := runtime.GOMAXPROCS(0); c.pooled && in[0] >= t {
		// about a sample's padded copy or its product, once per goroutine
		// (or bands as tall as fit), no more: all of inferColLimit made
		// VGG16's block5, on 8 gathered images, take 7 per product, 5.5 MB
		// more peak and no measurable speed
		span := max(g.c*(g.h+g.kh)*(g.w+g.kw), c.filters*g.oh*(g.ow+g.kw))
		// and samples enough that a goroutine's product has inferMinCols
		// columns, when the budget allows
		cols := g.oh * (g.ow + g.kw - 1)
		samples := (inferMinCols + cols - 1) / cols
		limit = max(limit, min(t*samples*span, inferColLimit))
	}
	if c.colBudget > 0 {
		limit = c.colBudget
	}
	c.chunk = max(1, min(in[0], limit/max(rows*g.p(), 1)))
	c.tile = g.p()
	if c.chunk == 1 {
		c.tile = tileColumns(g.p(), g.ow, rows, limit)
	}
	c.colN, c.tmpN = rows*c.tile*c.chunk, 0
	if c.chunk > 1 {
		c.tmpN = c.filters / c.groups * g.p() * c.chunk
	}
	c.setupPadded(in[0], limit)
	if !c.pooled {
		c.col = growSlice(c.col, c.colN)
		c.tmp = growSlice(c.tmp, c.tmpN)
	}
	return nil
}

// tileColumns is how many of p output positions (rows of ow) one im2col
// tile of rows×tile elements covers within limit: all of them, whole output
// rows, or at least one position.
func tileColumns(p, ow, rows, limit int) int {
	cols := max(limit/max(rows, 1), 1)
	if cols >= p {
		return p
	}
	if cols >= ow {
		cols -= cols % ow
	}
	return cols
}

// borrow takes col and tmp from an inference network's pool for one
// forward call; giveBack returns them. Other networks keep theirs.
func (c *convCore[F]) borrow(p *Pass[F]) {
	if c.pooled && p.pool != nil {
		c.col, c.tmp = p.pool.get(c.colN), p.pool.get(c.tmpN)
		c.pool = p.pool
	}
}

func (c *convCore[F]) giveBack(p *Pass[F]) {
	if c.pooled && p.pool != nil {
		putScratch(p, c.col)
		putScratch(p, c.tmp)
		c.col, c.tmp, c.pool = nil, nil, nil
	}
}

// pointwiseMinP is the least output plane for which a 1×1 convolution's
// backward pass, and a grouped one's forward pass, run one GEMM per sample
// straight on the input; smaller planes batch samples through the im2col
// path (a plain copy for 1×1) for a wider GEMM: the weight gradient of a
// 7×7 plane would sum over 49 positions per product (0.75× per sample on
// ResNet50's 7×7 layers, 1.3× faster on its 14×14 ones; 128 lies
// between). An ungrouped forward pass runs per sample at every size: on
// ResNet50's 1×1 layers (batch 8, AVX-512) that measured 1.1-1.3× faster
// on 14×14 and 7×7 planes than the copy and one wide product (the copy
// costs more than the narrower N).
const pointwiseMinP = 128

// isPointwise reports whether the convolution is a 1×1, stride-1, unpadded
// one: each sample's input [C, P] is already the GEMM operand.
func (c *convCore[F]) isPointwise() bool {
	g := &c.geo
	return !c.generic && !g.is3D() && g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pl == 0 &&
		g.oh == g.h && g.ow == g.w
}

// pointwiseSamples reports whether a pointwise convolution's backward pass
// and grouped forward pass run per sample (see pointwiseMinP).
func (c *convCore[F]) pointwiseSamples() bool {
	return c.isPointwise() && c.geo.p() >= pointwiseMinP
}

// needsColumns reports whether some pass of the convolution goes through
// im2col buffers.
func (c *convCore[F]) needsColumns() bool {
	switch {
	case c.isDepthwise(), c.pointwiseSamples():
		return false
	case c.isPointwise(): // batched: the backward pass and a grouped forward pass
		return !c.pooled || c.groups > 1
	}
	return true
}

func (c *convCore[F]) tileJob() *tileJob[F] {
	if c.tj == nil {
		c.tj = new(tileJob[F])
	}
	return c.tj
}

// planeFn post-processes one finished output plane in place; plane is
// sample·filters + filter.
type planeFn[F Float] func(plane int, row []F)

// forward writes the convolution of x (shape c.inShape) into out, calling
// post (if not nil) on every output plane once it is complete, while it is
// likely still in cache.
func (c *convCore[F]) forward(x, W, out []F, post planeFn[F]) {
	g := &c.geo
	n := c.inShape[0]
	cg, fg, P, K := g.c, c.filters/c.groups, g.p(), g.c*g.k()
	inPer, outPer := c.cin*g.plane(), c.filters*P
	switch {
	case c.isDepthwise():
		c.depthwiseForward(x, W, out, post)
		return
	case c.isWinograd():
		c.winogradForward(x, W, out, post)
		return
	case c.groups == 1: // the weights against every sample or tile: packed once
		if c.takeWeights && !c.wpk.inPlace && c.wpk.packInPlace(fg, K, W) {
			c.noWinograd = true // Winograd would read W row-major
		}
		c.wpk.pack(false, fg, K, 1, W, K)
		defer c.wpk.release()
		if c.isPointwise() {
			s := c.pointwiseParallel(x, out, post)
			for ; s < n; s++ {
				c.pointwiseProduct(x[s*inPer:][:inPer], out[s*outPer:][:outPer], P)
				c.postPlanes(out, s, s+1, post)
			}
			return
		}
		if c.usePadded() && c.wpk.packed {
			x32, out32 := any(x).([]float32), any(out).([]float32)
			wpk, p, prod := any(&c.wpk).(*packedA[float32]), any(c.col).([]float32), any(c.tmp).([]float32)
			post32, _ := any(post).(planeFn[float32])
			for s := 0; s < n; {
				next, posted := c.pf.forward(wpk, x32, out32, s, n, fg, p, prod, post32)
				if !posted {
					c.postPlanes(out, s, next, post)
				}
				s = next
			}
			return
		}
		if c.chunk == 1 {
			for s := 0; s < n; s++ {
				img, o := x[s*inPer:], out[s*outPer:]
				for p0 := 0; p0 < P; p0 += c.tile {
					p1 := min(p0+c.tile, P)
					im2colTile(c.tileJob(), g, img, c.col, p1-p0, p0, p1)
					c.wpk.mul(false, p1-p0, c.col, p1-p0, 0, o[p0:], P)
				}
				c.postPlanes(out, s, s+1, post)
			}
			return
		}
	case c.pointwiseSamples():
		for s := 0; s < n; s++ {
			for gr := 0; gr < c.groups; gr++ {
				gemm(false, false, fg, P, K, 1, W[gr*fg*K:], K, x[s*inPer+gr*cg*P:], P, 0, out[s*outPer+gr*fg*P:], P)
			}
			c.postPlanes(out, s, s+1, post)
		}
		return
	}
	if c.chunk == 1 {
		for s := 0; s < n; s++ {
			for gr := 0; gr < c.groups; gr++ {
				img, o := x[s*inPer+gr*cg*g.plane():], out[s*outPer+gr*fg*P:]
				for p0 := 0; p0 < P; p0 += c.tile {
					p1 := min(p0+c.tile, P)
					im2colTile(c.tileJob(), g, img, c.col, p1-p0, p0, p1)
					gemm(false, false, fg, p1-p0, K, 1, W[gr*fg*K:], K, c.col, p1-p0, 0, o[p0:], P)
				}
			}
			c.postPlanes(out, s, s+1, post)
		}
		return
	}
	for s0 := 0; s0 < n; s0 += c.chunk {
		nb := min(c.chunk, n-s0)
		ld := nb * P
		for gr := 0; gr < c.groups; gr++ {
			t := &c.task
			*t = convTask[F]{c: c, kind: convIm2col, x: x, out: out, s0: s0, gr: gr, ld: ld, post: post}
			switch {
			case c.groups == 1:
				parallelRange(nb, K*P, t)
				c.wpk.mul(false, ld, c.col, ld, 0, c.tmp, ld)
			default:
				parallelRange(nb, K*P, t)
				gemm(false, false, fg, ld, K, 1, W[gr*fg*K:], K, c.col, ld, 0, c.tmp, ld)
			}
			t.kind = convScatter
			parallelRange(nb, fg*P, t)
			*t = convTask[F]{}
		}
	}
}

// pointwiseProduct writes one sample's pointwise convolution, the packed
// weights times its input [C, P], into out. The kernel reads the input
// where it lies: packing it copied the whole of it per product, a row of
// 32 columns at a time (6% of ResNet50's forward pass); in place, its
// stride-1 1×1 layers took 2-8% less time (124 → 115-122 ms of a batch of
// 8, two interleaved rounds, AMD EPYC Zen 5).
func (c *convCore[F]) pointwiseProduct(x, out []F, P int) {
	x32, ok := any(x).([]float32)
	if !ok || !c.wpk.packed {
		c.wpk.mul(false, P, x, P, 0, out, P)
		return
	}
	b := &c.pwB
	kc, _ := sgemmKernel.blocks()
	b.set(x32, P, min(kc, c.geo.c))
	c.wpk.mulFrom(P, b, 0, out, P)
	b.b = nil
}

// pointwiseParallel runs a float32 pointwise forward pass (packed weights)
// in one parallel region, post on each goroutine's own planes as soon as
// they are made, and returns how many samples it ran; the caller splits
// the rest one product at a time. Split one product at a time, each sample
// waited for both goroutines twice, after its product and after post.
//
// On planes of at least pointwiseBySampleMinP positions each goroutine
// takes whole samples (the largest multiple of the goroutines' count, so
// that none idles while another runs one more). On smaller planes, where a
// goroutine per sample would read all of the weights for every sample,
// each takes a share of the filters (its rows of the weights) for every
// sample, in one product over all samples' planes. BenchmarkConvPointwise, ResNet50's 1×1 layers at batch 8 on 2
// cores with their residual epilogues, against one product at a time over
// 4-6 interleaved rounds: by sample 1.07-1.24× on 28×28 planes in all but
// one round (0.96×), 1.0-1.17× on 56×56, 0.94-1.13× on 14×14 and
// 0.83-0.99× on 7×7; by filters 1.01-1.04× on 14×14, the same on 7×7.
func (c *convCore[F]) pointwiseParallel(x, out []F, post planeFn[F]) int {
	t := runtime.GOMAXPROCS(0)
	n := c.inShape[0]
	x32, ok := any(x).([]float32)
	if t < 2 || !ok || !c.wpk.packed {
		return 0
	}
	if c.pwSplit == nil {
		c.pwSplit = new(pointwiseSplit)
	}
	sp := c.pwSplit
	sp.byFilters = c.geo.p() < pointwiseBySampleMinP
	m := n - n%t
	if sp.byFilters {
		m = n
		sp.rows = sgemmSplit(sp.rows, c.filters, t, sgemmKernel.mr)
	}
	if m == 0 {
		return 0
	}
	if len(sp.workers) < t {
		sp.workers = make([]pointwiseWorker, t)
	}
	wpk, _ := any(&c.wpk).(*packedA[float32])
	post32, _ := any(post).(planeFn[float32])
	sp.wpk, sp.x, sp.out, sp.post, sp.n, sp.parts = wpk, x32, any(out).([]float32), post32, m, t
	sp.cin, sp.filters, sp.p = c.cin, c.filters, c.geo.p()
	runParts(sp, t, &sp.wg)
	sp.wpk, sp.x, sp.out, sp.post = nil, nil, nil, nil
	return m
}

const pointwiseBySampleMinP = 512

// pointwiseSplit is pointwiseParallel's parallel pass: part i runs the
// i-th share of samples [0, n), or filters [rows[i], rows[i+1]) of every
// sample.
type pointwiseSplit struct {
	wpk             *packedA[float32]
	x, out          []float32
	post            planeFn[float32]
	n, parts        int
	cin, filters, p int
	byFilters       bool
	rows            []int
	workers         []pointwiseWorker
	wg              partsWait
}

// pointwiseWorker is one goroutine's product and its input, read in place.
type pointwiseWorker struct {
	job    sgemmJob
	src    stridedB
	planes planesB
}

func (sp *pointwiseSplit) runPart(i int) {
	wk, j := &sp.workers[i], &sp.workers[i].job
	P, inPer, outPer := sp.p, sp.cin*sp.p, sp.filters*sp.p
	kc, _ := sgemmKernel.blocks()
	if sp.byFilters {
		// one product over all samples' planes side by side: a plane that
		// is not a whole number of panels wide (7×7: a panel and 17
		// columns) does not end in a partial one each, and the weights
		// stream through the caches once, not once per sample.
		// BenchmarkConvPointwise's 7×7 layers with their epilogue, in
		// interleaved rounds: 186–198 GFLOP/s a sample at a time, 195–228
		// as one product.
		f0, f1 := sp.rows[i], sp.rows[i+1]
		sp.wpk.share(j)
		wk.planes.set(sp.x, P, inPer, min(kc, sp.cin))
		j.src, j.c, j.cP, j.cPer = &wk.planes, sp.out, P, outPer
		j.run(f0, f1, 0, sp.n*P)
		sp.postPlanes(0, sp.n, f0, f1)
	} else {
		for s := sp.n * i / sp.parts; s < sp.n*(i+1)/sp.parts; s++ {
			wk.src.set(sp.x[s*inPer:][:inPer], P, min(kc, sp.cin))
			sp.wpk.mulFromWith(j, 1, P, &wk.src, 0, sp.out[s*outPer:][:outPer], P)
			sp.postPlanes(s, s+1, 0, sp.filters)
		}
	}
	j.src, j.c, j.apk, j.aedge, j.cP, j.cPer = nil, nil, nil, nil, 0, 0
	wk.src.b, wk.planes.rowsB.b = nil, nil
}

// postPlanes runs post on filters [f0, f1) of samples [s0, s1).
func (sp *pointwiseSplit) postPlanes(s0, s1, f0, f1 int) {
	if sp.post == nil {
		return
	}
	for s := s0; s < s1; s++ {
		for f := f0; f < f1; f++ {
			pl := s*sp.filters + f
			sp.post(pl, sp.out[pl*sp.p:][:sp.p])
		}
	}
}

const (
	convIm2col = iota
	convScatter
	convPost
)

// convTask is one parallel pass of convCore.forward, kept in the core so
// that a step allocates no closure.
type convTask[F Float] struct {
	c          *convCore[F]
	kind       int
	x, out     []F
	s0, gr, ld int
	post       planeFn[F]
}

func (t *convTask[F]) runRange(lo, hi int) {
	c, g, s0, gr, ld, out := t.c, &t.c.geo, t.s0, t.gr, t.ld, t.out
	P, cg, fg := g.p(), g.c, c.filters/c.groups
	switch t.kind {
	case convIm2col:
		inPer := c.cin * g.plane()
		for s := lo; s < hi; s++ {
			im2col(g, t.x[(s0+s)*inPer+gr*cg*g.plane():], c.col[s*P:], ld)
		}
	case convScatter:
		for s := lo; s < hi; s++ {
			for f := 0; f < fg; f++ {
				i := (s0+s)*c.filters + gr*fg + f
				row := out[i*P:][:P]
				copy(row, c.tmp[f*ld+s*P:][:P])
				if t.post != nil {
					t.post(i, row)
				}
			}
		}
	case convPost:
		for i := s0*c.filters + lo; i < s0*c.filters+hi; i++ {
			t.post(i, out[i*P:(i+1)*P])
		}
	}
}

// postPlanes runs post on every output plane of samples [s0, s1).
func (c *convCore[F]) postPlanes(out []F, s0, s1 int, post planeFn[F]) {
	if post == nil {
		return
	}
	t := &c.task
	*t = convTask[F]{c: c, kind: convPost, out: out, s0: s0, post: post}
	parallelRange((s1-s0)*c.filters, c.geo.p(), t)
	*t = convTask[F]{}
}

// backward accumulates dW (if gW is not nil) and writes dx (if not nil).
func (c *convCore[F]) backward(x, W, dOut, gW, dx []F) {
	g := &c.geo
	n := c.inShape[0]
	cg, fg, P, K := g.c, c.filters/c.groups, g.p(), g.c*g.k()
	inPer, outPer := c.cin*g.plane(), c.filters*P
	switch {
	case c.isDepthwise():
		c.depthwiseBackward(x, W, dOut, gW, dx)
		return
	case c.pointwiseSamples():
		for s := 0; s < n; s++ {
			for gr := 0; gr < c.groups; gr++ {
				d, xs := dOut[s*outPer+gr*fg*P:], x[s*inPer+gr*cg*P:]
				if gW != nil {
					gemm(false, true, fg, K, P, 1, d, P, xs, P, 1, gW[gr*fg*K:], K)
				}
				if dx != nil {
					gemm(true, false, K, P, fg, 1, W[gr*fg*K:], K, d, P, 0, dx[s*inPer+gr*cg*P:], P)
				}
			}
		}
		return
	}
	gW, dx = c.backwardPadded(x, W, dOut, gW, dx)
	if gW == nil && dx == nil {
		return
	}
	if dx != nil {
		clear(dx[:n*inPer])
	}
	if c.chunk == 1 {
		c.backwardTiled(x, W, dOut, gW, dx)
		return
	}
	for s0 := 0; s0 < n; s0 += c.chunk {
		nb := min(c.chunk, n-s0)
		ld := nb * P
		for gr := 0; gr < c.groups; gr++ {
			d := c.tmp
			for s := 0; s < nb; s++ {
				for f := 0; f < fg; f++ {
					copy(c.tmp[f*ld+s*P:][:P], dOut[(s0+s)*outPer+(gr*fg+f)*P:][:P])
				}
			}
			if gW != nil {
				for s := 0; s < nb; s++ {
					im2col(g, x[(s0+s)*inPer+gr*cg*g.plane():], c.col[s*P:], ld)
				}
				gemm(false, true, fg, K, ld, 1, d, ld, c.col, ld, 1, gW[gr*fg*K:], K)
			}
			if dx != nil {
				gemm(true, false, K, ld, fg, 1, W[gr*fg*K:], K, d, ld, 0, c.col, ld)
				for s := 0; s < nb; s++ {
					col2im(g, c.col[s*P:], ld, dx[(s0+s)*inPer+gr*cg*g.plane():])
				}
			}
		}
	}
}

// backwardTiled is backward one sample at a time, over tiles of c.tile
// output positions: dW accumulates tile by tile; dx (cleared) gets each
// tile's patches added back.
func (c *convCore[F]) backwardTiled(x, W, dOut, gW, dx []F) {
	g := &c.geo
	cg, fg, P, K := g.c, c.filters/c.groups, g.p(), g.c*g.k()
	inPer, outPer, plane := c.cin*g.plane(), c.filters*P, cg*g.plane()
	for s := 0; s < c.inShape[0]; s++ {
		for gr := 0; gr < c.groups; gr++ {
			d, wg := dOut[s*outPer+gr*fg*P:], W[gr*fg*K:]
			for p0 := 0; p0 < P; p0 += c.tile {
				p1 := min(p0+c.tile, P)
				ld := p1 - p0
				if gW != nil {
					im2colTile(c.tileJob(), g, x[s*inPer+gr*plane:], c.col, ld, p0, p1)
					gemm(false, true, fg, K, ld, 1, d[p0:], P, c.col, ld, 1, gW[gr*fg*K:], K)
				}
				if dx != nil {
					gemm(true, false, K, ld, fg, 1, wg, K, d[p0:], P, 0, c.col, ld)
					col2imTile(c.tileJob(), g, c.col, ld, dx[s*inPer+gr*plane:], p0, p1)
				}
			}
		}
	}
}

// convOp is Conv1D/Conv2D: convolution, bias, fused activation.
type convOp[F Float] struct {
	core   convCore[F]
	act    activation[F]
	params *Params[F]
	wName  string
	needIn bool

	x, z, y   *Mat[F]
	dz, dx    *Mat[F]
	dIns      [1]*Mat[F]
	fused     *convFusion[F] // vertices applied in place at inference
	yOwn      *Mat[F]        // y's buffer when it is not z (a training pass, softmax)
	biasActFn planeFn[F]     // biasActPlane as a value, made once (a step allocates nothing)
	postB     *Mat[F]        // the bias biasActPlane adds during a Forward
}

func newConv[F Float](v *ir.Vertex, in [][]int, out []int, params *Params[F]) (Op[F], error) {
	c := v.Layer.(*ir.Conv)
	act, err := newActivation[F](c.Activation)
	if err != nil {
		return nil, err
	}
	if c.Rank < 1 || c.Rank > 3 {
		return nil, fmt.Errorf("convolution rank %d (1, 2 or 3 supported)", c.Rank)
	}
	if len(c.Kernel) != c.Rank {
		return nil, fmt.Errorf("kernel %v for a %d-D convolution", c.Kernel, c.Rank)
	}
	op := &convOp[F]{act: act, params: params, wName: "W", needIn: true}
	op.core = convCore[F]{rank: c.Rank, filters: c.Filters, groups: c.GroupCount(), kernel: c.Kernel,
		strides: c.Strides, dil: c.Dilations, padding: c.Padding, pads: c.Pads}
	if op.core.padding == "" {
		op.core.padding = ir.PadValid
	}
	return op, nil
}

func (o *convOp[F]) SkipInputGrads(need []bool) { o.needIn = need[0] }

func (o *convOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x := in[0]
	o.core.pooled = p.pool != nil
	if err := o.core.setup(x.Shape); err != nil {
		panic(err)
	}
	o.x = x
	o.z = outBuf(p, o.z, o.core.outShape...)
	W, b := o.params.Values[o.wName].Data, o.params.Values["b"]
	o.core.borrow(p)
	defer o.core.giveBack(p)
	if post := o.inferencePost(p, b); post != nil {
		o.core.forward(x.Data, W, o.z.Data, post)
		return o.z
	}
	switch {
	case o.act.isSoftmax(): // over channels: after the whole output
		o.core.forward(x.Data, W, o.z.Data, nil)
		addChannelBias(o.z, b)
		o.yOwn = applyAct(o.act, o.z, o.yOwn)
		o.y = o.yOwn
		return o.y
	case b == nil && o.act.identity():
		o.core.forward(x.Data, W, o.z.Data, nil)
		o.y = o.z
		return o.z
	}
	// bias and activation on each plane as it is finished, while it is in
	// cache, instead of more passes over the output; a training pass keeps
	// z, the pre-activation, for Backward, an inference pass (one whose
	// fusions are off) overwrites it
	o.y = o.z
	if p.Train && !o.act.identity() {
		o.yOwn = reuse(o.yOwn, o.z.Shape...)
		o.y = o.yOwn
	}
	if o.biasActFn == nil {
		o.biasActFn = o.biasActPlane
	}
	o.postB = b
	o.core.forward(x.Data, W, o.z.Data, o.biasActFn)
	o.postB = nil
	return o.y
}

// biasActPlane is Forward's planeFn: z += b, y = act(z).
func (o *convOp[F]) biasActPlane(plane int, row []F) {
	if o.postB != nil {
		affineRange(row, row, 1, o.postB.Data[plane%o.core.filters])
	}
	if !o.act.identity() {
		o.act.forwardRange(row, o.y.Data[plane*len(row):][:len(row)])
	}
}

func (o *convOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	dz := actBackward(o.act, o.z, o.y, dOut, &o.dz)
	channelBiasGrad(dz, o.params.Grads["b"])
	var gw, dx []F
	if g := o.params.Grads[o.wName]; g != nil {
		gw = g.Data
	}
	if o.needIn {
		o.dx = reuse(o.dx, o.x.Shape...)
		dx = o.dx.Data
	}
	if gw != nil || dx != nil {
		o.core.backward(o.x.Data, o.params.Values[o.wName].Data, dz.Data, gw, dx)
	}
	o.dIns[0] = nil
	if dx != nil {
		o.dIns[0] = o.dx
	}
	return o.dIns[:]
}

// addChannelBias adds b[c] to every element of channel c of [N, C, ...].
func addChannelBias[F Float](z *Mat[F], b *Mat[F]) {
	if b == nil {
		return
	}
	n, c := z.Shape[0], z.Shape[1]
	per := len(z.Data) / max(n*c, 1)
	for i := 0; i < n*c; i++ {
		bv := b.Data[i%c]
		row := z.Data[i*per : (i+1)*per]
		for j := range row {
			row[j] += bv
		}
	}
}

func channelBiasGrad[F Float](dz *Mat[F], gb *Mat[F]) {
	if gb == nil {
		return
	}
	n, c := dz.Shape[0], dz.Shape[1]
	per := len(dz.Data) / max(n*c, 1)
	for i := 0; i < n*c; i++ {
		gb.Data[i%c] += F(sumRow(dz.Data[i*per : (i+1)*per]))
	}
}

// applyAct returns act(z), in buf unless the activation is the identity.
func applyAct[F Float](act activation[F], z, buf *Mat[F]) *Mat[F] {
	if act.identity() {
		return z
	}
	buf = reuse(buf, z.Shape...)
	if err := act.forward(z.Data, buf.Data, z.Shape); err != nil {
		panic(err)
	}
	return buf
}

// actBackward returns dLoss/dz given dLoss/dy.
func actBackward[F Float](act activation[F], z, y, dy *Mat[F], buf **Mat[F]) *Mat[F] {
	if act.identity() {
		return dy
	}
	*buf = reuse(*buf, z.Shape...)
	act.backward(z.Data, y.Data, dy.Data, (*buf).Data, z.Shape)
	return *buf
}

// sepConvOp is SeparableConv2D: depthwise, then pointwise, bias, activation.
type sepConvOp[F Float] struct {
	dw, pw convCore[F]
	act    activation[F]
	params *Params[F]
	needIn bool
	x, mid *Mat[F]
	z, y   *Mat[F]
	dz, dm *Mat[F]
	dx     *Mat[F]
	dIns   [1]*Mat[F]
}

func newSepConv[F Float](v *ir.Vertex, in [][]int, out []int, params *Params[F]) (Op[F], error) {
	c := v.Layer.(*ir.SeparableConv2D)
	act, err := newActivation[F](c.Activation)
	if err != nil {
		return nil, err
	}
	if len(c.Kernel) != 2 {
		return nil, fmt.Errorf("SeparableConv2D needs a 2-D kernel, got %v", c.Kernel)
	}
	ch := in[0][0]
	m := max(c.DepthMultiplier, 1)
	pad := c.Padding
	if pad == "" {
		pad = ir.PadValid
	}
	o := &sepConvOp[F]{act: act, params: params, needIn: true}
	o.dw = convCore[F]{rank: 2, filters: ch * m, groups: ch, kernel: c.Kernel, strides: c.Strides, dil: c.Dilations, padding: pad, pads: c.Pads}
	o.pw = convCore[F]{rank: 2, filters: c.Filters, groups: 1, kernel: []int{1, 1}, padding: ir.PadValid}
	return o, nil
}

func (o *sepConvOp[F]) SkipInputGrads(need []bool) { o.needIn = need[0] }

func (o *sepConvOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x := in[0]
	if err := o.dw.setup(x.Shape); err != nil {
		panic(err)
	}
	o.x = x
	o.mid = reuse(o.mid, o.dw.outShape...)
	o.dw.forward(x.Data, o.params.Values["DW"].Data, o.mid.Data, nil)
	if err := o.pw.setup(o.mid.Shape); err != nil {
		panic(err)
	}
	o.z = reuse(o.z, o.pw.outShape...)
	o.pw.forward(o.mid.Data, o.params.Values["PW"].Data, o.z.Data, nil)
	addChannelBias(o.z, o.params.Values["b"])
	o.y = applyAct(o.act, o.z, o.y)
	return o.y
}

func (o *sepConvOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	dz := actBackward(o.act, o.z, o.y, dOut, &o.dz)
	channelBiasGrad(dz, o.params.Grads["b"])
	grad := func(name string) []F {
		if g := o.params.Grads[name]; g != nil {
			return g.Data
		}
		return nil
	}
	o.dm = reuse(o.dm, o.mid.Shape...)
	o.pw.backward(o.mid.Data, o.params.Values["PW"].Data, dz.Data, grad("PW"), o.dm.Data)
	var dx []F
	if o.needIn {
		o.dx = reuse(o.dx, o.x.Shape...)
		dx = o.dx.Data
	}
	if g := grad("DW"); g != nil || dx != nil {
		o.dw.backward(o.x.Data, o.params.Values["DW"].Data, o.dm.Data, g, dx)
	}
	o.dIns[0] = nil
	if dx != nil {
		o.dIns[0] = o.dx
	}
	return o.dIns[:]
}

func init() {
	RegisterOp("Conv1D", newConv[float32], newConv[float64])
	RegisterOp("Conv2D", newConv[float32], newConv[float64])
	RegisterOp("Conv3D", newConv[float32], newConv[float64])
	RegisterOp("SeparableConv2D", newSepConv[float32], newSepConv[float64])
}
