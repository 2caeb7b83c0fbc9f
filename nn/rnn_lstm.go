package nn

import (
	"runtime"

	"github.com/retarget-dev/retarget/ir"
)

// rnnLSTMCell is the Keras LSTM cell, gates i, f, c, o along the last axis:
//
//	i = ra(xw_i + h·R_i [+ P_i⊙c_prev])    f = ra(xw_f + h·R_f [+ P_f⊙c_prev])
//	g = act(xw_c + h·R_c)                   c = f⊙c_prev + i⊙g
//	o = ra(xw_o + h·R_o [+ P_o⊙c])          h = o⊙act(c)
//
// The bracketed peephole terms are the Graves variant (P [3U]: i, f, o).
type rnnLSTMCell[F Float] struct {
	u        int
	r, gr    *Mat[F] // [U, 4U]
	p, gp    *Mat[F] // [3U] or nil
	act, rec activation[F]
	n, steps int
	z, a     []F // gate pre-activations and values [steps, n, 4U]; backward overwrites z with dLoss/dz
	ac       []F // act(c) [steps, n, U]
	hp       []F // backward: each step's hPrev [steps, n, U] for one dLoss/dR product
	zt       []F // a recurrent product in transposed form [4U, n] or [U, n]

	// R packed once per pass as the left operand (transposed products:
	// zᵀ = Rᵀ·hᵀ forward, dhᵀ = R·dzᵀ backward), instead of packing it as
	// the right operand at every step.
	rt, rb packedA[F]

	// the whole-sequence path (rnn_lstm_seq.go), which also keeps a [T, 4U,
	// N] and ac [T, U, N] in its own layout
	xh, cT, dT []F
	wrb        []F // [W; R; b] with the gate columns in the parts' order
	pk         []packedA[F]
	tail       packedA[F] // dLoss/dzᵀ for the weight gradients
	dwr        []F        // their transposes
	sp         lstmSeqPart[F]

	// One forward step's z = xw + ztᵀ, split by rows over the workers.
	fw struct {
		xw, z []F
		parts int
		wg    partsWait
	}
}

func (c *rnnLSTMCell[F]) gates() int         { return 4 }
func (c *rnnLSTMCell[F]) hasCellState() bool { return true }
func (c *rnnLSTMCell[F]) begin(n, steps int) {
	c.n, c.steps = n, steps
	c.z = growSlice(c.z, steps*n*4*c.u)
	c.a = growSlice(c.a, steps*n*4*c.u)
	c.ac = growSlice(c.ac, steps*n*c.u)
}

func (c *rnnLSTMCell[F]) forward(s int, xw, hPrev, cPrev, h, cell []F) {
	u, g := c.u, 4*c.u
	z := c.z[s*c.n*g : (s+1)*c.n*g]
	a := c.a[s*c.n*g : (s+1)*c.n*g]
	ac := c.ac[s*c.n*u : (s+1)*c.n*u]
	if s == 0 {
		c.rt.pack(true, g, u, 1, c.r.Data, g)
	}
	c.zt = growSlice(c.zt, g*c.n)
	c.rt.mul(true, c.n, hPrev, u, 0, c.zt, c.n)
	if s == c.steps-1 {
		c.rt.release()
	}
	fw := &c.fw
	fw.xw, fw.z = xw, z
	parts := min(runtime.GOMAXPROCS(0), c.n, c.n*g/parGrain)
	fw.parts = parts
	if parts > 1 {
		runParts(c, parts, &fw.wg)
	} else {
		c.runPart(0)
	}
	fw.xw, fw.z = nil, nil
	for row := 0; row < c.n; row++ {
		zr, ar := z[row*g:(row+1)*g], a[row*g:(row+1)*g]
		for j := range u {
			cp := cPrev[row*u+j]
			if c.p != nil {
				zr[j] += c.p.Data[j] * cp
				zr[u+j] += c.p.Data[u+j] * cp
			}
			i := c.rec.scalar(zr[j])
			f := c.rec.scalar(zr[u+j])
			gg := c.act.scalar(zr[2*u+j])
			cv := f*cp + i*gg
			if c.p != nil {
				zr[3*u+j] += c.p.Data[2*u+j] * cv
			}
			o := c.rec.scalar(zr[3*u+j])
			ar[j], ar[u+j], ar[2*u+j], ar[3*u+j] = i, f, gg, o
			cell[row*u+j] = cv
			ac[row*u+j] = c.act.scalar(cv)
			h[row*u+j] = o * ac[row*u+j]
		}
	}
}

