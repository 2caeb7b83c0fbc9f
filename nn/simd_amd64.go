//go:build amd64

package nn

import "golang.org/x/sys/cpu"

// useSIMD enables the AVX2+FMA loops of simd_amd64.s (tests turn it off to
// compare them with the portable loops).
var useSIMD = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// useTransposeAVX512 enables transposeColsAVX512 for packBTAt (tests turn
// it off to compare with the portable loop).
var useTransposeAVX512 = cpu.X86.HasAVX512F

//go:noescape
func transposeColsAVX512(d *float32, nr int, b *float32, off *int, blocks int, mask int)

// transposeColsSIMD does packBTAt's d[p·nr + c] = b[off[c] + p] for the
// leading multiple of 16 rows p with 16×16 AVX-512 transposes, and returns
// how many rows it did.
func transposeColsSIMD(d, b []float32, off []int, kb, nr int) int {
	cols, blocks := len(off), kb/16
	if !useTransposeAVX512 || blocks == 0 || cols == 0 || cols > nr {
		return 0
	}
	hi := 0
	for _, o := range off {
		hi = max(hi, o)
	}
	_, _ = b[hi+blocks*16-1], d[(blocks*16-1)*nr+cols-1] // bounds the assembly relies on
	var grp [16]int
	for g := 0; g < cols; g += 16 {
		n := min(16, cols-g)
		copy(grp[:], off[g:g+n])
		for c := n; c < 16; c++ {
			grp[c] = off[g] // loaded, not stored
		}
		transposeColsAVX512(&d[g], nr, &b[0], &grp[0], blocks, 1<<n-1)
	}
	return blocks * 16
}

//go:noescape
func sumF64AVX(x *float32, n int) float64

//go:noescape
func sqDevF64AVX(x *float32, n int, mu float64) float64

//go:noescape
func sumDotAVX(d, x *float32, n int) (s, sx float32)

// sumRowSIMD is Σ r in float64 over the leading multiple of 16 elements,
// and how many it summed.
func sumRowSIMD(r []float32) (float64, int) {
	n := len(r) &^ 15
	if !useSIMD || n == 0 {
		return 0, 0
	}
	return sumF64AVX(&r[0], n), n
}

// sqDevRowSIMD is Σ (r − mu)² in float64 over the leading multiple of 16
// elements, and how many it summed.
func sqDevRowSIMD(r []float32, mu float64) (float64, int) {
	n := len(r) &^ 15
	if !useSIMD || n == 0 {
		return 0, 0
	}
	return sqDevF64AVX(&r[0], n, mu), n
}

// sumDotRowSIMD is Σ d and Σ d·x over the leading multiple of 16 elements
// of d (x at least as long), and how many it summed.
func sumDotRowSIMD(d, x []float32) (s, sx float32, n int) {
	n = len(d) &^ 15
	if !useSIMD || n == 0 {
		return 0, 0, 0
	}
	_ = x[n-1]
	s, sx = sumDotAVX(&d[0], &x[0], n)
	return s, sx, n
}

//go:noescape
func clampAVX(x, y *float32, n int, lo, hi float32)

//go:noescape
func affineAVX(x, y *float32, n int, sc, sh float32)

//go:noescape
func reluGradAVX(x, dy, dx *float32, n int, hi float32)

//go:noescape
func max2x2AVX(r0, r1, dst *float32, arg *int32, n, w, base int)

//go:noescape
func addAVX(dst, src *float32, n int)

//go:noescape
func geluAVX(x, y *float32, n int)

// geluSIMD does y[i] = 0.5·x[i]·(1 + erff(x[i]/√2)) — the same bits as the
// Go loop — for the leading multiple of 8 elements and returns how many it
// did.
func geluSIMD(x, y []float32) int {
	n := len(x) &^ 7
	if !useSIMD || n == 0 {
		return 0
	}
	_ = y[n-1]
	geluAVX(&x[0], &y[0], n)
	return n
}

//go:noescape
func maxTapAVX(d *float32, a *int32, row *float32, n, idx0, s int)

// maxTapSIMD does one tap of max pooling — d[j], a[j] = row[x0 + j·s],
// base + x0 + j·s where greater — for the leading multiple of 8 outputs
// whose reads stay in row (s 1 or 2) and returns how many it did.
func maxTapSIMD(d []float32, a []int32, row []float32, x0, s, base int) int {
	if !useSIMD || (s != 1 && s != 2) || x0 < 0 || x0 >= len(row) {
		return 0
	}
	n := min(len(d), (len(row)-x0)/s) &^ 7
	if n == 0 || base+x0+s*n > 1<<31-1 {
		return 0
	}
	_, _ = a[n-1], row[x0+s*n-1]
	maxTapAVX(&d[0], &a[0], &row[x0], n, base+x0, s)
	return n
}

