package nn

import (
	"runtime"
	"sync"
)

// convGeom is the geometry of a 2-D sliding window (1-D uses h = kh = 1).
// c is the number of channels one im2col covers.
type convGeom struct {
	c, h, w                int
	kh, kw, sh, sw, dh, dw int
	pt, pl                 int
	oh, ow                 int
}

func (g *convGeom) k() int { return g.kh * g.kw }
func (g *convGeom) p() int { return g.oh * g.ow }

// im2col writes the patches of img [c, h, w] into col: row (c, i, j),
// column oh·ow + ow, rows ld apart.
func im2col[F Float](g *convGeom, img, col []F, ld int) { im2colRange(g, img, col, ld, 0, g.p()) }

// col2im adds the patches in col back into img (the adjoint of im2col).
func col2im[F Float](g *convGeom, col []F, ld int, img []F) { col2imRange(g, col, ld, img, 0, g.p()) }

// im2colRange is im2col restricted to the output positions [p0, p1) (flat
// oh·ow + ow): column p of the full matrix is column p-p0 of col.
func im2colRange[F Float](g *convGeom, img, col []F, ld, p0, p1 int) {
	if p1 <= p0 {
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
	wg         sync.WaitGroup
}

func (j *tileJob[F]) runPart(i int) {
	lo, hi := j.g.c*i/j.parts, j.g.c*(i+1)/j.parts
	sub := *j.g
	sub.c = hi - lo
	img, col := j.img[lo*j.g.h*j.g.w:], j.col[lo*j.g.k()*j.ld:]
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
