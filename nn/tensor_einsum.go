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
}

func newTensorEinsum[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	t := v.Layer.(*ir.TensorEinsum)
	if _, err := t.OutputShape(in); err != nil {
		return nil, err
	}
	terms, o, _ := t.Terms()
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
		for k, r := range o.terms[i] {
			size[r] = x.Shape[k]
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
		for k, r := range term {
			for l, q := range o.letters {
				if q == r {
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
