package nn

import (
	"os"
	"runtime"
)

// Winograd F(2×2, 3×3) for 3×3, stride-1, undilated, ungrouped 2-D
// convolutions (Lavin & Gray, 2015): each 2×2 output tile comes from a 4×4
// input tile through 16 products instead of 36, so the GEMM work is 4/9 of
// im2col's. The input tiles are transformed (V = Bᵀ·d·B), the filters once
// per pass (U = G·g·Gᵀ), the 16 positions multiply as U[ξ]·V[ξ] and the
// output tiles transform back (Y = Aᵀ·M·A). The F(2×2) matrices have only
// 0, ±1 and ±½ entries, so the result stays within float32 rounding of the
// direct sum (F(4×4)'s larger constants lose about two digits).

// WinogradEnv names the environment variable that turns Winograd off
// ("0"). It is on: where winogradMinCW lets it run it measured 1.3–1.75×
// faster per layer than im2col (BenchmarkConvWinograd, batch 8) and made
// VGG16's forward pass 6–9% faster (bench/speed forward, interleaved),
// within float32 rounding of the direct sum.
const WinogradEnv = "RETARGET_WINOGRAD"

var winogradOn = os.Getenv(WinogradEnv) != "0"

// winogradMinC and winogradMinCW are the least input channels, and input
// channels × output width, for which the transforms pay for themselves:
// BenchmarkConvWinograd (batch 8) measured Winograd 1.3–1.75× faster at
// C·ow ≥ 7168 (64 channels on 112 and 224 planes, 128 on 56 and 112, 256
// on 28), even at 3584 (128 on 28) and 0.6–0.9× below (64 on 28 and 56,
// 256 on 14): a tile row's transforms cost the same however few channels
// share its products. On planes at least winogradWideW wide half that
// product suffices for at least winogradWideMinC channels: on an AMD EPYC
// (Zen 5, AVX-512) 128 channels on 28 measured 1.1–1.3× faster at batch
// 1, 3, 8 and 16 (ResNet50's forward 2.4%), while 256 on 14 and 512 on 7
// stayed 0.85–0.9× at batches 8 and 16, and 64 on 56 ran 0.76–0.86× at
// batches 1, 2, 3 and 8 against an inference network's padded path (64 on
// 112 and 224, which the first rule takes, 1.03× and 1.07×). Tests lower
// them.
//
// winogradChannelsPerTile: a pass needs a 2×2 tile per this many input
// channels, else transforming and packing the filters (16·K·C values per
// pass) costs more than the products save. On the AMD EPYC
// (BenchmarkConvWinograd) 512 channels on 14×14 one sample at a time (49
// tiles, a tenth of a tile per channel) ran 0.65× as fast as im2col, three
// samples (0.29) and eight (0.77) the same; on 28×28 one sample (0.38)
// was 1.3× faster, for 256 and for 512 channels. (Against an inference
// network's padded path, which those measurements predate, 512 channels
// on 28×28 one sample at a time ran 0.91-0.94× and on 14×14 eight at a
// time 0.93-0.95×; a tile per channel, which sends the latter to the
// padded path, took VGG16's predict peak to 1.21× the file.)
var (
	winogradMinC            = 64
	winogradMinCW           = 7168
	winogradWideW           = 28
	winogradWideMinC        = 128
	winogradChannelsPerTile = 4
)

// winogradTileBudget bounds the transformed tiles of one chunk (elements of
// V and M together): 4 MiB, which kept VGG16's predict within 1.2× the
// file; 8 MiB was 10% faster per layer and 6 MiB more on the AMD EPYC,
// while on the Intel Xeon VGG16's forward pass took 0.95–1.07× the time with
// 8 MiB and 0.97–1.07× with 2 MiB (chunks in whole panels).
const winogradTileBudget = 1 << 20

