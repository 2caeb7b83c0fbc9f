package nn

// rnnSimpleCell: h = act(xw + hPrev·R).
type rnnSimpleCell[F Float] struct {
	u     int
	r, gr *Mat[F] // [U, U]; gr nil when frozen
	act   activation[F]
	n     int
	z     []F // pre-activations [steps, n, U]
}

func (c *rnnSimpleCell[F]) gates() int         { return 1 }
func (c *rnnSimpleCell[F]) hasCellState() bool { return false }
func (c *rnnSimpleCell[F]) begin(n, steps int) { c.n, c.z = n, growSlice(c.z, steps*n*c.u) }

func (c *rnnSimpleCell[F]) forward(s int, xw, hPrev, _, h, _ []F) {
	nu := c.n * c.u
	z := c.z[s*nu : (s+1)*nu]
	copy(z, xw)
	gemm(false, false, c.n, c.u, c.u, 1, hPrev, c.u, c.r.Data, c.u, 1, z, c.u)
	for i, v := range z {
		h[i] = c.act.scalar(v)
	}
}

func (c *rnnSimpleCell[F]) backward(s int, hPrev, _, h, _, dh, _, dxw, dhPrev, _ []F) {
	nu := c.n * c.u
	z := c.z[s*nu : (s+1)*nu]
	for i, d := range dh {
		dxw[i] = d * c.act.deriv(z[i], h[i])
	}
	if c.gr != nil {
		gemm(true, false, c.u, c.u, c.n, 1, hPrev, c.u, dxw, c.u, 1, c.gr.Data, c.u)
	}
	gemm(false, true, c.n, c.u, c.u, 1, dxw, c.u, c.r.Data, c.u, 1, dhPrev, c.u)
}
