package nn

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
func im2col[F Float](g *convGeom, img, col []F, ld int) {
	P := g.p()
	for c := 0; c < g.c; c++ {
		src := img[c*g.h*g.w : (c+1)*g.h*g.w]
		for i := 0; i < g.kh; i++ {
			for j := 0; j < g.kw; j++ {
				row := col[((c*g.kh+i)*g.kw+j)*ld:]
				row = row[:P]
				for oh := 0; oh < g.oh; oh++ {
					dst := row[oh*g.ow : (oh+1)*g.ow]
					ih := oh*g.sh - g.pt + i*g.dh
					if ih < 0 || ih >= g.h {
						clear(dst)
						continue
					}
					line := src[ih*g.w : (ih+1)*g.w]
					iw := -g.pl + j*g.dw
					if g.sw == 1 {
						// contiguous run: zeros, a copy, zeros
						lo := min(max(-iw, 0), g.ow)
						hi := min(max(g.w-iw, 0), g.ow)
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

// col2im adds the patches in col back into img (the adjoint of im2col).
func col2im[F Float](g *convGeom, col []F, ld int, img []F) {
	P := g.p()
	for c := 0; c < g.c; c++ {
		dstImg := img[c*g.h*g.w : (c+1)*g.h*g.w]
		for i := 0; i < g.kh; i++ {
			for j := 0; j < g.kw; j++ {
				row := col[((c*g.kh+i)*g.kw+j)*ld:]
				row = row[:P]
				for oh := 0; oh < g.oh; oh++ {
					src := row[oh*g.ow : (oh+1)*g.ow]
					ih := oh*g.sh - g.pt + i*g.dh
					if ih < 0 || ih >= g.h {
						continue
					}
					line := dstImg[ih*g.w : (ih+1)*g.w]
					iw := -g.pl + j*g.dw
					if g.sw == 1 {
						lo := min(max(-iw, 0), g.ow)
						hi := min(max(g.w-iw, 0), g.ow)
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