// isWinograd reports whether the forward pass runs through Winograd.
func (c *convCore[F]) isWinograd() bool {
	g := &c.geo
	return winogradOn && !c.generic && !c.noWinograd && c.rank == 2 && c.groups == 1 && g.kh == 3 && g.kw == 3 &&
		g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 && g.c >= winogradMinC && (g.c*g.ow >= winogradMinCW || g.ow >= winogradWideW && g.c >= winogradWideMinC && 2*g.c*g.ow >= winogradMinCW) &&
		c.inShape[0]*((g.oh+1)/2)*((g.ow+1)/2)*winogradChannelsPerTile >= g.c
}

// winograd holds one pass's buffers and its parallel stages.
type winograd[F Float] struct {
	c       *convCore[F]
	u, v, m []F
	x, w    []F // the input, the weights
	out     []F
	packs   [16]packedA[F] // U[ξ] packed for the micro-kernel
	k       int            // filters
	tw, th  int            // tiles per row, tile rows per sample
	pk      [16][]float32  // the packs' panels while the filter stage fills them
	mr, kc  int            // their layout (packedA.packTo)
	stage   int
	ch      wgChunk[F]   // the chunk the staged path is making
	lanes   []wgChunk[F] // the fused path's chunks, one a goroutine
	tiles   int          // tiles a fused chunk
	wg      *partsWait   // the fused path's (a pointer: tests copy cores)
}

// wgChunk is a chunk of tiles: its first (counted over all samples' tile
// rows: tile tx of tile row tr is tr·tw + tx), its tiles, V's panel width
// (see winogradV), its V and M, and V[ξ] as the products' right operands.
// A chunk may begin and end within a tile row.
type wgChunk[F Float] struct {
	t0, tc, pw int
	v, m       []F
	srcs       [16]winogradV
	job        *sgemmJob // the fused path's products (its goroutine's own)
}

// winogradV is one V[ξ] (C × tc) laid out as the GEMM's packed B panels:
// panel q holds tiles [q·pw, (q+1)·pw) as C rows of pw values, so a kernel
// with a rows form reads a full panel in place and the others copy whole
// runs (packing V from rows of tc values cost more than the input
// transform). pw is the kernel's nr when U is packed, else tc: V[ξ] is
// then the plain row-major matrix a gemm takes.
type winogradV struct {
	v             []float32
	c, tc, pw, ps int // ps: elements from one panel to the next (panelStride)
}

// panelStride is the elements from one panel of V to the next: c·pw and,
// for a multi-panel V, one cache line more, so that panels 2^k bytes apart
// (c·pw·4 is 64 KiB for VGG16's 512 channels) do not share the cache sets
// the kernel reads them through.
func panelStride(c, pw, tc int) int {
	if pw >= tc {
		return c * pw
	}
	return c*pw + 16
}

// vSize is the elements of one V[ξ].
func vSize(c, pw, tc int) int { return (tc + pw - 1) / pw * panelStride(c, pw, tc) }

// winogradRowOff is off[p] = p·32 for the rows form: a panel's row p is
// pw = 32 values from p·pw on.
var winogradRowOff = func() []int {
	off := make([]int, sgemmKC)
	for p := range off {
		off[p] = 32 * p
	}
	return off
}()

func (s *winogradV) rows(p0, kb, j, nr int) ([]float32, []int, int, bool) {
	if nr != s.pw || nr != 32 || j%nr != 0 || j+nr > s.tc || kb > len(winogradRowOff) {
		return nil, nil, 0, false
	}
	return s.v[j/nr*s.ps+p0*nr:], winogradRowOff[:kb], (kb - 1) * nr, true
}

func (s *winogradV) pack(dst []float32, tb bool, p0, kb, j0, nb, nr int) {
	if tb {
		panic("winogradV: transposed B")
	}
	packSegments(dst, s.v, s.pw, s.ps, s.pw, p0, kb, j0, nb, nr) // a segment is a panel of V
}

// winogradRows keeps the row buffers of the input stage.
var winogradRows = newFreeList()

const (
	wgFilters = iota
	wgFilterPanels
	wgPack
	wgInput
	wgMul
	wgOutput
)

