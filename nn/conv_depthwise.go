package nn

// Depthwise convolution (every group has one input channel) runs directly:
// an im2col would copy each input kh·kw times for a GEMM with one row per
// filter, which costs more than the multiply-adds themselves.

// isDepthwise reports whether the direct kernel applies.
func (c *convCore[F]) isDepthwise() bool {
	return !c.generic && !c.geo.is3D() && c.groups > 1 && c.geo.c == 1
}

// owRange is the range of output columns whose input column
// ow·sw - pl + j·dw lies inside [0, w).
func (g *convGeom) owRange(j int) (lo, hi int) {
	off := j*g.dw - g.pl // iw = ow·sw + off
	lo = 0
	if off < 0 {
		lo = (-off + g.sw - 1) / g.sw
	}
	hi = g.ow
	if last := g.w - 1 - off; last < 0 {
		hi = 0
	} else {
		hi = min(hi, last/g.sw+1)
	}
	return lo, max(lo, hi)
}

// depthwiseForward writes out = x ⋆ W for a depthwise convolution.
func (c *convCore[F]) depthwiseForward(x, W, out []F, post planeFn[F]) {
	g := &c.geo
	n, fg := c.inShape[0], c.filters/c.groups
	hw, P, K := g.h*g.w, g.p(), g.k()
	rows3, cols3, inside3 := g.window3x3()
	parallelFor(n*c.cin, fg*P*K, func(lo, hi int) {
		var win []F
		if g.is3x3Row() && !inside3 {
			win = make([]F, rows3*cols3)
		}
		for pl := lo; pl < hi; pl++ {
			s, ch := pl/c.cin, pl%c.cin
			img := x[pl*hw : (pl+1)*hw]
			for m := 0; m < fg; m++ {
				f := ch*fg + m
				i := s*c.filters + f
				dst := out[i*P:][:P]
				if g.is3x3Row() {
					depthwisePlane3x3(g, img, W[f*K:(f+1)*K], dst, win)
				} else {
					clear(dst)
					depthwisePlane(g, img, W[f*K:(f+1)*K], dst)
				}
				if post != nil {
					post(i, dst)
				}
			}
		}
	})
}

// depthwisePlane adds the correlation of one input plane with one kernel
// into one output plane.
func depthwisePlane[F Float](g *convGeom, img, w, dst []F) {
	for oh := 0; oh < g.oh; oh++ {
		orow := dst[oh*g.ow : (oh+1)*g.ow]
		for i := 0; i < g.kh; i++ {
			ih := oh*g.sh - g.pt + i*g.dh
			if ih < 0 || ih >= g.h {
				continue
			}
			line := img[ih*g.w : (ih+1)*g.w]
			for j := 0; j < g.kw; j++ {
				wv := w[i*g.kw+j]
				lo, hi := g.owRange(j)
				if lo >= hi {
					continue
				}
				iw := lo*g.sw + j*g.dw - g.pl
				if g.sw == 1 {
					src := line[iw : iw+hi-lo]
					o := orow[lo:hi]
					for k, v := range src {
						o[k] += wv * v
					}
					continue
				}
				for ow := lo; ow < hi; ow++ {
					orow[ow] += wv * line[iw]
					iw += g.sw
				}
			}
		}
	}
}

// depthwiseBackward accumulates dW (if gW is not nil) and writes dx (if not
// nil). Work is split by channel so that no two goroutines share a filter
// or an input plane.
func (c *convCore[F]) depthwiseBackward(x, W, dOut, gW, dx []F) {
	g := &c.geo
	n, fg := c.inShape[0], c.filters/c.groups
	hw, P, K := g.h*g.w, g.p(), g.k()
	parallelFor(c.cin, n*fg*P*K, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			for s := 0; s < n; s++ {
				pl := s*c.cin + ch
				img := x[pl*hw : (pl+1)*hw]
				var dimg []F
				if dx != nil {
					dimg = dx[pl*hw : (pl+1)*hw]
					clear(dimg)
				}
				for m := 0; m < fg; m++ {
					f := ch*fg + m
					d := dOut[(s*c.filters+f)*P:][:P]
					if gW != nil {
						depthwisePlaneDW(g, img, d, gW[f*K:(f+1)*K])
					}
					if dx != nil {
						depthwisePlaneDX(g, W[f*K:(f+1)*K], d, dimg)
					}
				}
			}
		}
	})
}

// depthwisePlaneDW adds Σ d[oh, ow]·img[ih, iw] into each kernel tap.
func depthwisePlaneDW[F Float](g *convGeom, img, d, gw []F) {
	for i := 0; i < g.kh; i++ {
		for j := 0; j < g.kw; j++ {
			lo, hi := g.owRange(j)
			if lo >= hi {
				continue
			}
			var acc F
			for oh := 0; oh < g.oh; oh++ {
				ih := oh*g.sh - g.pt + i*g.dh
				if ih < 0 || ih >= g.h {
					continue
				}
				line := img[ih*g.w : (ih+1)*g.w]
				drow := d[oh*g.ow : (oh+1)*g.ow]
				iw := lo*g.sw + j*g.dw - g.pl
				if g.sw == 1 {
					src := line[iw : iw+hi-lo]
					for k, v := range drow[lo:hi] {
						acc += v * src[k]
					}
					continue
				}
				for ow := lo; ow < hi; ow++ {
					acc += drow[ow] * line[iw]
					iw += g.sw
				}
			}
			gw[i*g.kw+j] += acc
		}
	}
}

// depthwisePlaneDX adds the transposed correlation of d with one kernel into
// the input-gradient plane dimg.
func depthwisePlaneDX[F Float](g *convGeom, w, d, dimg []F) {
	for oh := 0; oh < g.oh; oh++ {
		drow := d[oh*g.ow : (oh+1)*g.ow]
		for i := 0; i < g.kh; i++ {
			ih := oh*g.sh - g.pt + i*g.dh
			if ih < 0 || ih >= g.h {
				continue
			}
			line := dimg[ih*g.w : (ih+1)*g.w]
			for j := 0; j < g.kw; j++ {
				wv := w[i*g.kw+j]
				lo, hi := g.owRange(j)
				if lo >= hi {
					continue
				}
				iw := lo*g.sw + j*g.dw - g.pl
				if g.sw == 1 {
					dst := line[iw : iw+hi-lo]
					for k, v := range drow[lo:hi] {
						dst[k] += wv * v
					}
					continue
				}
				for ow := lo; ow < hi; ow++ {
					line[iw] += wv * drow[ow]
					iw += g.sw
				}
			}
		}
	}
}
