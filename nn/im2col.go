package nn

import (
	"runtime"
)

// convGeom is the geometry of a 2-D sliding window (1-D uses h = kh = 1).
// c is the number of channels one im2col covers. A 3-D window sets the
// depth fields (d, kd, sd, dd, pf, od); zero depth fields mean 2-D.
type convGeom struct {
	c, h, w                int
	kh, kw, sh, sw, dh, dw int
	pt, pl                 int
	oh, ow                 int
	d, kd, sd, dd, pf, od  int
}

func (g *convGeom) k() int     { return max(g.kd, 1) * g.kh * g.kw }
func (g *convGeom) p() int     { return max(g.od, 1) * g.oh * g.ow }
func (g *convGeom) plane() int { return max(g.d, 1) * g.h * g.w }

// is3D reports whether the window has a depth axis.
func (g *convGeom) is3D() bool { return g.d > 0 }

// slice2D is the 2-D geometry of one channel's depth slice.
func (g *convGeom) slice2D() convGeom {
	s := *g
	s.c, s.d, s.kd, s.sd, s.dd, s.pf, s.od = 1, 0, 0, 0, 0, 0, 0
	return s
}

// im2col writes the patches of img [c, (d,) h, w] into col: row (c, (a,)
// i, j), column (od·oh·ow +) oh·ow + ow, rows ld apart.
func im2col[F Float](g *convGeom, img, col []F, ld int) { im2colRange(g, img, col, ld, 0, g.p()) }

// col2im adds the patches in col back into img (the adjoint of im2col).
func col2im[F Float](g *convGeom, col []F, ld int, img []F) { col2imRange(g, col, ld, img, 0, g.p()) }

// im2colRange is im2col restricted to the output positions [p0, p1) (flat
// oh·ow + ow): column p of the full matrix is column p-p0 of col.
func im2colRange[F Float](g *convGeom, img, col []F, ld, p0, p1 int) {
	if p1 <= p0 {
		return
	}
	if g.is3D() {
		im2col3Range(g, img, col, ld, p0, p1)
		return
	}
	for c := 0; c < g.c; c++ {
		src := img[c*g.h*g.w : (c+1)*g.h*g.w]
		for i := 0; i < g.kh; i++ {
			for j := 0; j < g.kw; j++ {
				row := col[((c*g.kh+i)*g.kw+j)*ld:]
				row = row[:p1-p0]
				for oh := p0 / g.ow; oh*g.ow < p1; oh++ {
					a, b := max(p0-oh*g.ow, 0), min(p1-oh*g.ow, g.ow)
					dst := row[oh*g.ow+a-p0 : oh*g.ow+b-p0]
					ih := oh*g.sh - g.pt + i*g.dh
					if ih < 0 || ih >= g.h {
						clear(dst)
						continue
					}
					line := src[ih*g.w : (ih+1)*g.w]
					iw := a*g.sw - g.pl + j*g.dw
					if g.sw == 1 {
						// contiguous run: zeros, a copy, zeros
						lo := min(max(-iw, 0), len(dst))
						hi := min(max(g.w-iw, 0), len(dst))
						if hi <= lo {
							clear(dst)
							continue
						}
						clear(dst[:lo])
						copy(dst[lo:hi], line[iw+lo:iw+hi])
						clear(dst[hi:])
						continue
					}
					for ow := range dst {
						if iw >= 0 && iw < g.w {
							dst[ow] = line[iw]
						} else {
							dst[ow] = 0
						}
						iw += g.sw
					}
				}
			}
		}
	}
}

// col2imRange is col2im for the output positions [p0, p1), held in col as
// im2colRange writes them.
func col2imRange[F Float](g *convGeom, col []F, ld int, img []F, p0, p1 int) {
	if p1 <= p0 {
		return
	}
	if g.is3D() {
		col2im3Range(g, col, ld, img, p0, p1)
		return
	}
	for c := 0; c < g.c; c++ {
		dstImg := img[c*g.h*g.w : (c+1)*g.h*g.w]
		for i := 0; i < g.kh; i++ {
			for j := 0; j < g.kw; j++ {
				row := col[((c*g.kh+i)*g.kw+j)*ld:]
				row = row[:p1-p0]
				for oh := p0 / g.ow; oh*g.ow < p1; oh++ {
					a, b := max(p0-oh*g.ow, 0), min(p1-oh*g.ow, g.ow)
					src := row[oh*g.ow+a-p0 : oh*g.ow+b-p0]
					ih := oh*g.sh - g.pt + i*g.dh
					if ih < 0 || ih >= g.h {
						continue
					}
					line := dstImg[ih*g.w : (ih+1)*g.w]
					iw := a*g.sw - g.pl + j*g.dw
					if g.sw == 1 {
						lo := min(max(-iw, 0), len(src))
						hi := min(max(g.w-iw, 0), len(src))
						if hi <= lo {
							continue
						}
						addTo(line[iw+lo:iw+hi], src[lo:hi])
						continue
					}
					for _, v := range src {
						if iw >= 0 && iw < g.w {
							line[iw] += v
						}
						iw += g.sw
					}
				}
			}
		}
	}
}

