package nn

// 3×3 depthwise convolutions (MobileNet's) with column stride 1 or 2 and
// column dilation 1 run row by row: each output row is a 9-tap sum over
// three input rows, computed by a row kernel (AVX2 where available). Planes
// with padding are first copied into a zero-bordered window, so that the
// kernel runs over whole rows without border cases.

// is3x3Row reports whether depthwisePlane3x3 applies.
func (g *convGeom) is3x3Row() bool {
	return g.kh == 3 && g.kw == 3 && (g.sw == 1 || g.sw == 2) && g.dw == 1 && g.oh > 0 && g.ow > 0
}

// window3x3 is the size of the input window a 3×3 row pass reads, from
// row -pt and column -pl, and whether it lies inside the image (then the
// pass reads the image in place).
func (g *convGeom) window3x3() (rows, cols int, inside bool) {
	rows = (g.oh-1)*g.sh + 2*g.dh + 1
	cols = (g.ow-1)*g.sw + 3
	inside = g.pt == 0 && g.pl == 0 && rows <= g.h && cols <= g.w
	return rows, cols, inside
}

// depthwisePlane3x3 writes the correlation of one input plane with one
// 3×3 kernel into dst. win is scratch for the padded window (window3x3's
// rows·cols, zero outside the image part, which is all this writes), or
// nil when the window is inside the image.
func depthwisePlane3x3[F Float](g *convGeom, img, w, dst, win []F) {
	rows, cols, _ := g.window3x3()
	src, ld := img, g.w
	if win != nil {
		src, ld = win[:rows*cols], cols
		c0, c1 := max(0, -g.pl), min(g.w, cols-g.pl) // image columns in the window
		for ih := max(0, -g.pt); ih < min(g.h, rows-g.pt); ih++ {
			copy(src[(ih+g.pt)*cols+c0+g.pl:][:c1-c0], img[ih*g.w+c0:][:c1-c0])
		}
	}
	for oh := 0; oh < g.oh; oh++ {
		r := oh * g.sh
		dwRow3x3(dst[oh*g.ow:(oh+1)*g.ow], src[r*ld:][:cols], src[(r+g.dh)*ld:][:cols], src[(r+2*g.dh)*ld:][:cols], w, g.sw)
	}
}

// dwRow3x3 writes dst[x] = Σ_{i,j<3} w[3i+j]·ri[x·sw + j].
func dwRow3x3[F Float](dst, r0, r1, r2, w []F, sw int) {
	if d, ok := any(dst).([]float32); ok {
		if dwRow3x3SIMD(d, any(r0).([]float32), any(r1).([]float32), any(r2).([]float32), any(w).([]float32), sw) {
			return
		}
	}
	w = w[:9]
	w0, w1, w2, w3, w4, w5, w6, w7, w8 := w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8]
	for x := range dst {
		i := x * sw
		a, b, c := r0[i:i+3:i+3], r1[i:i+3:i+3], r2[i:i+3:i+3]
		dst[x] = w0*a[0] + w1*a[1] + w2*a[2] + w3*b[0] + w4*b[1] + w5*b[2] + w6*c[0] + w7*c[1] + w8*c[2]
	}
}
