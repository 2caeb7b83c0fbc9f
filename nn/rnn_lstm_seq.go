package nn

import (
	"math"
	"runtime"
)

// The standard LSTM cell (tanh, sigmoid, no peephole) runs whole
// sequences feature-major, one parallel region per step (a stepTeam). The
// units are split into parts and the gate columns of W, R and b reordered
// so that part p's gate rows [4·u0, 4·u1) are its units' i, f, c, o rows.
// Each part computes its rows of z_sᵀ = [W; R]ᵀ·[x; hPrev]ᵀ with its own
// packed slice of the weights (the input projection rides along with the
// recurrent product; the batch is the micro-kernel's 32 columns), then its
// units' gates, the bias added there. Backward, each part computes its rows
// of dLoss/dz_s, then multiplies them by its columns of R into its own
// partial dLoss/dhPrev; the next step sums the parts' partials for its
// units. Per step, nothing is packed but the product's small right
// operand, the data a part reads are mostly its own, and the batch-major
// copies that the outputs and the weight gradients need (r.hs, r.dxw) are
// transposed from cache.
//
// Storage, [·, N] blocks contiguous per step in processing order:
// xh [T+1, F+U, N] (x at the step's input time, hPrev), a [T, 4U, N] the
// gates (pre-activations, then gate values, then dLoss/dz), cT [T+1, U, N]
// the cell state before step s, ac [T, U, N] tanh(c) after step s.

// lstmSeqPart is the state of the parallel steps.
type lstmSeqPart[F Float] struct {
	c     *rnnLSTMCell[F]
	r     *rnnSeq[F]
	s     int
	parts int
	back  bool
	dOut  []F // backward: the layer's output gradient when it is the sequence
	team  stepTeam
}

// lstmWholeSeq enables the whole-sequence path (tests turn it off to
// compare it with the per-step one).
var lstmWholeSeq = true

func (c *rnnLSTMCell[F]) runsSeq(*rnnSeq[F]) bool { return lstmWholeSeq && c.std() }

// units is part i's units [u0, u1).
func (p *lstmSeqPart[F]) units(i int) (int, int) {
	u := p.c.u
	return u * i / p.parts, u * (i + 1) / p.parts
}

// reorder copies part i's gate columns of src [rows, 4U] into dst, in the
// parts' order.
func (p *lstmSeqPart[F]) reorder(i int, dst, src []F, rows int) {
	u, g := p.c.u, 4*p.c.u
	u0, u1 := p.units(i)
	for r := range rows {
		d, s := dst[r*g+4*u0:], src[r*g:]
		for q := range 4 {
			copy(d[q*(u1-u0):(q+1)*(u1-u0)], s[q*u+u0:q*u+u1])
		}
	}
}

// fillX writes rows [f0, f1) of the input at step s's time into xh's block
// s.
func (c *rnnLSTMCell[F]) fillX(r *rnnSeq[F], s, f0, f1 int) {
	n, t, feat := r.n, r.t, r.feat
	b, ti := c.xh[s*(feat+c.u)*n:], r.inTime(s)
	for row := range n {
		for f, v := range r.x.Data[(row*t+ti)*feat+f0 : (row*t+ti)*feat+f1] {
			b[(f0+f)*n+row] = v
		}
	}
}

func (c *rnnLSTMCell[F]) forwardSeq(r *rnnSeq[F]) {
	n, t, u, g, k := r.n, r.t, c.u, 4*c.u, r.feat+c.u
	nu := n * u
	sp := &c.sp
	sp.c, sp.r, sp.back = c, r, false
	// a part per thread (two per thread measured 5% slower, smaller
	// products and more partial sums)
	sp.parts = max(1, min(runtime.GOMAXPROCS(0), c.u, n*g*8/parGrain))
	c.wrb = growSlice(c.wrb, (k+1)*g)
	c.xh = growSlice(c.xh, (t+1)*k*n)
	c.fillX(r, 0, 0, r.feat)
	clear(c.xh[r.feat*n : k*n])
	r.hs = growSlice(r.hs, (t+1)*nu)
	clear(r.hs[r.slot(0)*nu:][:nu])
	c.a = growSlice(c.a, t*g*n)
	c.cT = growSlice(c.cT, (t+1)*nu)
	c.ac = growSlice(c.ac, t*nu)
	clear(c.cT[:nu])
	c.pk = growSlice(c.pk, sp.parts)
	sp.team.start(sp, sp.parts)
	for s := range t {
		sp.s = s
		sp.team.step()
	}
	sp.team.stop()
	for i := range c.pk {
		c.pk[i].release()
	}
}