func (t *winograd[F]) runRange(lo, hi int) {
	switch t.stage {
	case wgFilters:
		t.filters(lo, hi)
	case wgFilterPanels:
		winogradFilterPanels(any(t.w).([]float32), t.c.geo.c, t.k, lo, hi, t.mr, t.kc, &t.pk)
	case wgPack:
		C, K := t.c.geo.c, t.k
		for xi := lo; xi < hi; xi++ {
			t.packs[xi].pack(false, K, C, 1, t.u[xi*K*C:], C)
		}
	case wgMul:
		k := &t.ch
		for xi := lo; xi < hi; xi++ {
			t.packs[xi].mulFrom(k.tc, &k.srcs[xi], 0, k.m[xi*t.k*k.tc:], k.tc)
		}
	case wgInput:
		t.input(&t.ch, lo, hi)
	case wgOutput:
		t.output(&t.ch, lo, hi)
	}
}

// runPart makes lane i's chunks of the fused path: chunks i, i+lanes, …,
// each through all three stages on this goroutine.
func (t *winograd[F]) runPart(i int) {
	k := &t.lanes[i]
	C, K, all := t.c.geo.c, t.k, t.c.inShape[0]*t.th*t.tw
	for t0 := i * t.tiles; t0 < all; t0 += len(t.lanes) * t.tiles {
		k.t0, k.tc, k.pw = t0, min(t.tiles, all-t0), sgemmKernel.nr
		t.input(k, 0, C)
		t.setSrcs(k)
		for xi := range t.packs {
			t.packs[xi].mulFromWith(k.job, 1, k.tc, &k.srcs[xi], 0, k.m[xi*K*k.tc:], k.tc)
		}
		t.output(k, 0, K)
	}
	k.srcs = [16]winogradV{}
}

// setSrcs points the chunk's product operands at its V.
func (t *winograd[F]) setSrcs(k *wgChunk[F]) {
	C := t.c.geo.c
	per := vSize(C, k.pw, k.tc)
	for xi := range k.srcs {
		k.srcs[xi] = winogradV{v: any(k.v[xi*per:][:per]).([]float32), c: C, tc: k.tc, pw: k.pw, ps: panelStride(C, k.pw, k.tc)}
	}
}

// filters transforms the filters [lo, hi): U[ξ][f][c] = (G·g·Gᵀ)[ξ],
// ξ = 4i + j, in t.u.
func (t *winograd[F]) filters(lo, hi int) {
	C, K := t.c.geo.c, t.k
	var u [16]F
	for f := lo; f < hi; f++ {
		w := t.w[f*C*9:][:C*9]
		for ch := 0; ch < C; ch++ {
			winogradFilter(w[ch*9:][:9], &u)
			for xi, v := range u {
				t.u[(xi*K+f)*C+ch] = v
			}
		}
	}
}

// winogradFilterPanels transforms the filters of row panels [lo, hi) of
// the packed U[ξ] straight into their panels pk (laid out as packTo
// says). A run of channels of a panel's filters is made into blk, then
// copied into each U[ξ] in turn: storing each value straight into its
// U[ξ] (16 buffers whose addresses differ by multiples of 4 KiB, which
// share the L1 cache's sets) measured VGG16's forward pass 4–9% slower
// than transforming and packing U in two stages.
func winogradFilterPanels(w []float32, C, K, lo, hi, mr, kc int, pk *[16][]float32) {
	const run = 16 // channels a blk holds
	var u [16]float32
	var blk []float32 // (ξ, channel, filter), taken when the portable loop runs
	mpad := (K + mr - 1) / mr * mr
	for ir := lo * mr; ir < min(hi*mr, K); ir += mr {
		rows := min(mr, K-ir)
		for pc := 0; pc < C; pc += kc {
			kb := min(kc, C-pc)
			if winogradFilterPanelSIMD(w, C, ir, rows, pc, kb, mr, mpad, pk) {
				continue
			}
			if blk == nil {
				box := takeFree[[]float32](winogradRows)
				defer winogradRows.put(box)
				*box = growSlice(*box, 16*run*mr)
				blk = *box
			}
			for p0 := 0; p0 < kb; p0 += run {
				n := min(run, kb-p0)
				for p := 0; p < n; p++ {
					for r := 0; r < rows; r++ {
						winogradFilter(w[((ir+r)*C+pc+p0+p)*9:][:9], &u)
						for xi, v := range u {
							blk[(xi*run+p)*mr+r] = v
						}
					}
				}
				o := pc*mpad + ir*kb + p0*mr
				for xi := range pk {
					d, b := pk[xi][o:][:n*mr], blk[xi*run*mr:][:n*mr]
					if rows == mr {
						copy(d, b)
						continue
					}
					for p := 0; p < n; p++ { // leave the pad rows' zeros
						copy(d[p*mr:][:rows], b[p*mr:])
					}
				}
			}
		}
	}
}

