package nn

import (
	"github.com/retarget-dev/retarget/ir"
)

// einsumOp is TensorEinsum of one or two operands. Forward and Backward
// walk the same index space (every letter): y[o] += a[i]·b[j] forward,
// da[i] += dy[o]·b[j] and db[j] += dy[o]·a[i] backward (the rewritten
// equations "out,b->a" and "a,out->b", which also cover letters repeated in
// an operand (diagonals) and letters summed out of one operand alone).
type einsumOp[F Float] struct {
	terms []string
	out   string
	need  [2]bool

	shapes  [][]int
	letters []rune // output letters first, then the summed ones
	sizes   []int
	st      [3][]int // per letter: stride in operand 0, operand 1, output
	outSh   []int
	xs      [2]*Mat[F]
	y       *Mat[F]
	dx      [2]*Mat[F]
	dIns    [2]*Mat[F]
	mm      *einsumProduct[F] // two operands as batched products; nil: walk
}

// einsumProduct runs a two-operand einsum whose letters each sit in two of
// (a, b, output), none repeated in an operand, as batched matrix products:
// a permuted to [batch, left, summed], b to [batch, summed, right], the
// product [batch, left, right] permuted to the output.
type einsumProduct[F Float] struct {
	permA, permB, permY []int
	shA, shB, shMid     []int // the permuted shapes
	nb, nl, nk, nr      int
	a, b, mid, dmid     []F
	da, db              []F
}

func newEinsumProduct[F Float](terms []string, out string, size map[rune]int) *einsumProduct[F] {
	in := func(term string, r rune) int { // the axis of label r, -1 if none
		for k, q := range []rune(term) {
			if q == r {
				return k
			}
		}
		return -1
	}
	for _, t := range terms {
		seen := map[rune]bool{}
		for _, r := range t {
			if seen[r] {
				return nil // a diagonal
			}
			seen[r] = true
		}
	}
	var bl, ll, rl, kl []rune
	for _, r := range out {
		ia, ib := in(terms[0], r) >= 0, in(terms[1], r) >= 0
		switch {
		case ia && ib:
			bl = append(bl, r)
		case ia:
			ll = append(ll, r)
		default:
			rl = append(rl, r)
		}
	}
	for _, r := range terms[0] {
		if in(out, r) < 0 {
			if in(terms[1], r) < 0 {
				return nil // summed out of a alone
			}
			kl = append(kl, r)
		}
	}
	for _, r := range terms[1] {
		if in(out, r) < 0 && in(terms[0], r) < 0 {
			return nil
		}
	}
	e := &einsumProduct[F]{nb: 1, nl: 1, nk: 1, nr: 1}
	prodOf := func(ls []rune) int {
		p := 1
		for _, r := range ls {
			p *= size[r]
		}
		return p
	}
	e.nb, e.nl, e.nk, e.nr = prodOf(bl), prodOf(ll), prodOf(kl), prodOf(rl)
	order := func(term string, groups ...[]rune) (perm, shape []int) {
		for _, g := range groups {
			for _, r := range g {
				perm = append(perm, in(term, r))
				shape = append(shape, size[r])
			}
		}
		return perm, shape
	}
	e.permA, e.shA = order(terms[0], bl, ll, kl)
	e.permB, e.shB = order(terms[1], bl, kl, rl)
	mid := string(bl) + string(ll) + string(rl)
	e.permY, _ = order(mid, []rune(out))
	_, e.shMid = order(mid, []rune(mid))
	return e
}

func identityPerm(p []int) bool {
	for i, v := range p {
		if i != v {
			return false
		}
	}
	return true
}

// einsumPermuted returns src (of shape) permuted by perm into buf, or src itself
// when perm keeps the order.
func einsumPermuted[F Float](buf *[]F, src []F, shape, perm []int) []F {
	if identityPerm(perm) {
		return src
	}
	*buf = growSlice(*buf, len(src))
	transposeND(*buf, src, shape, perm)
	return *buf
}