func (c *rnnLSTMCell[F]) backwardSeq(r *rnnSeq[F], dOut *Mat[F]) {
	n, t, u, g := r.n, r.t, c.u, 4*c.u
	nu := n * u
	sp := &c.sp
	sp.back, sp.dOut = true, nil
	if r.seqOut {
		sp.dOut = dOut.Data
	}
	// dT: dLoss/dc [U, N], then two sets (alternate steps) of the parts'
	// partial dLoss/dh [U, N]
	c.dT = growSlice(c.dT, (1+2*sp.parts)*nu)
	clear(c.dT)
	if !r.seqOut {
		dh := c.dT[nu+t%2*sp.parts*nu:] // read as step t's partials
		for row := range n {
			for j, v := range dOut.Data[row*u : (row+1)*u] {
				dh[j*n+row] = v
			}
		}
	}
	sp.team.start(sp, sp.parts)
	for s := t - 1; s >= 0; s-- {
		sp.s = s
		sp.team.step()
	}
	sp.team.stop()
	for i := range c.pk {
		c.pk[i].release()
	}
	sp.dOut = nil
	// dLoss/dW = Σ xᵀ·dz and dLoss/dR = Σ hPrevᵀ·dz over all steps, as
	// dzᵀ·x and dzᵀ·hPrev with dzᵀ packed once (the 4U rows suit the
	// micro-kernel): r.hs from slot(0) or, backwards, the slot after it
	// holds each input time's hPrev, as dxw's rows.
	if r.gw == nil && c.gr == nil {
		return
	}
	c.tail.pack(true, g, t*n, 1, r.dxw, g)
	c.dwr = growSlice(c.dwr, g*(r.feat+u))
	if r.gw != nil {
		c.tail.mul(false, r.feat, r.xt, r.feat, 0, c.dwr, r.feat)
		addTransposed(r.gw.Data, r.gw.Data, c.dwr, r.feat, r.feat, g)
	}
	if c.gr != nil {
		off := 0
		if r.backward {
			off = nu
		}
		c.tail.mul(false, u, r.hs[off:], u, 0, c.dwr, u)
		addTransposed(c.gr.Data, c.gr.Data, c.dwr, u, u, g)
	}
	c.tail.release()
}