// winogradFilter is one filter's U = G·g·Gᵀ, ξ = 4i + j: row i of G·g,
// then its ·Gᵀ.
func winogradFilter[F Float](g []F, u *[16]F) {
	for i := 0; i < 4; i++ {
		var a0, a1, a2 F // (G·g)[i]
		switch i {
		case 0:
			a0, a1, a2 = g[0], g[1], g[2]
		case 1:
			a0, a1, a2 = (g[0]+g[3]+g[6])/2, (g[1]+g[4]+g[7])/2, (g[2]+g[5]+g[8])/2
		case 2:
			a0, a1, a2 = (g[0]-g[3]+g[6])/2, (g[1]-g[4]+g[7])/2, (g[2]-g[5]+g[8])/2
		default:
			a0, a1, a2 = g[6], g[7], g[8]
		}
		u[4*i], u[4*i+1], u[4*i+2], u[4*i+3] = a0, (a0+a1+a2)/2, (a0-a1+a2)/2, a2
	}
}

// winogradWindow is the tiles the vector input transform makes at once: a
// shorter run (a tile row cut by a panel of V, or a plane under 16 columns
// wide) is made as a window of that many tiles into a scratch V and copied.
const winogradWindow = 8

// input transforms the tiles of channels [lo, hi) of the chunk:
// V[ξ][c][tile] = (Bᵀ·d·B)[ξ], in winogradV's layout. Per tile row, the
// four input rows are copied with their padding (two of them are the
// previous tile row's last two), then each run of tiles within one panel
// of V is transformed. (Reading the interior tiles from the image in
// place, and padding only the edge tiles, measured VGG16's forward pass at
// 1.01–1.07× the time: the scalar edge tiles cost more than the copy.)
func (t *winograd[F]) input(k *wgChunk[F], lo, hi int) {
	g := &t.c.geo
	C, H, W, tc, tw, pw := g.c, g.h, g.w, k.tc, t.tw, k.pw
	per, ps := vSize(C, pw, tc), panelStride(C, pw, tc)
	wt := max(tw, winogradWindow) // the tiles a padded row holds
	wp := 2*wt + 2
	box := takeFree[[]F](winogradRows)
	defer winogradRows.put(box)
	*box = growSlice(*box, 4*wp+16*winogradWindow)
	buf := *box
	rows := [4][]F{buf[:wp], buf[wp : 2*wp], buf[2*wp : 3*wp], buf[3*wp : 4*wp]}
	win := buf[4*wp:]
	for ch := lo; ch < hi; ch++ {
		prev := -1 // the tile row (over all samples) the rows hold
		for tr := k.t0 / tw; tr*tw < k.t0+tc; tr++ {
			x0, x1 := max(0, k.t0-tr*tw), min(tw, k.t0+tc-tr*tw) // the row's tiles in the chunk
			s, ty := tr/t.th, tr%t.th
			img := t.x[(s*C+ch)*H*W:][:H*W]
			y0 := 2*ty - g.pt
			r := 0
			if tr == prev+1 && ty > 0 { // the next tile row of a sample reads two of these rows again
				rows[0], rows[1], rows[2], rows[3] = rows[2], rows[3], rows[0], rows[1]
				r = 2
			}
			for ; r < 4; r++ {
				row := rows[r]
				y := y0 + r
				if y < 0 || y >= H {
					clear(row)
					continue
				}
				// columns x of the row land at x+pl; pl ≥ 0 for a
				// convolution's begin padding
				n := copy(row[g.pl:], img[y*W:(y+1)*W])
				clear(row[:g.pl])
				clear(row[g.pl+n:])
			}
			prev = tr
			for tx := x0; tx < x1; {
				tile := tr*tw + tx - k.t0
				lane := tile % pw
				n := min(x1-tx, pw-lane)
				v := k.v[tile/pw*ps+ch*pw+lane:]
				if n >= winogradWindow || !useSIMD {
					winogradTiles(&rows, tx, n, v, per)
				} else {
					ws := min(tx, wt-winogradWindow)
					winogradTiles(&rows, ws, winogradWindow, win, winogradWindow)
					for xi := 0; xi < 16; xi++ {
						copy(v[xi*per:][:n], win[xi*winogradWindow+tx-ws:])
					}
				}
				tx += n
			}
		}
	}
}

