package nn

import (
	"math"
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// rnnOpCheck is a numerical gradient check of one op on the float64 path,
// independent of Network: the scalar checked is L = Σ w·y for fixed random
// weights w, so that dL/dy = w is the seed of Backward.
type rnnOpCheck struct {
	layer ir.Layer
	in    []int // input shape without batch
	batch int
	mask  []float64 // optional (batch, T) Pass mask
	x     []float64 // optional input data (default: random)
	// noInputGrad skips the input check (indices); skipInput skips single
	// input positions whose perturbation changes more than a smooth value
	// (a Masking step equal to the mask value).
	noInputGrad bool
	skipInput   func(i int) bool
}

func (c rnnOpCheck) run(t *testing.T) {
	t.Helper()
	rng := rand.New(rand.NewSource(7))
	v := &ir.Vertex{Name: "v", Layer: c.layer}
	in := [][]int{c.in}
	out, err := c.layer.OutputShape(in)
	if err != nil {
		t.Fatal(err)
	}
	params := &Params[float64]{Values: map[string]*Mat[float64]{}, Grads: map[string]*Mat[float64]{}}
	for _, s := range c.layer.Params(in) {
		m := NewMat[float64](s.Shape...)
		for i := range m.Data {
			m.Data[i] = rng.Float64() - 0.5
		}
		if s.Role == ir.RoleEmbedding {
			for i := range m.Data {
				m.Data[i] *= 4
			}
		}
		params.Values[s.Name] = m
		params.Grads[s.Name] = NewMat[float64](s.Shape...)
	}
	b, err := builderFor[float64](c.layer.Kind())
	if err != nil {
		t.Fatal(err)
	}
	op, err := b(v, in, out, params)
	if err != nil {
		t.Fatal(err)
	}
	x := NewMat[float64](append([]int{c.batch}, c.in...)...)
	if c.x != nil {
		copy(x.Data, c.x)
	} else {
		for i := range x.Data {
			x.Data[i] = 2*rng.Float64() - 1
		}
	}
	var w []float64
	loss := func() float64 {
		p := &Pass[float64]{Train: true, Mask: c.mask}
		y := op.Forward(p, []*Mat[float64]{x})
		if f, ok := op.(Failer); ok && f.Err() != nil {
			t.Fatal(f.Err())
		}
		if w == nil {
			w = make([]float64, len(y.Data))
			for i := range w {
				w[i] = rng.Float64()*2 - 1
			}
		}
		var s float64
		for i, v := range y.Data {
			s += w[i] * v
		}
		return s
	}
	loss()
	y := NewMat[float64](append([]int{c.batch}, out...)...)
	copy(y.Data, w)
	dIn := op.Backward(&Pass[float64]{Train: true, Mask: c.mask}, y)

	const eps = 1e-6
	numeric := func(v *float64) float64 {
		old := *v
		*v = old + eps
		lp := loss()
		*v = old - eps
		lm := loss()
		*v = old
		return (lp - lm) / (2 * eps)
	}
	compare := func(what string, i int, a, n float64) {
		if math.Abs(a-n) > 1e-7+1e-5*math.Max(math.Abs(a), math.Abs(n)) {
			t.Errorf("%s[%d]: analytic %.10g, numeric %.10g", what, i, a, n)
		}
	}
	for name, pv := range params.Values {
		g := params.Grads[name]
		nonzero := false
		for i := range pv.Data {
			compare("d"+name, i, g.Data[i], numeric(&pv.Data[i]))
			nonzero = nonzero || g.Data[i] != 0
		}
		if !nonzero {
			t.Errorf("gradient of %s is all zero", name)
		}
	}
	if c.noInputGrad {
		return
	}
	for i := range x.Data {
		if c.skipInput != nil && c.skipInput(i) {
			continue
		}
		compare("dx", i, dIn[0].Data[i], numeric(&x.Data[i]))
	}
}