// runPart is step s of part i. The first step of a pass also reorders and
// packs the part's weights; each forward step brings in part of the next
// step's input.
func (p *lstmSeqPart[F]) runPart(i int) {
	c, r := p.c, p.r
	n, t, u, g, k := r.n, r.t, c.u, 4*c.u, r.feat+c.u
	nu, s, ti := n*u, p.s, r.inTime(p.s)
	u0, u1 := p.units(i)
	m := u1 - u0
	z := c.a[(s*g+4*u0)*n : (s*g+4*u1)*n] // this part's gate rows of step s
	gate := func(q, jj int) []F { return z[(q*m+jj)*n:][:n] }
	bias := c.wrb[k*g+4*u0:] // reordered b, when there is one
	if p.back {
		if s == t-1 {
			c.pk[i].serial = true
			c.pk[i].pack(false, u, 4*m, 1, c.wrb[r.feat*g+4*u0:], g)
		}
		// dLoss/dh of these units: the sum of the parts' partials from
		// step s+1 (or the output gradient at the last step)
		par := p.parts * nu
		cur, next := c.dT[nu+(s+1)%2*par:], c.dT[nu+s%2*par:]
		dh := cur[u0*n : u1*n]
		for q := 1; q < p.parts; q++ {
			for x, v := range cur[q*nu+u0*n : q*nu+u1*n] {
				dh[x] += v
			}
		}
		bwd, ok := any(lstmUnitBackward32).(func(ai, af, ag, ao, ac, cp, dh, dc, dOut []F, dOutStride int, keep []F, keepStride int) [4]F)
		if !ok {
			bwd = lstmUnitBackward[F]
		}
		var keep []F
		if r.mask != nil {
			keep = r.mask[ti:]
		}
		for j := u0; j < u1; j++ {
			jj := j - u0
			var dOut []F
			if p.dOut != nil {
				dOut = p.dOut[s*u+j:]
			}
			db := bwd(gate(0, jj), gate(1, jj), gate(2, jj), gate(3, jj),
				c.ac[s*nu+j*n:][:n], c.cT[s*nu+j*n:][:n], dh[jj*n:][:n], c.dT[j*n:][:n], dOut, t*u, keep, t)
			if r.gb != nil {
				for q, v := range db {
					r.gb.Data[q*u+j] += v
				}
			}
		}
		for q := range 4 {
			transposeTo(r.dxw[ti*n*g+q*u+u0:], g, z[q*m*n:], n, n, m)
		}
		c.pk[i].mul(false, n, z, n, 0, next[i*nu:(i+1)*nu], n)
		for row := range n {
			if r.masked(row, s) { // the state passed through (dz is 0)
				for jj := range m {
					next[i*nu+(u0+jj)*n+row] = dh[jj*n+row]
				}
			}
		}
		return
	}
	if s == 0 {
		p.reorder(i, c.wrb, r.w.Data, r.feat)
		p.reorder(i, c.wrb[r.feat*g:], c.r.Data, u)
		if r.b != nil {
			p.reorder(i, c.wrb[k*g:], r.b.Data[:g], 1)
		}
		c.pk[i].serial = true
		c.pk[i].pack(true, 4*m, k, 1, c.wrb[4*u0:], g)
	}
	xh := c.xh[(s+1)*k*n:]
	c.pk[i].mul(false, n, c.xh[s*k*n:], n, 0, z, n)
	if s+1 < t {
		c.fillX(r, s+1, r.feat*i/p.parts, r.feat*(i+1)/p.parts)
	}
	fwd, ok := any(lstmUnitForward32).(func(zi, zf, zg, zo, cp, cv, ac, h []F, bi, bf, bg, bo F))
	if !ok {
		fwd = lstmUnitForward[F]
	}
	for j := u0; j < u1; j++ {
		jj := j - u0
		var bi, bf, bg, bo F
		if r.b != nil {
			bi, bf, bg, bo = bias[jj], bias[m+jj], bias[2*m+jj], bias[3*m+jj]
		}
		fwd(gate(0, jj), gate(1, jj), gate(2, jj), gate(3, jj),
			c.cT[s*nu+j*n:][:n], c.cT[(s+1)*nu+j*n:][:n], c.ac[s*nu+j*n:][:n], xh[(r.feat+j)*n:][:n], bi, bf, bg, bo)
	}
	for row := range n {
		if r.masked(row, s) { // keep the previous state (Keras)
			for j := u0; j < u1; j++ {
				xh[(r.feat+j)*n+row] = c.xh[s*k*n+(r.feat+j)*n+row]
				c.cT[(s+1)*nu+j*n+row] = c.cT[s*nu+j*n+row]
			}
		}
	}
	transposeTo(r.hs[r.slot(s+1)*nu+u0:], u, xh[(r.feat+u0)*n:], n, n, m)
}

// lstmUnitForward is one unit's gates over the batch: zi..zo hold the
// pre-activations less the biases bi..bo and get the gate values;
// cv = f⊙cp + i⊙g, ac = tanh(cv), h = o⊙ac.
func lstmUnitForward[F Float](zi, zf, zg, zo, cp, cv, ac, h []F, bi, bf, bg, bo F) {
	for k := range h {
		i := F(sigmoid(float64(zi[k] + bi)))
		f := F(sigmoid(float64(zf[k] + bf)))
		gg := F(math.Tanh(float64(zg[k] + bg)))
		o := F(sigmoid(float64(zo[k] + bo)))
		zi[k], zf[k], zg[k], zo[k] = i, f, gg, o
		cv[k] = f*cp[k] + i*gg
		ac[k] = F(math.Tanh(float64(cv[k])))
		h[k] = o * ac[k]
	}
}