// winogradTiles transforms tiles [tx, tx+n) of a tile row, read from its
// four padded input rows, into v[ξ·per + q] for the q-th: Bᵀ·d combines the
// rows, ·B the columns.
func winogradTiles[F Float](rows *[4][]F, tx, n int, v []F, per int) {
	done := 0
	if r32, ok := any(rows).(*[4][]float32); ok {
		done = winogradInputSIMD(r32, tx, n, any(v).([]float32), per)
	}
	r0, r1, r2, r3 := rows[0], rows[1], rows[2], rows[3]
	for q := done; q < n; q++ {
		x := 2 * (tx + q)
		var c [4][4]F // Bᵀ·d: the combined rows at columns x … x+3
		for j := 0; j < 4; j++ {
			d0, d1, d2, d3 := r0[x+j], r1[x+j], r2[x+j], r3[x+j]
			c[0][j], c[1][j], c[2][j], c[3][j] = d0-d2, d1+d2, d2-d1, d1-d3
		}
		for i, a := range c {
			o := v[i*4*per+q:]
			o[0], o[per], o[2*per], o[3*per] = a[0]-a[2], a[1]+a[2], a[2]-a[1], a[1]-a[3]
		}
	}
}

// output transforms the products of filters [lo, hi) back into 2×2
// output tiles: Y = Aᵀ·M·A.
func (t *winograd[F]) output(k *wgChunk[F], lo, hi int) {
	g := &t.c.geo
	oh, ow, K, tc, tw := g.oh, g.ow, t.k, k.tc, t.tw
	for f := lo; f < hi; f++ {
		for tr := k.t0 / tw; tr*tw < k.t0+tc; tr++ {
			x0, x1 := max(0, k.t0-tr*tw), min(tw, k.t0+tc-tr*tw)
			s, ty := tr/t.th, tr%t.th
			o := t.out[(s*K+f)*oh*ow:][:oh*ow]
			y, c0, c1 := 2*ty, 2*x0, min(ow, 2*x1) // the rows and columns the tiles make
			top := o[y*ow+c0 : y*ow+c1]
			var bot []F
			if y+1 < oh {
				bot = o[(y+1)*ow+c0 : (y+1)*ow+c1]
			}
			winogradOutputs(k.m[f*tc+tr*tw+x0-k.t0:], K*tc, top, bot, x1-x0)
		}
	}
}

