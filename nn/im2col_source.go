package nn

// im2colSource is the im2col matrix of a batch of images, read by the GEMM
// while it packs its B panels instead of being written out first: row
// r = (channel, ki, kj), column q = output position (pos0 + q) counted over
// the samples from s0 on. Skipping the materialised matrix saves writing
// and re-reading kernel-area times the input per product.
type im2colSource struct {
	g      *convGeom
	x      []float32
	inPer  int // elements between samples
	s0, q0 int
}

// bSource packs blocks of op(B) the way packB does, from wherever B comes.
type bSource interface {
	pack(dst []float32, tb bool, p0, kb, j0, nb, nr int)
}

// implicitIm2col reports whether a geometry can be read by im2colSource
// (2-D or 1-D windows; 3-D keeps the materialised path).
func implicitIm2col(g *convGeom) bool { return !g.is3D() }

// colSeg is a run of output positions within one output row: n columns
// from column at of the run being packed.
type colSeg struct{ smp, oy, ox, n, at int }

// maxSegs bounds the runs one fill pass handles (kept on the stack).
const maxSegs = 32

// segments cuts the columns [q, q+n) into runs along output rows, at most
// maxSegs of them; it returns them and how many columns they cover.
func (s *im2colSource) segments(buf *[maxSegs]colSeg, q, n int) ([]colSeg, int) {
	g := s.g
	P := g.oh * g.ow
	q += s.q0
	smp, pos := s.s0+q/P, q%P
	oy, ox := pos/g.ow, pos%g.ow
	segs := buf[:0]
	o := 0
	for o < n && len(segs) < maxSegs {
		m := min(n-o, g.ow-ox)
		segs = append(segs, colSeg{smp: smp, oy: oy, ox: ox, n: m, at: o})
		o += m
		ox += m
		if ox == g.ow {
			ox = 0
			if oy++; oy == g.oh {
				oy = 0
				smp++
			}
		}
	}
	return segs, o
}

// fill writes im2col row r over the runs to dst[at·step], ….
func (s *im2colSource) fill(dst []float32, step, r int, segs []colSeg) {
	g := s.g
	kk := g.kh * g.kw
	c, k := r/kk, r%kk
	ki, kj := k/g.kw, k%g.kw
	plane := g.h * g.w
	for _, sg := range segs {
		out := dst[sg.at*step:]
		m := sg.n
		iy := sg.oy*g.sh + ki*g.dh - g.pt
		ix := sg.ox*g.sw + kj*g.dw - g.pl
		if iy < 0 || iy >= g.h {
			for t := 0; t < m; t++ {
				out[t*step] = 0
			}
			continue
		}
		row := s.x[sg.smp*s.inPer+c*plane+iy*g.w:][:g.w]
		if step == 1 && g.sw == 1 {
			// positions t in [lo, hi) read inside the row
			lo, hi := min(max(0, -ix), m), max(min(m, g.w-ix), 0)
			if hi <= lo {
				clear(out[:m])
				continue
			}
			clear(out[:lo])
			copy(out[lo:hi], row[ix+lo:])
			clear(out[hi:m])
			continue
		}
		for t := 0; t < m; t++ {
			if uint(ix) < uint(g.w) {
				out[t*step] = row[ix]
			} else {
				out[t*step] = 0
			}
			ix += g.sw
		}
	}
}

// pack stores op(B)[p0:p0+kb, j0:j0+nb] as panels of nr columns (see
// packB): B = col, or colᵀ when tb.
func (s *im2colSource) pack(dst []float32, tb bool, p0, kb, j0, nb, nr int) {
	var buf [maxSegs]colSeg
	for jr := 0; jr < nb; jr += nr {
		cols := min(nr, nb-jr)
		d := dst[jr*kb : (jr+nr)*kb]
		if !tb { // row p of the panel is im2col row p0+p over the panel's positions
			for q := 0; q < cols; {
				segs, n := s.segments(&buf, j0+jr+q, cols-q)
				for p := 0; p < kb; p++ {
					s.fill(d[p*nr+q:], 1, p0+p, segs)
				}
				q += n
			}
			for p := 0; p < kb; p++ {
				clear(d[p*nr+cols : p*nr+nr])
			}
			continue
		}
		s.packT(d, p0, kb, j0+jr, cols, nr)
		for c := cols; c < nr; c++ {
			for p := 0; p < kb; p++ {
				d[p*nr+c] = 0
			}
		}
	}
}

// packT fills one panel of colᵀ: row p (position p0+p) holds im2col rows
// r0 … r0+cols-1 at that position. Rows are written whole (contiguous
// stores); a position whose window lies inside the image reads every
// column at a fixed offset from its corner.
func (s *im2colSource) packT(d []float32, p0, kb, r0, cols, nr int) {
	g := s.g
	kk := g.kh * g.kw
	plane := g.h * g.w
	var off, kis, kjs [64]int
	if cols > len(off) {
		panic("im2colSource: panel wider than 64 columns")
	}
	for c := 0; c < cols; c++ {
		r := r0 + c
		ch, k := r/kk, r%kk
		kis[c], kjs[c] = k/g.kw*g.dh, k%g.kw*g.dw
		off[c] = ch*plane + kis[c]*g.w + kjs[c]
	}
	P := g.oh * g.ow
	q := p0 + s.q0
	smp, pos := s.s0+q/P, q%P
	oy, ox := pos/g.ow, pos%g.ow
	spanY, spanX := (g.kh-1)*g.dh, (g.kw-1)*g.dw
	for p := 0; p < kb; p++ {
		dst := d[p*nr : p*nr+cols]
		iy, ix := oy*g.sh-g.pt, ox*g.sw-g.pl
		base := smp*s.inPer + iy*g.w + ix
		if iy >= 0 && ix >= 0 && iy+spanY < g.h && ix+spanX < g.w {
			x := s.x[base:]
			for c := range dst {
				dst[c] = x[off[c]]
			}
		} else {
			for c := range dst {
				y, xx := iy+kis[c], ix+kjs[c]
				if uint(y) < uint(g.h) && uint(xx) < uint(g.w) {
					dst[c] = s.x[base+off[c]]
				} else {
					dst[c] = 0
				}
			}
		}
		if ox++; ox == g.ow {
			ox = 0
			if oy++; oy == g.oh {
				oy = 0
				smp++
			}
		}
	}
}