func (e *einsumProduct[F]) forward(a, b *Mat[F], y []F) {
	pa := einsumPermuted(&e.a, a.Data, a.Shape, e.permA)
	pb := einsumPermuted(&e.b, b.Data, b.Shape, e.permB)
	e.a, e.b = pa, pb
	mid := y
	if !identityPerm(e.permY) {
		e.mid = growSlice(e.mid, len(y))
		mid = e.mid
	}
	l, k, r := e.nl, e.nk, e.nr
	for i := 0; i < e.nb; i++ {
		gemm(false, false, l, r, k, 1, pa[i*l*k:], k, pb[i*k*r:], r, 0, mid[i*l*r:], r)
	}
	if !identityPerm(e.permY) {
		transposeND(y, mid, e.shMid, e.permY)
	}
}

// backward writes the gradients of a and b (nil: not needed) from dy.
func (e *einsumProduct[F]) backward(dy []F, outShape []int, da, db *Mat[F]) {
	dm := einsumPermuted(&e.dmid, dy, outShape, inversePerm(e.permY))
	l, k, r := e.nl, e.nk, e.nr
	if da != nil {
		e.da = growSlice(e.da, len(da.Data))
		for i := 0; i < e.nb; i++ { // dA = dY·Bᵀ
			gemm(false, true, l, k, r, 1, dm[i*l*r:], r, e.b[i*k*r:], r, 0, e.da[i*l*k:], k)
		}
		transposeND(da.Data, e.da, e.shA, inversePerm(e.permA))
	}
	if db != nil {
		e.db = growSlice(e.db, len(db.Data))
		for i := 0; i < e.nb; i++ { // dB = Aᵀ·dY
			gemm(true, false, k, r, l, 1, e.a[i*l*k:], k, dm[i*l*r:], r, 0, e.db[i*k*r:], r)
		}
		transposeND(db.Data, e.db, e.shB, inversePerm(e.permB))
	}
}

func newTensorEinsum[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	t := v.Layer.(*ir.TensorEinsum)
	if _, err := t.OutputShape(in); err != nil {
		return nil, err
	}
	terms, o, _ := t.Terms(ranksOf(in))
	return &einsumOp[F]{terms: terms, out: o, need: [2]bool{true, true}}, nil
}

func (o *einsumOp[F]) SkipInputGrads(need []bool) { copy(o.need[:], need) }

func (o *einsumOp[F]) setup(in []*Mat[F]) {
	if len(o.shapes) == len(in) {
		same := true
		for i, x := range in {
			same = same && ir.SameShape(o.shapes[i], x.Shape)
		}
		if same {
			return
		}
	}
	o.shapes = o.shapes[:0]
	size := map[rune]int{}
	for i, x := range in {
		o.shapes = append(o.shapes, append([]int(nil), x.Shape...))
		for k, r := range []rune(o.terms[i]) {
			size[r] = max(size[r], x.Shape[k]) // an ellipsis axis of size 1 broadcasts
		}
	}
	o.letters = []rune(o.out)
	inOut := map[rune]bool{}
	for _, r := range o.out {
		inOut[r] = true
	}
	for _, term := range o.terms {
		for _, r := range term {
			if !inOut[r] {
				inOut[r] = true
				o.letters = append(o.letters, r)
			}
		}
	}
	o.sizes = o.sizes[:0]
	for _, r := range o.letters {
		o.sizes = append(o.sizes, size[r])
	}
	o.outSh = o.outSh[:0]
	for _, r := range o.out {
		o.outSh = append(o.outSh, size[r])
	}
	o.mm = nil
	broadcast := false
	for i, x := range in {
		for k, r := range []rune(o.terms[i]) {
			broadcast = broadcast || x.Shape[k] != size[r]
		}
	}
	if len(in) == 2 && !broadcast {
		o.mm = newEinsumProduct[F](o.terms, o.out, size)
	}
	labels := append(append([]string{}, o.terms...), o.out)
	if len(o.terms) == 1 {
		labels = []string{o.terms[0], "", o.out}
	}
	for t, term := range labels {
		var sh []int
		switch {
		case t == 2:
			sh = o.outSh
		case t < len(in):
			sh = in[t].Shape
		}
		str := strides(sh)
		o.st[t] = make([]int, len(o.letters))
		for k, r := range []rune(term) {
			for l, q := range o.letters {
				if q == r && sh[k] == o.sizes[l] { // a broadcast axis of size 1 stays put
					o.st[t][l] += str[k] // a repeated letter walks the diagonal
				}
			}
		}
	}
}