// winogradOutputs writes the output rows top and bot (nil past an odd
// plane's end) of a tile row of tw tiles, M[ξ] of tile t at m[ξ·stride+t].
func winogradOutputs[F Float](m []F, stride int, top, bot []F, tw int) {
	ow := len(top)
	done := 0
	if m32, ok := any(m).([]float32); ok { // the tiles whose two columns are inside
		done = winogradOutputSIMD(m32, stride, any(top).([]float32), any(bot).([]float32), ow/2)
	}
	for tx := done; tx < tw; tx++ {
		var v [16]F
		for xi := range v {
			v[xi] = m[xi*stride+tx]
		}
		// Aᵀ·M: two rows of four
		s0 := v[0] + v[4] + v[8]
		s1 := v[1] + v[5] + v[9]
		s2 := v[2] + v[6] + v[10]
		s3 := v[3] + v[7] + v[11]
		u0 := v[4] - v[8] - v[12]
		u1 := v[5] - v[9] - v[13]
		u2 := v[6] - v[10] - v[14]
		u3 := v[7] - v[11] - v[15]
		x := 2 * tx
		top[x] = s0 + s1 + s2
		if x+1 < ow {
			top[x+1] = s1 - s2 - s3
		}
		if bot != nil {
			bot[x] = u0 + u1 + u2
			if x+1 < ow {
				bot[x+1] = u1 - u2 - u3
			}
		}
	}
}

// winogradForward is forward for isWinograd convolutions. Tiles of
// several samples share the products, so that small planes still make wide
// GEMMs.
func (c *convCore[F]) winogradForward(x, W, out []F, post planeFn[F]) {
	g := &c.geo
	n, C, K := c.inShape[0], g.c, c.filters
	th, tw := (g.oh+1)/2, (g.ow+1)/2
	t := &c.wino
	t.c, t.x, t.w, t.out, t.k, t.tw, t.th = c, x, W, out, K, tw, th
	// Packed, the filter stage writes U[ξ] straight into the 16 packs' panels
	// (no U, no pack stage, W read once); unpacked, the packs keep U.
	// Packed, the 16 products of a chunk also run whole on a goroutine each
	// instead of each being split: a 64-channel layer's products are too
	// small to share (two barriers each).
	packed := canPack[F](K, C)
	for xi := range t.packs {
		t.packs[xi].serial = packed
	}
	nr := 0
	if packed {
		for xi := range t.packs {
			t.pk[xi], t.kc, t.mr = t.packs[xi].packTo(K, C)
		}
		t.stage = wgFilterPanels
		parallelRange((K+t.mr-1)/t.mr, 16*t.mr*C*9, t)
		t.pk = [16][]float32{}
		nr = sgemmKernel.nr
	} else {
		t.u = c.scratch(&c.winoU, 16*K*C)
		t.stage = wgFilters
		parallelRange(K, 16*C*9, t)
		t.stage = wgPack
		t.runRange(0, 16)
	}
	if nr > 0 && winogradFusedOK(C, K) {
		c.winogradFused(n*th*tw, post)
	} else {
		c.winogradStaged(nr, post)
	}
	for xi := range t.packs {
		t.packs[xi].release()
	}
	if c.pool != nil {
		c.pool.put(t.u) // nil when packed: put skips it
	}
	t.x, t.w, t.out, t.u = nil, nil, nil, nil
}

// winogradFusedOK reports whether a packed layer with C channels and K
// filters takes the fused path: its 16 U[ξ] within winogradFusedU values.
func winogradFusedOK(C, K int) bool {
	return 16*K*C <= winogradFusedU
}

// winogradFusedU bounds the layers the fused path takes, by their 16
// U[ξ]; winogradFusedTiles is the tiles it aims for a chunk. Against the
// staged path, batch 8 (BenchmarkConvWinograd, 2-core Xeon, AVX-512):
// chunks of about 224 tiles (7 panels of V) ran 64 channels on 224×224,
// 64→128 and 128→128 on 112×112 1.09–1.23× as fast, and 128→256 and
// 256→256 on 56×56 1.22–1.33×; chunks of 448 tiles, or of V's budget in
// 1, 2 or 4 tile rows, were slower than 224 for one or another of those.
// Larger layers lose (512 on 28×28 0.89–0.97×, on 14×14 0.81–0.88×; their
// U is 16 MiB, each goroutine reads all of it for each chunk) or gain
// little (256→512 on 28×28, 1.00–1.14×) for 18 MB more of VGG16's predict
// peak (1.22× the file), so they stay staged. VGG16's forward pass: 0.88–0.95×
// the time.
var (
	winogradFusedU     = 1 << 20
	winogradFusedTiles = 224
)