func (c *rnnLSTMCell[F]) backward(s int, hPrev, cPrev, h, cell, dh, dc, dxw, dhPrev, dcPrev []F) {
	u, g := c.u, 4*c.u
	z := c.z[s*c.n*g : (s+1)*c.n*g]
	a := c.a[s*c.n*g : (s+1)*c.n*g]
	ac := c.ac[s*c.n*u : (s+1)*c.n*u]
	if s == c.steps-1 {
		c.rb.pack(false, u, g, 1, c.r.Data, g)
		if c.gr != nil {
			c.hp = growSlice(c.hp, c.steps*c.n*u)
		}
	}
	for row := 0; row < c.n; row++ {
		zr, ar, dr := z[row*g:(row+1)*g], a[row*g:(row+1)*g], dxw[row*g:(row+1)*g]
		for j := range u {
			k := row*u + j
			i, f, gg, o := ar[j], ar[u+j], ar[2*u+j], ar[3*u+j]
			cp, cv := cPrev[k], cell[k]
			dzo := dh[k] * ac[k] * c.rec.deriv(zr[3*u+j], o)
			dct := dc[k] + dh[k]*o*c.act.deriv(cv, ac[k])
			if c.p != nil {
				dct += dzo * c.p.Data[2*u+j]
			}
			dzi := dct * gg * c.rec.deriv(zr[j], i)
			dzf := dct * cp * c.rec.deriv(zr[u+j], f)
			dzg := dct * i * c.act.deriv(zr[2*u+j], gg)
			dcPrev[k] += dct * f
			if c.p != nil {
				dcPrev[k] += dzi*c.p.Data[j] + dzf*c.p.Data[u+j]
				if c.gp != nil {
					c.gp.Data[j] += dzi * cp
					c.gp.Data[u+j] += dzf * cp
					c.gp.Data[2*u+j] += dzo * cv
				}
			}
			dr[j], dr[u+j], dr[2*u+j], dr[3*u+j] = dzi, dzf, dzg, dzo
		}
	}
	c.zt = growSlice(c.zt, u*c.n)
	c.rb.mul(true, c.n, dxw, g, 0, c.zt, c.n)
	addTransposed(dhPrev, dhPrev, c.zt, c.n, c.n, u)
	if c.gr != nil {
		// dLoss/dR = Σ_s hPrev_sᵀ·dz_s as one product over all steps
		copy(c.hp[s*c.n*u:], hPrev[:c.n*u])
		copy(z, dxw)
		if s == 0 {
			gemm(true, false, u, g, c.steps*c.n, 1, c.hp, u, c.z, g, 1, c.gr.Data, g)
		}
	}
	if s == 0 {
		c.rb.release()
	}
}

// runPart is rows [n·i/parts, n·(i+1)/parts) of z = xw + ztᵀ in c.fw.
func (c *rnnLSTMCell[F]) runPart(i int) {
	fw, g := &c.fw, 4*c.u
	parts := max(fw.parts, 1)
	lo, hi := c.n*i/parts, c.n*(i+1)/parts
	addTransposed(fw.z[lo*g:hi*g], fw.xw[lo*g:hi*g], c.zt[lo:], hi-lo, c.n, g)
}

// addTransposed writes dst = a + tᵀ for dst and a [n, m] and t [m, ldt]
// (its first n columns); dst and a may alias.
func addTransposed[F Float](dst, a, t []F, n, ldt, m int) {
	for r := range n {
		d, ar := dst[r*m:(r+1)*m], a[r*m:(r+1)*m]
		for j := range d {
			d[j] = ar[j] + t[j*ldt+r]
		}
	}
}

// std reports the common cell (tanh, sigmoid, no peephole), which runs
// whole sequences (rnn_lstm_seq.go) with dedicated loops: the per-element
// activation switch and float64 library calls cost more than the recurrent
// product.
func (c *rnnLSTMCell[F]) std() bool {
	return c.p == nil && c.act.kind == ir.ActTanh && c.rec.kind == ir.ActSigmoid
}
