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

// pack stores op(B)[p0:p0+kb, j0:j0+nb] as panels of nr columns (see
// packB): B = col, or colᵀ when tb.
func (s *im2colSource) pack(dst []float32, tb bool, p0, kb, j0, nb, nr int) {
	for jr := 0; jr < nb; jr += nr {
		cols := min(nr, nb-jr)
		d := dst[jr*kb : (jr+nr)*kb]
		if !tb { // row p of the panel is im2col row p0+p over the columns
			for p := 0; p < kb; p++ {
				g := d[p*nr : p*nr+nr]
				s.row(g, 1, p0+p, j0+jr, cols)
				clear(g[cols:])
			}
			continue
		}
		for c := 0; c < cols; c++ { // column c is im2col row j0+jr+c over positions p0…
			s.row(d[c:], nr, j0+jr+c, p0, kb)
		}
		for c := cols; c < nr; c++ {
			for p := 0; p < kb; p++ {
				d[p*nr+c] = 0
			}
		}
	}
}

// row writes col[r][q], …, col[r][q+n-1] to dst[0], dst[step], ….
func (s *im2colSource) row(dst []float32, step, r, q, n int) {
	g := s.g
	kk := g.kh * g.kw
	c, k := r/kk, r%kk
	ki, kj := k/g.kw, k%g.kw
	P := g.oh * g.ow
	q += s.q0
	smp, pos := s.s0+q/P, q%P
	oy, ox := pos/g.ow, pos%g.ow
	for o := 0; o < n; {
		m := min(n-o, g.ow-ox)
		out := dst[o*step:]
		iy := oy*g.sh + ki*g.dh - g.pt
		ix := ox*g.sw + kj*g.dw - g.pl
		switch {
		case iy < 0 || iy >= g.h:
			for t := 0; t < m; t++ {
				out[t*step] = 0
			}
		case step == 1 && g.sw == 1:
			row := s.x[smp*s.inPer+(c*g.h+iy)*g.w:][:g.w]
			lo, hi := min(max(0, -ix), m), max(min(m, g.w-ix), 0)
			lo = min(lo, hi)
			clear(out[:lo])
			copy(out[lo:hi], row[ix+lo:])
			clear(out[hi:m])
		default:
			row := s.x[smp*s.inPer+(c*g.h+iy)*g.w:][:g.w]
			for t := 0; t < m; t++ {
				if uint(ix) < uint(g.w) {
					out[t*step] = row[ix]
				} else {
					out[t*step] = 0
				}
				ix += g.sw
			}
		}
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
}
