package nn

import (
	"math"

	"github.com/retarget-dev/retarget/ir"
)

func init() {
	RegisterOp("InstanceNorm", newInstanceNorm[float32], newInstanceNorm[float64])
}

// instanceNormOp runs ir.InstanceNorm: one mean and variance per (example,
// channel) over the spatial axes.
type instanceNormOp[F Float] struct {
	eps    float64
	params *Params[F]
	xhat   []F
	istd   []F // per (example, channel)
	y, dx  *Mat[F]
}

func newInstanceNorm[F Float](v *ir.Vertex, in [][]int, out []int, params *Params[F]) (Op[F], error) {
	return &instanceNormOp[F]{eps: float64(v.Layer.(*ir.InstanceNorm).Epsilon), params: params}, nil
}

func (o *instanceNormOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x := in[0]
	n, c := x.Shape[0], x.Shape[1]
	m := len(x.Data) / max(n*c, 1)
	o.y = outBuf(p, o.y, x.Shape...)
	o.xhat = growSlice(o.xhat, len(x.Data))
	o.istd = growSlice(o.istd, n*c)
	g, b := o.params.Values["gamma"].Data, o.params.Values["beta"].Data
	for k := 0; k < n*c; k++ {
		seg := x.Data[k*m : (k+1)*m]
		var mean float64
		for _, v := range seg {
			mean += float64(v)
		}
		mean /= float64(m)
		var vr float64
		for _, v := range seg {
			d := float64(v) - mean
			vr += d * d
		}
		is := 1 / math.Sqrt(vr/float64(m)+o.eps)
		o.istd[k] = F(is)
		ch := k % c
		for i, v := range seg {
			h := F((float64(v) - mean) * is)
			o.xhat[k*m+i] = h
			o.y.Data[k*m+i] = g[ch]*h + b[ch]
		}
	}
	return o.y
}

func (o *instanceNormOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	n, c := dOut.Shape[0], dOut.Shape[1]
	m := len(dOut.Data) / max(n*c, 1)
	o.dx = reuse(o.dx, dOut.Shape...)
	g := o.params.Values["gamma"].Data
	gg, gb := o.params.Grads["gamma"], o.params.Grads["beta"]
	for k := 0; k < n*c; k++ {
		ch := k % c
		dy := dOut.Data[k*m : (k+1)*m]
		xh := o.xhat[k*m : (k+1)*m]
		var sum, sumX F
		for i, d := range dy {
			sum += d
			sumX += d * xh[i]
		}
		if gg != nil {
			gg.Data[ch] += sumX
		}
		if gb != nil {
			gb.Data[ch] += sum
		}
		// dx = γ·istd/m · (m·dy − Σdy − x̂·Σ(dy·x̂))
		f := g[ch] * o.istd[k] / F(m)
		for i, d := range dy {
			o.dx.Data[k*m+i] = f * (F(m)*d - sum - xh[i]*sumX)
		}
	}
	return []*Mat[F]{o.dx}
}
