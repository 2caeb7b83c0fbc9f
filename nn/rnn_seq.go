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

// seqCell is a cell that can run a whole sequence itself, with its own
// layout of the per-step state (the standard LSTM, feature-major). Its
// forwardSeq starts from r.xt and fills r.hs (slots by r.slot);
// backwardSeq writes r.dxw and the recurrent gradients.
type seqCell[F Float] interface {
	runsSeq(r *rnnSeq[F]) bool
	forwardSeq(r *rnnSeq[F])
	backwardSeq(r *rnnSeq[F], dOut *Mat[F])
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
	x, dx  *Mat[F]
	n, t   int
	mask   []F        // [n, t] in input time order, or nil
	hs, cs []F        // [(t+1), n, U]: hs[slot(0)] is the zero initial state
	whole  seqCell[F] // the cell that ran the latest forward whole, or nil

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

// slot is the index in hs of the state before step s. A cell running the
// sequence whole keeps the states in input time order (backwards, the
// initial state last), so that hs[slot(0)+1 if backwards:] lines up with
// dxw's input-time rows for the recurrent weights' gradient.
func (r *rnnSeq[F]) slot(s int) int {
	if r.whole != nil && r.backward {
		return r.t - s
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

// forward runs the sequence; x and mask must have passed checkInput. The
// output goes to out when it is not nil (shaped [N, U], or [N, T, U] for
// sequence outputs).
func (r *rnnSeq[F]) forward(x *Mat[F], mask []F, out *Mat[F]) *Mat[F] {
	n, t, u := x.Shape[0], x.Shape[1], r.units
	r.x, r.n, r.t, r.mask = x, n, t, mask
	r.xt = growSlice(r.xt, n*t*r.feat)
	for row := range n {
		for ti := range t {
			copy(r.xt[(ti*n+row)*r.feat:(ti*n+row+1)*r.feat], x.Data[(row*t+ti)*r.feat:])
		}
	}
	r.whole = nil
	if sc, ok := r.cell.(seqCell[F]); ok && sc.runsSeq(r) {
		r.whole = sc
		sc.forwardSeq(r)
	} else {
		r.forwardSteps()
	}
	nu := n * u
	if out == nil {
		out = NewMat[F](r.outShape(n, t)...)
	}
	if !r.seqOut {
		copy(out.Data, r.hs[r.slot(t)*nu:])
		return out
	}
	if mask != nil {
		clear(out.Data)
	}
	for s := 0; s < t; s++ {
		h := r.hs[r.slot(s+1)*nu:]
		for row := 0; row < n; row++ {
			if !r.masked(row, s) {
				copy(out.Data[(row*t+s)*u:(row*t+s+1)*u], h[row*u:])
			}
		}
	}
	return out
}

func (r *rnnSeq[F]) outShape(n, t int) []int {
	if r.seqOut {
		return []int{n, t, r.units}
	}
	return []int{n, r.units}
}

// forwardSteps is the forward through the cell's per-step interface.
func (r *rnnSeq[F]) forwardSteps() {
	n, t, u, gu := r.n, r.t, r.units, r.cell.gates()*r.units
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
}

// backwardSteps is backpropagation through the cell's per-step interface.
func (r *rnnSeq[F]) backwardSteps(dOut *Mat[F]) {
	n, t, u, gu := r.n, r.t, r.units, r.cell.gates()*r.units
	nu := n * u
	r.dbuf = growSlice(r.dbuf, 4*nu)
	clear(r.dbuf)
	dh, dhPrev := r.dbuf[:nu], r.dbuf[nu:2*nu]
	var dc, dcPrev []F
	if r.cell.hasCellState() {
		dc, dcPrev = r.dbuf[2*nu:3*nu], r.dbuf[3*nu:]
	}
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
}

// backwardPass runs backpropagation through time and returns dLoss/dx
// (nil with skipDx).
func (r *rnnSeq[F]) backwardPass(dOut *Mat[F]) *Mat[F] {
	n, t, gu := r.n, r.t, r.cell.gates()*r.units
	r.dxw = growSlice(r.dxw, n*t*gu) // every (row, step) is written
	dxw := r.dxw
	if r.whole != nil {
		r.whole.backwardSeq(r, dOut)
	} else {
		r.backwardSteps(dOut)
	}

	if r.gw != nil && r.whole == nil { // a whole-sequence cell adds its own
		gemm(true, false, r.feat, gu, n*t, 1, r.xt, r.feat, dxw, gu, 1, r.gw.Data, gu)
	}
	if r.gb != nil && r.whole == nil {
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
	r.dx = reuse(r.dx, r.x.Shape...)
	dx := r.dx
	for row := range n {
		for ti := range t {
			copy(dx.Data[(row*t+ti)*r.feat:(row*t+ti+1)*r.feat], r.dxt[(ti*n+row)*r.feat:])
		}
	}
	return dx
}
