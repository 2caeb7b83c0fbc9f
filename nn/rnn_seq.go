package nn

import "fmt"

// rnnCell is the per-step part of a recurrent layer. Slices are batch-major
// [n, ·]: xw [n, G·U] is x·W plus the input bias for this step; h, c [n, U]
// are the hidden and (LSTM only) cell states.
type rnnCell[F Float] interface {
	gates() int
	hasCellState() bool
	// begin sizes the per-step caches for a batch of n over steps steps.
	begin(n, steps int)
	// forward computes step s's state from the previous one.
	forward(s int, xw, hPrev, cPrev, h, c []F)
	// backward takes the gradients reaching h and c at step s, writes
	// dLoss/dxw, adds to dhPrev and dcPrev and to the recurrent parameters'
	// gradients.
	backward(s int, hPrev, cPrev, h, c, dh, dc, dxw, dhPrev, dcPrev []F)
}

// rnnSeq runs a cell over a sequence [N, T, F]: the input projection x·W+b
// of every step in one product, the time loop in processing order, the
// sequence mask, and the input projection's gradient. Step s reads input
// time s, or T-1-s when backwards; sequence outputs are written in
// processing order (Keras go_backwards).
type rnnSeq[F Float] struct {
	cell             rnnCell[F]
	feat, units      int
	seqOut, backward bool
	skipDx           bool    // the input needs no gradient
	w, gw            *Mat[F] // [feat, G·U]
	b, gb            *Mat[F] // [G·U] or [2, G·U] (row 0 is the input bias); nil without bias

	// Cache of the latest forward.
	x      *Mat[F]
	n, t   int
	mask   []F // [n, t] in input time order, or nil
	hs, cs []F // [(t+1), n, U]: hs[0] is the zero initial state

	// Scratch reused across calls. xt, xw and dxw are time-major
	// [t, n, ·] (input time order), so that a step's rows are contiguous.
	xt, xw, dxw, dxt, dbuf []F
}

func (r *rnnSeq[F]) inTime(s int) int {
	if r.backward {
		return r.t - 1 - s
	}
	return s
}

func (r *rnnSeq[F]) masked(row, s int) bool {
	return r.mask != nil && r.mask[row*r.t+r.inTime(s)] == 0
}

// checkInput validates a runtime input and mask; these depend on the data,
// so a problem is an error and not a panic.
func (r *rnnSeq[F]) checkInput(x *Mat[F], mask []F) error {
	if len(x.Shape) != 3 || x.Shape[2] != r.feat || len(x.Data) != x.Shape[0]*x.Shape[1]*x.Shape[2] {
		return fmt.Errorf("recurrent layer wants input [batch, time, %d], got %v", r.feat, x.Shape)
	}
	if mask != nil && len(mask) != x.Shape[0]*x.Shape[1] {
		return fmt.Errorf("sequence mask has %d values for input %v (want batch×time = %d): "+
			"give a (batch, time) mask that matches this layer's input", len(mask), x.Shape, x.Shape[0]*x.Shape[1])
	}
	return nil
}

// forward runs the sequence; x and mask must have passed checkInput.
func (r *rnnSeq[F]) forward(x *Mat[F], mask []F) *Mat[F] {
	n, t, u, gu := x.Shape[0], x.Shape[1], r.units, r.cell.gates()*r.units
	r.x, r.n, r.t, r.mask = x, n, t, mask
	r.xt = growSlice(r.xt, n*t*r.feat)
	for row := range n {
		for ti := range t {
			copy(r.xt[(ti*n+row)*r.feat:(ti*n+row+1)*r.feat], x.Data[(row*t+ti)*r.feat:])
		}
	}
	r.xw = growSlice(r.xw, n*t*gu)
	xw := r.xw
	if r.b == nil {
		clear(xw)
	} else {
		for row := 0; row < n*t; row++ {
			copy(xw[row*gu:(row+1)*gu], r.b.Data[:gu])
		}
	}
	gemm(false, false, n*t, gu, r.feat, 1, r.xt, r.feat, r.w.Data, gu, 1, xw, gu)

	nu := n * u
	r.hs = growSlice(r.hs, (t+1)*nu)
	clear(r.hs[:nu])
	if r.cell.hasCellState() {
		r.cs = growSlice(r.cs, (t+1)*nu)
		clear(r.cs[:nu])
	}
	r.cell.begin(n, t)
	for s := 0; s < t; s++ {
		ti := r.inTime(s)
		step := xw[ti*n*gu : (ti+1)*n*gu]
		hPrev, h := r.hs[s*nu:(s+1)*nu], r.hs[(s+1)*nu:(s+2)*nu]
		var cPrev, c []F
		if r.cell.hasCellState() {
			cPrev, c = r.cs[s*nu:(s+1)*nu], r.cs[(s+1)*nu:(s+2)*nu]
		}
		r.cell.forward(s, step, hPrev, cPrev, h, c)
		for row := 0; row < n; row++ {
			if r.masked(row, s) { // keep the previous state (Keras)
				copy(h[row*u:(row+1)*u], hPrev[row*u:])
				if c != nil {
					copy(c[row*u:(row+1)*u], cPrev[row*u:])
				}
			}
		}
	}

	if !r.seqOut {
		out := NewMat[F](n, u)
		copy(out.Data, r.hs[t*nu:])
		return out
	}
	out := NewMat[F](n, t, u)
	for s := 0; s < t; s++ {
		h := r.hs[(s+1)*nu:]
		for row := 0; row < n; row++ {
			if !r.masked(row, s) {
				copy(out.Data[(row*t+s)*u:(row*t+s+1)*u], h[row*u:])
			}
		}
	}
	return out
}