func lstmUnitForward32(zi, zf, zg, zo, cp, cv, ac, h []float32, bi, bf, bg, bo float32) {
	k0 := lstmGatesSIMD(zi, zf, zg, zo, cp, cv, ac, h, bi, bf, bg, bo)
	if k0 == len(h) {
		return
	}
	zi, zf, zg, zo, cp, cv, ac, h = zi[k0:], zf[k0:], zg[k0:], zo[k0:], cp[k0:], cv[k0:], ac[k0:], h[k0:]
	for k := range h {
		zi[k] += bi
		zf[k] += bf
		zg[k] += bg
		zo[k] += bo
	}
	expScaled32(zi, zi[:len(h)], -1)
	expScaled32(zf, zf[:len(h)], -1)
	expScaled32(zg, zg[:len(h)], 2)
	expScaled32(zo, zo[:len(h)], -1)
	for k := range h {
		i := 1 / (1 + zi[k])
		f := 1 / (1 + zf[k])
		gg := 1 - 2/(1+zg[k])
		zi[k], zf[k], zg[k] = i, f, gg
		cv[k] = f*cp[k] + i*gg
	}
	expScaled32(ac, cv, 2)
	for k := range h {
		t := 1 - 2/(1+ac[k])
		o := 1 / (1 + zo[k])
		zo[k], ac[k] = o, t
		h[k] = o * t
	}
}

// lstmUnitBackward is one unit's backward over the batch from the gate
// values ai..ao (overwritten with dLoss/dz): dh and dc reach h and c, and
// dc gets dLoss/dcPrev. dOut (rows dOutStride apart), when not nil, adds
// to dh. A row whose keep (rows keepStride apart, nil for all) is 0 was
// masked: its dLoss/dz is 0 and dc passes through. It returns the sums of
// dLoss/dz over the batch (the bias gradients).
func lstmUnitBackward[F Float](ai, af, ag, ao, ac, cp, dh, dc, dOut []F, dOutStride int, keep []F, keepStride int) (db [4]F) {
	for k := range dh {
		if keep != nil && keep[k*keepStride] == 0 {
			ai[k], af[k], ag[k], ao[k] = 0, 0, 0, 0
			continue
		}
		i, f, gg, o, t := ai[k], af[k], ag[k], ao[k], ac[k]
		d := dh[k]
		if dOut != nil {
			d += dOut[k*dOutStride]
		}
		dzo := d * t * o * (1 - o)
		dct := dc[k] + d*o*(1-t*t)
		di, df, dg := dct*gg*i*(1-i), dct*cp[k]*f*(1-f), dct*i*(1-gg*gg)
		ai[k], af[k], ag[k], ao[k] = di, df, dg, dzo
		db[0], db[1], db[2], db[3] = db[0]+di, db[1]+df, db[2]+dg, db[3]+dzo
		dc[k] = dct * f
	}
	return db
}

func lstmUnitBackward32(ai, af, ag, ao, ac, cp, dh, dc, dOut []float32, dOutStride int, keep []float32, keepStride int) (db [4]float32) {
	if dOut != nil || keep != nil {
		return lstmUnitBackward(ai, af, ag, ao, ac, cp, dh, dc, dOut, dOutStride, keep, keepStride)
	}
	k := lstmGatesBackSIMD(ai, af, ag, ao, ac, cp, dh, dc, &db)
	rest := lstmUnitBackward(ai[k:], af[k:], ag[k:], ao[k:], ac[k:], cp[k:], dh[k:], dc[k:], nil, 0, nil, 0)
	for q := range db {
		db[q] += rest[q]
	}
	return db
}

// transposeTo writes dst[i·ldd + j] = src[j·lds + i] for i < rows, j <
// cols, four rows at a time so that each read takes four consecutive
// values and the writes run along the rows (as packBT).
func transposeTo[F Float](dst []F, ldd int, src []F, lds, rows, cols int) {
	i := 0
	for ; i+4 <= rows; i += 4 {
		d0, d1 := dst[i*ldd:][:cols], dst[(i+1)*ldd:][:cols]
		d2, d3 := dst[(i+2)*ldd:][:cols], dst[(i+3)*ldd:][:cols]
		for j := range d0 {
			v := src[j*lds+i:][:4]
			d0[j], d1[j], d2[j], d3[j] = v[0], v[1], v[2], v[3]
		}
	}
	for ; i < rows; i++ {
		d := dst[i*ldd:][:cols]
		for j := range d {
			d[j] = src[j*lds+i]
		}
	}
}
