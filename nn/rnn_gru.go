package nn

// rnnGRUCell is the Keras GRU cell, gates z, r, h along the last axis:
//
//	z = ra(xw_z + h·R_z + br_z)    r = ra(xw_r + h·R_r + br_r)
//	reset after:  hh = act(xw_h + r⊙(h·R_h + br_h))
//	reset before: hh = act(xw_h + (r⊙h)·R_h)
//	h' = z⊙h + (1-z)⊙hh
//
// br is row 1 of b [2, 3U] (reset after only); row 0 is in xw already.
type rnnGRUCell[F Float] struct {
	u          int
	resetAfter bool
	r, gr      *Mat[F] // [U, 3U]
	br         []F     // recurrent bias [3U] or nil
	gb         *Mat[F] // gradient of the whole bias [2, 3U] (second row: br) or nil
	act, rec   activation[F]
	n          int
	z, a       []F // pre-activations and values of z, r, hh [steps, n, 3U]
	rh         []F // reset after: h·R_h + br_h; before: r⊙h [steps, n, U]
	scratch    []F // per-step [n, 3U]
}

func (c *rnnGRUCell[F]) gates() int         { return 3 }
func (c *rnnGRUCell[F]) hasCellState() bool { return false }
func (c *rnnGRUCell[F]) begin(n, steps int) {
	c.n = n
	c.z = growSlice(c.z, steps*n*3*c.u)
	c.a = growSlice(c.a, steps*n*3*c.u)
	c.rh = growSlice(c.rh, steps*n*c.u)
}

func (c *rnnGRUCell[F]) forward(s int, xw, hPrev, _, h, _ []F) {
	u, g := c.u, 3*c.u
	z := c.z[s*c.n*g : (s+1)*c.n*g]
	a := c.a[s*c.n*g : (s+1)*c.n*g]
	rh := c.rh[s*c.n*u : (s+1)*c.n*u]
	copy(z, xw)
	if c.resetAfter {
		c.scratch = growSlice(c.scratch, c.n*g)
		rec := c.scratch
		if c.br == nil {
			clear(rec)
		}
		for row := 0; row < c.n && c.br != nil; row++ {
			copy(rec[row*g:(row+1)*g], c.br)
		}
		gemm(false, false, c.n, g, u, 1, hPrev, u, c.r.Data, g, 1, rec, g)
		for row := 0; row < c.n; row++ {
			zr, ar, rr := z[row*g:(row+1)*g], a[row*g:(row+1)*g], rec[row*g:(row+1)*g]
			for j := range u {
				zr[j] += rr[j]
				zr[u+j] += rr[u+j]
				ar[j] = c.rec.scalar(zr[j])
				ar[u+j] = c.rec.scalar(zr[u+j])
				rh[row*u+j] = rr[2*u+j]
				zr[2*u+j] += ar[u+j] * rr[2*u+j]
			}
		}
	} else {
		gemm(false, false, c.n, 2*u, u, 1, hPrev, u, c.r.Data, g, 1, z, g)
		for row := 0; row < c.n; row++ {
			zr, ar := z[row*g:(row+1)*g], a[row*g:(row+1)*g]
			for j := range u {
				ar[j] = c.rec.scalar(zr[j])
				ar[u+j] = c.rec.scalar(zr[u+j])
				rh[row*u+j] = ar[u+j] * hPrev[row*u+j]
			}
		}
		gemm(false, false, c.n, u, u, 1, rh, u, c.r.Data[2*u:], g, 1, z[2*u:], g)
	}
	for row := 0; row < c.n; row++ {
		zr, ar := z[row*g:(row+1)*g], a[row*g:(row+1)*g]
		for j := range u {
			hh := c.act.scalar(zr[2*u+j])
			ar[2*u+j] = hh
			zz := ar[j]
			h[row*u+j] = zz*hPrev[row*u+j] + (1-zz)*hh
		}
	}
}

func (c *rnnGRUCell[F]) backward(s int, hPrev, _, _, _, dh, _, dxw, dhPrev, _ []F) {
	u, g := c.u, 3*c.u
	z := c.z[s*c.n*g : (s+1)*c.n*g]
	a := c.a[s*c.n*g : (s+1)*c.n*g]
	rh := c.rh[s*c.n*u : (s+1)*c.n*u]
	// dxw holds dLoss/d(pre-activation) of z, r, hh; the r part is filled
	// once the gradient reaching r is known.
	for row := 0; row < c.n; row++ {
		zr, ar, dr := z[row*g:(row+1)*g], a[row*g:(row+1)*g], dxw[row*g:(row+1)*g]
		for j := range u {
			k := row*u + j
			zz, hh := ar[j], ar[2*u+j]
			dr[j] = dh[k] * (hPrev[k] - hh) * c.rec.deriv(zr[j], zz)
			dr[2*u+j] = dh[k] * (1 - zz) * c.act.deriv(zr[2*u+j], hh)
			dhPrev[k] += dh[k] * zz
		}
	}
	if c.resetAfter {
		c.scratch = growSlice(c.scratch, c.n*g)
		drec := c.scratch // dLoss/d(h·R + br), every entry written below
		for row := 0; row < c.n; row++ {
			zr, ar, dr, dq := z[row*g:(row+1)*g], a[row*g:(row+1)*g], dxw[row*g:(row+1)*g], drec[row*g:(row+1)*g]
			for j := range u {
				dzh := dr[2*u+j]
				dr[u+j] = dzh * rh[row*u+j] * c.rec.deriv(zr[u+j], ar[u+j])
				dq[j], dq[u+j], dq[2*u+j] = dr[j], dr[u+j], dzh*ar[u+j]
			}
		}
		if c.gr != nil {
			gemm(true, false, u, g, c.n, 1, hPrev, u, drec, g, 1, c.gr.Data, g)
		}
		if c.gb != nil {
			gbr := c.gb.Data[g:]
			for row := 0; row < c.n; row++ {
				for j, v := range drec[row*g : (row+1)*g] {
					gbr[j] += v
				}
			}
		}
		gemm(false, true, c.n, u, g, 1, drec, g, c.r.Data, g, 1, dhPrev, u)
		return
	}
	c.scratch = growSlice(c.scratch, c.n*u)
	drh := c.scratch // dLoss/d(r⊙h)
	clear(drh)
	gemm(false, true, c.n, u, u, 1, dxw[2*u:], g, c.r.Data[2*u:], g, 1, drh, u)
	for row := 0; row < c.n; row++ {
		zr, ar, dr := z[row*g:(row+1)*g], a[row*g:(row+1)*g], dxw[row*g:(row+1)*g]
		for j := range u {
			k := row*u + j
			dr[u+j] = drh[k] * hPrev[k] * c.rec.deriv(zr[u+j], ar[u+j])
			dhPrev[k] += drh[k] * ar[u+j]
		}
	}
	if c.gr != nil {
		gemm(true, false, u, 2*u, c.n, 1, hPrev, u, dxw, g, 1, c.gr.Data, g)
		gemm(true, false, u, u, c.n, 1, rh, u, dxw[2*u:], g, 1, c.gr.Data[2*u:], g)
	}
	gemm(false, true, c.n, u, 2*u, 1, dxw, g, c.r.Data, g, 1, dhPrev, u)
}