//go:noescape
func dw3x3s1AVX(dst, r0, r1, r2, w *float32, n int)

//go:noescape
func dw3x3s2AVX(dst, r0, r1, r2, w *float32, n int)

// clampSIMD does y[i] = clamp(x[i]) for the leading multiple of 8 elements
// and returns how many it did.
func clampSIMD(x, y []float32, lo, hi float32) int {
	n := len(x) &^ 7
	if !useSIMD || n == 0 {
		return 0
	}
	_ = y[n-1]
	clampAVX(&x[0], &y[0], n, lo, hi)
	return n
}

// affineSIMD does y[i] = x[i]·sc + sh for the leading multiple of 8
// elements and returns how many it did.
func affineSIMD(x, y []float32, sc, sh float32) int {
	n := len(x) &^ 7
	if !useSIMD || n == 0 {
		return 0
	}
	_ = y[n-1]
	affineAVX(&x[0], &y[0], n, sc, sh)
	return n
}

// reluGradSIMD does dx[i] = dy[i] if 0 < x[i] < hi else 0 (hi NaN: no
// upper cut) for the leading multiple of 8 elements and returns how many it
// did; dx may alias dy.
func reluGradSIMD(x, dy, dx []float32, hi float32) int {
	n := len(x) &^ 7
	if !useSIMD || n == 0 {
		return 0
	}
	_, _ = dy[n-1], dx[n-1]
	reluGradAVX(&x[0], &dy[0], &dx[0], n, hi)
	return n
}

// max2x2RowSIMD does one output row of 2×2/2 max pooling (see max2x2) for
// the leading multiple of 8 outputs and returns how many it did; base is
// the index of r0[0] that arg counts from.
func max2x2RowSIMD(r0, r1, dst []float32, arg []int32, w, base int) int {
	n := len(dst) &^ 7
	if !useSIMD || n == 0 {
		return 0
	}
	_, _, _ = r0[2*n-1], r1[2*n-1], arg[n-1]
	max2x2AVX(&r0[0], &r1[0], &dst[0], &arg[0], n, w, base)
	return n
}

// addSIMD does dst[i] += src[i] for the leading multiple of 8 elements of
// src and returns how many it did.
func addSIMD(dst, src []float32) int {
	n := len(src) &^ 7
	if !useSIMD || n == 0 {
		return 0
	}
	_ = dst[n-1]
	addAVX(&dst[0], &src[0], n)
	return n
}

// dwRow3x3SIMD computes one 3×3 depthwise output row (see dwRow3x3) and
// reports whether it could.
func dwRow3x3SIMD(dst, r0, r1, r2, w []float32, sw int) bool {
	n := len(dst)
	if !useSIMD || n < 8 || (sw != 1 && sw != 2) {
		return false
	}
	last := (n-1)*sw + 2 // the last element read from each row
	_, _, _, _ = r0[last], r1[last], r2[last], w[8]
	if sw == 1 {
		dw3x3s1AVX(&dst[0], &r0[0], &r1[0], &r2[0], &w[0], n)
	} else {
		dw3x3s2AVX(&dst[0], &r0[0], &r1[0], &r2[0], &w[0], n)
	}
	return true
}

//go:noescape
func winogradInputAVX(r0, r1, r2, r3, v *float32, per, n int)

// winogradInputSIMD transforms the n tiles from tile tx of a tile row (see
// winogradTiles) when n >= 8, the last 8 again when n is not a multiple of
// 8 (the same values: a run's tiles are its own), and returns how many it
// did.
func winogradInputSIMD(rows *[4][]float32, tx, n int, v []float32, per int) int {
	if !useSIMD || n < 8 {
		return 0
	}
	x, last := 2*tx, 2*(tx+n)+1 // the last column read
	_, _, _, _ = rows[0][last], rows[1][last], rows[2][last], rows[3][last]
	_ = v[15*per+n-1]
	winogradInputAVX(&rows[0][x], &rows[1][x], &rows[2][x], &rows[3][x], &v[0], per, n&^7)
	if k := n - 8; n%8 != 0 {
		x += 2 * k
		winogradInputAVX(&rows[0][x], &rows[1][x], &rows[2][x], &rows[3][x], &v[k], per, 8)
	}
	return n
}

//go:noescape
func winogradFilterAVX512(w *float32, idx *int32, mask, kb int, out *[16]*float32, mr int)

// useWinogradFilterAVX512 enables winogradFilterAVX512 (tests turn it off
// to compare it with the portable loop).
var useWinogradFilterAVX512 = cpu.X86.HasAVX512F