// backwardPass runs backpropagation through time and returns dLoss/dx
// (nil with skipDx).
func (r *rnnSeq[F]) backwardPass(dOut *Mat[F]) *Mat[F] {
	n, t, u, gu := r.n, r.t, r.units, r.cell.gates()*r.units
	nu := n * u
	r.dbuf = growSlice(r.dbuf, 4*nu)
	clear(r.dbuf)
	dh, dhPrev := r.dbuf[:nu], r.dbuf[nu:2*nu]
	var dc, dcPrev []F
	if r.cell.hasCellState() {
		dc, dcPrev = r.dbuf[2*nu:3*nu], r.dbuf[3*nu:]
	}
	r.dxw = growSlice(r.dxw, n*t*gu) // every (row, step) is written below
	dxw := r.dxw
	if !r.seqOut {
		copy(dh, dOut.Data)
	}
	for s := t - 1; s >= 0; s-- {
		ti := r.inTime(s)
		clear(dhPrev)
		clear(dcPrev)
		for row := 0; row < n; row++ {
			if r.masked(row, s) {
				// The state passed through unchanged and the output was
				// a constant zero.
				copy(dhPrev[row*u:(row+1)*u], dh[row*u:])
				clear(dh[row*u : (row+1)*u])
				if dc != nil {
					copy(dcPrev[row*u:(row+1)*u], dc[row*u:])
					clear(dc[row*u : (row+1)*u])
				}
				continue
			}
			if r.seqOut {
				d := dOut.Data[(row*t+s)*u:]
				for j := range u {
					dh[row*u+j] += d[j]
				}
			}
		}
		var cPrev, c []F
		if r.cell.hasCellState() {
			cPrev, c = r.cs[s*nu:(s+1)*nu], r.cs[(s+1)*nu:(s+2)*nu]
		}
		r.cell.backward(s, r.hs[s*nu:(s+1)*nu], cPrev, r.hs[(s+1)*nu:(s+2)*nu], c, dh, dc, dxw[ti*n*gu:(ti+1)*n*gu], dhPrev, dcPrev)
		dh, dhPrev = dhPrev, dh
		dc, dcPrev = dcPrev, dc
	}

	if r.gw != nil {
		gemm(true, false, r.feat, gu, n*t, 1, r.xt, r.feat, dxw, gu, 1, r.gw.Data, gu)
	}
	if r.gb != nil {
		g := r.gb.Data[:gu]
		for row := 0; row < n*t; row++ {
			for j, v := range dxw[row*gu : (row+1)*gu] {
				g[j] += v
			}
		}
	}
	if r.skipDx {
		return nil
	}
	r.dxt = growSlice(r.dxt, n*t*r.feat)
	gemm(false, true, n*t, r.feat, gu, 1, dxw, gu, r.w.Data, gu, 0, r.dxt, r.feat)
	dx := NewMat[F](r.x.Shape...)
	for row := range n {
		for ti := range t {
			copy(dx.Data[(row*t+ti)*r.feat:(row*t+ti+1)*r.feat], r.dxt[(ti*n+row)*r.feat:])
		}
	}
	return dx
}