// walk calls f(i, j, k) for every combination of the letters: i, j, k are
// the indices in operand 0, operand 1 and the output.
func (o *einsumOp[F]) walk(f func(lo, hi, i, j, k, si, sj, sk int)) {
	n := len(o.letters)
	total := 1
	for _, s := range o.sizes {
		total *= s
	}
	if total == 0 {
		return
	}
	if n == 0 {
		f(0, 1, 0, 0, 0, 0, 0, 0)
		return
	}
	last := n - 1
	pos := make([]int, n)
	i, j, k := 0, 0, 0
	for {
		f(0, o.sizes[last], i, j, k, o.st[0][last], o.st[1][last], o.st[2][last])
		a := last - 1
		for ; a >= 0; a-- {
			pos[a]++
			i += o.st[0][a]
			j += o.st[1][a]
			k += o.st[2][a]
			if pos[a] < o.sizes[a] {
				break
			}
			i -= o.st[0][a] * pos[a]
			j -= o.st[1][a] * pos[a]
			k -= o.st[2][a] * pos[a]
			pos[a] = 0
		}
		if a < 0 {
			return
		}
	}
}

func (o *einsumOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	copy(o.xs[:], in)
	o.setup(in)
	o.y = outBuf(p, o.y, o.outSh...)
	y := o.y.Data
	clear(y)
	a := in[0].Data
	if len(in) == 1 {
		o.walk(func(lo, hi, i, _, k, si, _, sk int) {
			for t := lo; t < hi; t++ {
				y[k] += a[i]
				i += si
				k += sk
			}
		})
		return o.y
	}
	if o.mm != nil {
		o.mm.forward(in[0], in[1], y)
		return o.y
	}
	b := in[1].Data
	o.walk(func(lo, hi, i, j, k, si, sj, sk int) {
		if sk == 0 { // a dot product along the innermost letter
			var s F
			for t := lo; t < hi; t++ {
				s += a[i] * b[j]
				i += si
				j += sj
			}
			y[k] += s
			return
		}
		for t := lo; t < hi; t++ {
			y[k] += a[i] * b[j]
			i += si
			j += sj
			k += sk
		}
	})
	return o.y
}

func (o *einsumOp[F]) Backward(p *Pass[F], dy *Mat[F]) []*Mat[F] {
	o.dIns = [2]*Mat[F]{}
	n := len(o.terms)
	for t := 0; t < n; t++ {
		if o.need[t] {
			o.dx[t] = reuseZero(o.dx[t], o.xs[t].Shape...)
			o.dIns[t] = o.dx[t]
		}
	}
	g := dy.Data
	if n == 1 {
		if o.dIns[0] == nil {
			return o.dIns[:]
		}
		da := o.dIns[0].Data
		o.walk(func(lo, hi, i, _, k, si, _, sk int) {
			for t := lo; t < hi; t++ {
				da[i] += g[k]
				i += si
				k += sk
			}
		})
		return o.dIns[:]
	}
	if o.mm != nil {
		o.mm.backward(g, dy.Shape, o.dIns[0], o.dIns[1])
		return o.dIns[:]
	}
	a, b := o.xs[0].Data, o.xs[1].Data
	if d := o.dIns[0]; d != nil {
		da := d.Data
		o.walk(func(lo, hi, i, j, k, si, sj, sk int) {
			for t := lo; t < hi; t++ {
				da[i] += g[k] * b[j]
				i += si
				j += sj
				k += sk
			}
		})
	}
	if d := o.dIns[1]; d != nil {
		db := d.Data
		o.walk(func(lo, hi, i, j, k, si, sj, sk int) {
			for t := lo; t < hi; t++ {
				db[j] += g[k] * a[i]
				i += si
				j += sj
				k += sk
			}
		})
	}
	return o.dIns[:]
}

func init() {
	RegisterOp("TensorEinsum", newTensorEinsum[float32], newTensorEinsum[float64])
}

func ranksOf(in [][]int) []int {
	r := make([]int, len(in))
	for i, s := range in {
		r[i] = len(s)
	}
	return r
}
