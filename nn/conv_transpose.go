package nn

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

// convTOp is ConvTranspose1D/2D/3D: the adjoint of a convolution. W is
// [C, Filters/groups, kh, kw]; each input pixel scatters its kernel-weighted
// values into the output (GEMM + col2im).
type convTOp[F Float] struct {
	layer  *ir.ConvTranspose2D
	act    activation[F]
	params *Params[F]
	needIn bool

	geo      convGeom
	inShape  []int
	outShape []int
	col      []F

	x, z, y *Mat[F]
	dz, dx  *Mat[F]
}

func newConvTranspose[F Float](v *ir.Vertex, in [][]int, out []int, params *Params[F]) (Op[F], error) {
	c := v.Layer.(*ir.ConvTranspose2D)
	act, err := newActivation[F](c.Activation)
	if err != nil {
		return nil, err
	}
	switch c.Padding {
	case "", ir.PadValid, ir.PadSame, ir.PadSameLow, ir.PadExplicit:
	default:
		return nil, fmt.Errorf("%s padding %q", c.Kind(), c.Padding)
	}
	return &convTOp[F]{layer: c, act: act, params: params, needIn: true}, nil
}

func (o *convTOp[F]) SkipInputGrads(need []bool) { o.needIn = need[0] }

func (o *convTOp[F]) setup(in []int) error {
	if ir.SameShape(in, o.inShape) {
		return nil
	}
	c := o.layer
	out, err := c.OutputShape([][]int{in[1:]})
	if err != nil {
		return err
	}
	begin, _ := c.TransposePads(in[2:])
	at := func(xs []int, i int) int {
		if i < len(xs) && xs[i] > 0 {
			return xs[i]
		}
		return 1
	}
	g := c.GroupCount()
	if in[1]%g != 0 || c.Filters%g != 0 {
		return fmt.Errorf("%d input and %d output channels are not divisible by %d groups", in[1], c.Filters, g)
	}
	// the output plays the image, the input the patch grid
	r := c.SpatialRank()
	o.geo = convGeom{c: c.Filters / g, h: 1, kh: 1, sh: 1, dh: 1, oh: 1}
	if r == 3 {
		o.geo.d, o.geo.kd, o.geo.sd, o.geo.dd, o.geo.pf, o.geo.od = out[1], c.Kernel[0], at(c.Strides, 0), at(c.Dilations, 0), begin[0], in[2]
	}
	if r >= 2 {
		a := r - 2
		o.geo.h, o.geo.kh, o.geo.sh, o.geo.dh, o.geo.pt, o.geo.oh = out[a+1], c.Kernel[a], at(c.Strides, a), at(c.Dilations, a), begin[a], in[a+2]
	}
	a := r - 1
	o.geo.w, o.geo.kw, o.geo.sw, o.geo.dw, o.geo.pl, o.geo.ow = out[a+1], c.Kernel[a], at(c.Strides, a), at(c.Dilations, a), begin[a], in[a+2]
	o.inShape = append(o.inShape[:0], in...)
	o.outShape = append([]int{in[0]}, out...)
	o.col = growSlice(o.col, o.geo.c*o.geo.k()*o.geo.p())
	return nil
}

func (o *convTOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x := in[0]
	if err := o.setup(x.Shape); err != nil {
		panic(err)
	}
	o.x = x
	g := &o.geo
	groups := o.layer.GroupCount()
	cg := x.Shape[1] / groups
	fk, pin := g.c*g.k(), g.p()
	W := o.params.Values["W"].Data
	o.z = reuseZero(o.z, o.outShape...)
	outPer := o.layer.Filters * g.plane()
	for s := 0; s < x.Shape[0]; s++ {
		for gr := 0; gr < groups; gr++ {
			xg := x.Data[(s*x.Shape[1]+gr*cg)*pin:]
			gemm(true, false, fk, pin, cg, 1, W[gr*cg*fk:], fk, xg, pin, 0, o.col, pin)
			col2im(g, o.col, pin, o.z.Data[s*outPer+gr*g.c*g.plane():])
		}
	}
	addChannelBias(o.z, o.params.Values["b"])
	o.y = applyAct(o.act, o.z, o.y)
	return o.y
}

func (o *convTOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	dz := actBackward(o.act, o.z, o.y, dOut, &o.dz)
	channelBiasGrad(dz, o.params.Grads["b"])
	g := &o.geo
	x := o.x
	groups := o.layer.GroupCount()
	cg := x.Shape[1] / groups
	fk, pin := g.c*g.k(), g.p()
	W := o.params.Values["W"].Data
	gW := o.params.Grads["W"]
	if o.needIn {
		o.dx = reuse(o.dx, x.Shape...)
	}
	outPer := o.layer.Filters * g.plane()
	for s := 0; s < x.Shape[0]; s++ {
		for gr := 0; gr < groups; gr++ {
			im2col(g, dz.Data[s*outPer+gr*g.c*g.plane():], o.col, pin)
			off := (s*x.Shape[1] + gr*cg) * pin
			if gW != nil {
				gemm(false, true, cg, fk, pin, 1, x.Data[off:], pin, o.col, pin, 1, gW.Data[gr*cg*fk:], fk)
			}
			if o.needIn {
				gemm(false, false, cg, pin, fk, 1, W[gr*cg*fk:], fk, o.col, pin, 0, o.dx.Data[off:], pin)
			}
		}
	}
	if !o.needIn {
		return []*Mat[F]{nil}
	}
	return []*Mat[F]{o.dx}
}

func init() {
	RegisterOp("ConvTranspose1D", newConvTranspose[float32], newConvTranspose[float64])
	RegisterOp("ConvTranspose2D", newConvTranspose[float32], newConvTranspose[float64])
	RegisterOp("ConvTranspose3D", newConvTranspose[float32], newConvTranspose[float64])
}