// winogradFilterPanelSIMD is winogradFilterPanels' loop for the rows filters
// of the row panel at ir and the channels [pc, pc+kb) of a column slab: it
// reports false, doing nothing, without AVX-512.
func winogradFilterPanelSIMD(w []float32, C, ir, rows, pc, kb, mr, mpad int, pk *[16][]float32) bool {
	if !useWinogradFilterAVX512 || rows > 16 || mr > 16 || rows < 1 || kb < 1 {
		return false
	}
	var idx [16]int32
	for r := 0; r < rows; r++ {
		idx[r] = int32(r * C * 9)
	}
	var out [16]*float32
	o := pc*mpad + ir*kb
	for xi := range out {
		out[xi] = &pk[xi][o : o+kb*mr][0]
	}
	_ = w[(ir+rows-1)*C*9+(pc+kb)*9-1] // the last tap read
	winogradFilterAVX512(&w[ir*C*9+pc*9], &idx[0], 1<<rows-1, kb, &out, mr)
	return true
}

//go:noescape
func winogradOutputAVX(m *float32, stride int, top, bot *float32, n, hasBot int)

// winogradOutputSIMD writes the 2×2 outputs of tiles [0, n) of a tile row
// (M[ξ] of tile t at m[ξ·stride + t]; bot nil on an odd plane's last row)
// when n >= 8, the last 8 again when n is not a multiple of 8, and returns
// how many it did.
func winogradOutputSIMD(m []float32, stride int, top, bot []float32, n int) int {
	if !useSIMD || n < 8 {
		return 0
	}
	_, _ = m[15*stride+n-1], top[2*n-1]
	hasBot, b := 0, &top[0]
	if bot != nil {
		_ = bot[2*n-1]
		hasBot, b = 1, &bot[0]
	}
	winogradOutputAVX(&m[0], stride, &top[0], b, n&^7, hasBot)
	if k := n - 8; n%8 != 0 {
		bk := b
		if bot != nil {
			bk = &bot[2*k]
		}
		winogradOutputAVX(&m[k], stride, &top[2*k], bk, 8, hasBot)
	}
	return n
}

//go:noescape
func evensAVX(dst, src *float32, n int)

// evensSIMD does dst[i] = src[2i] for the leading multiple of 8 of dst
// whose pairs src holds, and returns how many it did.
func evensSIMD(dst, src []float32) int {
	n := min(len(dst), len(src)/2) &^ 7
	if !useSIMD || n == 0 {
		return 0
	}
	evensAVX(&dst[0], &src[0], n)
	return n
}

//go:noescape
func maxIntoAVX(d, s *float32, n int) bool

//go:noescape
func max3s2AVX(d, m *float32, n int)

// maxIntoSIMD does d[i] = max(d[i], s[i]) for the leading multiple of 8
// values, returns how many it did and whether either held a NaN (its
// results are then unspecified).
func maxIntoSIMD(d, s []float32) (int, bool) {
	n := min(len(d), len(s)) &^ 7
	if !useSIMD || n == 0 {
		return 0, false
	}
	return n, maxIntoAVX(&d[0], &s[0], n)
}

// max3s2SIMD does d[j] = max(m[2j], m[2j+1], m[2j+2]) for the leading
// multiple of 8 outputs whose reads stay in m and returns how many it did.
func max3s2SIMD(d, m []float32) int {
	n := min(len(d), (len(m)-2)/2) &^ 7
	if !useSIMD || n <= 0 {
		return 0
	}
	max3s2AVX(&d[0], &m[0], n)
	return n
}

//go:noescape
func deinterleaveAVX(ev, od, src *float32, n int)

// deinterleaveSIMD does ev[i], od[i] = src[2i], src[2i+1] for the leading
// multiple of 8 pairs that ev, od and src all hold, and returns how many
// it did.
func deinterleaveSIMD(ev, od, src []float32) int {
	n := min(len(ev), len(od), len(src)/2) &^ 7
	if !useSIMD || n == 0 {
		return 0
	}
	deinterleaveAVX(&ev[0], &od[0], &src[0], n)
	return n
}

//go:noescape
func biasClampAddAVX(row, skip *float32, n int, b, lo1, hi1, lo2, hi2 float32)

// biasClampAddSIMD does biasClampAdd for the leading multiple of 8 of row
// and returns how many it did.
func biasClampAddSIMD(row, skip []float32, b, lo1, hi1, lo2, hi2 float32) int {
	n := len(row) &^ 7
	if !useSIMD || n == 0 {
		return 0
	}
	var s *float32
	if skip != nil {
		_ = skip[n-1]
		s = &skip[0]
	}
	biasClampAddAVX(&row[0], s, n, b, lo1, hi1, lo2, hi2)
	return n
}