// tileJob is one im2colTile or col2imTile call with the channels split
// across the shared workers; a convolution keeps one so that its steps do not
// allocate.
type tileJob[F Float] struct {
	g          *convGeom
	img, col   []F
	ld, p0, p1 int
	back       bool // col2im
	parts      int
	wg         partsWait
}

func (j *tileJob[F]) runPart(i int) {
	lo, hi := j.g.c*i/j.parts, j.g.c*(i+1)/j.parts
	sub := *j.g
	sub.c = hi - lo
	img, col := j.img[lo*j.g.plane():], j.col[lo*j.g.k()*j.ld:]
	if j.back {
		col2imRange(&sub, col, j.ld, img, j.p0, j.p1)
	} else {
		im2colRange(&sub, img, col, j.ld, j.p0, j.p1)
	}
}

func (j *tileJob[F]) run(g *convGeom, img, col []F, ld, p0, p1 int, back bool) {
	parts := min(runtime.GOMAXPROCS(0), g.c, g.c*g.k()*(p1-p0)/parGrain)
	*j = tileJob[F]{g: g, img: img, col: col, ld: ld, p0: p0, p1: p1, back: back, parts: max(parts, 1)}
	runParts(j, j.parts, &j.wg)
	j.img, j.col = nil, nil
}

// im2colTile is im2colRange with the channels split across goroutines.
func im2colTile[F Float](j *tileJob[F], g *convGeom, img, col []F, ld, p0, p1 int) {
	j.run(g, img, col, ld, p0, p1, false)
}

// col2imTile is col2imRange with the channels (disjoint planes of img)
// split across goroutines.
func col2imTile[F Float](j *tileJob[F], g *convGeom, col []F, ld int, img []F, p0, p1 int) {
	j.run(g, img, col, ld, p0, p1, true)
}

// im2col3Range is im2colRange for a 3-D window: each (channel, kernel
// depth, output depth) is a 2-D im2col of one input depth slice, or zeros
// where that slice lies in the padding.
func im2col3Range[F Float](g *convGeom, img, col []F, ld, p0, p1 int) {
	hw, kk := g.h*g.w, g.kh*g.kw
	s := g.slice2D()
	P2 := g.oh * g.ow
	for c := 0; c < g.c; c++ {
		for a := 0; a < g.kd; a++ {
			rows := col[(c*g.kd+a)*kk*ld:]
			for od := p0 / P2; od*P2 < p1; od++ {
				q0, q1 := max(p0, od*P2), min(p1, (od+1)*P2)
				sub := rows[q0-p0:]
				id := od*g.sd - g.pf + a*g.dd
				if id < 0 || id >= g.d {
					for r := 0; r < kk; r++ {
						clear(sub[r*ld : r*ld+q1-q0])
					}
					continue
				}
				im2colRange(&s, img[(c*g.d+id)*hw:], sub, ld, q0-od*P2, q1-od*P2)
			}
		}
	}
}

// col2im3Range is the adjoint of im2col3Range.
func col2im3Range[F Float](g *convGeom, col []F, ld int, img []F, p0, p1 int) {
	hw, kk := g.h*g.w, g.kh*g.kw
	s := g.slice2D()
	P2 := g.oh * g.ow
	for c := 0; c < g.c; c++ {
		for a := 0; a < g.kd; a++ {
			rows := col[(c*g.kd+a)*kk*ld:]
			for od := p0 / P2; od*P2 < p1; od++ {
				id := od*g.sd - g.pf + a*g.dd
				if id < 0 || id >= g.d {
					continue
				}
				q0, q1 := max(p0, od*P2), min(p1, (od+1)*P2)
				col2imRange(&s, rows[q0-p0:], ld, img[(c*g.d+id)*hw:], q0-od*P2, q1-od*P2)
			}
		}
	}
}