// winogradFused runs the tile rows as chunks of about winogradFusedTiles
// tiles that each goroutine makes through all three stages by itself, side
// by side (goroutine i takes chunks i, i+lanes, …), so that a chunk's V
// and M and the packed U stay in its core's cache, with no barrier between
// stages; the post-processing then runs over the whole output.
func (c *convCore[F]) winogradFused(all int, post planeFn[F]) {
	t := &c.wino
	g, K := &c.geo, t.k
	lanes := runtime.GOMAXPROCS(0)
	t.tiles = min((all+lanes-1)/lanes, winogradFusedTiles)
	lanes = min(lanes, (all+t.tiles-1)/t.tiles)
	nr := sgemmKernel.nr
	vs, ms := 16*vSize(g.c, nr, t.tiles), 16*K*t.tiles
	v := c.scratch(&c.winoV, lanes*vs)
	m := c.scratch(&c.winoM, lanes*ms)
	if cap(t.lanes) < lanes {
		t.lanes = make([]wgChunk[F], lanes)
	}
	t.lanes = t.lanes[:lanes]
	for i := range t.lanes {
		l := &t.lanes[i]
		l.v, l.m = v[i*vs:][:vs], m[i*ms:][:ms]
		if l.job == nil {
			l.job = new(sgemmJob)
		}
	}
	if t.wg == nil {
		t.wg = new(partsWait)
	}
	runParts(t, lanes, t.wg)
	c.postPlanes(t.out, 0, c.inShape[0], post)
	for i := range t.lanes {
		t.lanes[i].v, t.lanes[i].m = nil, nil
	}
	if c.pool != nil {
		c.pool.put(v)
		c.pool.put(m)
	}
}

// winogradStaged runs the tiles in chunks within winogradTileBudget (a
// whole number of V's panels, when packed: a partial panel is copied and
// computed in full), each stage of a chunk split over the goroutines
// (input by channels, products by ξ, output by filters), and
// post-processes the samples a chunk completes.
func (c *convCore[F]) winogradStaged(nr int, post planeFn[F]) {
	t := &c.wino
	g, K := &c.geo, t.k
	C, n, spt := g.c, c.inShape[0], t.th*t.tw // spt: a sample's tiles
	tiles := max(1, winogradTileBudget/(16*(C+K)))
	if nr > 0 && tiles > nr {
		tiles = tiles / nr * nr
	}
	tiles = min(tiles, n*spt)
	k := &t.ch
	k.v = c.scratch(&c.winoV, 16*vSize(C, max(nr, 1), tiles))
	k.m = c.scratch(&c.winoM, 16*K*tiles)
	done := 0
	for t0 := 0; t0 < n*spt; t0 += tiles {
		k.t0, k.tc = t0, min(tiles, n*spt-t0)
		k.pw = k.tc
		if nr > 0 {
			k.pw = nr
		}
		t.stage = wgInput
		parallelRange(C, 16*k.tc, t)
		if nr == 0 {
			per := vSize(C, k.pw, k.tc)
			for xi := range t.packs {
				t.packs[xi].mul(false, k.tc, k.v[xi*per:][:per], k.tc, 0, k.m[xi*K*k.tc:], k.tc)
			}
		} else {
			t.setSrcs(k)
			t.stage = wgMul
			parallelRange(16, 2*K*C*k.tc, t)
			k.srcs = [16]winogradV{}
		}
		t.stage = wgOutput
		parallelRange(K, 16*k.tc, t)
		if s1 := (t0 + k.tc) / spt; s1 > done {
			c.postPlanes(t.out, done, s1, post)
			done = s1
		}
	}
	if c.pool != nil {
		c.pool.put(k.v)
		c.pool.put(k.m)
	}
	k.v, k.m = nil, nil
}

// scratch returns n elements: from an inference network's pool for this
// pass (winogradForward gives them back), else the core's own kept buffer.
func (c *convCore[F]) scratch(own *[]F, n int) []F {
	if c.pool != nil {
		return c.pool.get(n)[:n]
	}
	*own = growSlice(*own, n)
	return *own
}
