package nn

import (
	"fmt"
	"math"

	"github.com/retarget-dev/retarget/ir"
)

func init() {
	RegisterOp("Embedding", newEmbedding[float32], newEmbedding[float64])
}

// embeddingOp looks up rows of W [InputDim, OutputDim]. Indices arrive as
// floats; one that is not an integer in [0, InputDim) is a data error: its
// row of the output stays zero and Err reports the first such index.
type embeddingOp[F Float] struct {
	w, gw   *Mat[F]
	inDim   int
	outDim  int
	inShape []int
	idx     []int // -1 for a bad index
	skipDx  bool
	mask    []F // MaskZero: index ≠ 0, per input position
	maskOn  bool
	err     error
}

func newEmbedding[F Float](v *ir.Vertex, in [][]int, out []int, params *Params[F]) (Op[F], error) {
	e, ok := v.Layer.(*ir.Embedding)
	if !ok {
		return nil, fmt.Errorf("not an Embedding layer")
	}
	if len(in) != 1 {
		return nil, fmt.Errorf("Embedding takes one input, got %d", len(in))
	}
	w := params.Values["W"]
	if w == nil || !ir.SameShape(w.Shape, []int{e.InputDim, e.OutputDim}) || len(w.Data) != e.InputDim*e.OutputDim {
		return nil, fmt.Errorf("Embedding parameter W is missing or not [%d, %d]", e.InputDim, e.OutputDim)
	}
	gw := params.Grads["W"]
	if gw != nil && !ir.SameShape(gw.Shape, w.Shape) {
		return nil, fmt.Errorf("Embedding gradient of W has shape %v, want %v", gw.Shape, w.Shape)
	}
	return &embeddingOp[F]{w: w, gw: gw, inDim: e.InputDim, outDim: e.OutputDim, maskOn: e.MaskZero}, nil
}

func (o *embeddingOp[F]) Err() error { return o.err }

func (o *embeddingOp[F]) SkipInputGrads(need []bool) { o.skipDx = !need[0] }

// embeddingOutShape drops a trailing axis of size 1 after the time axis, as
// ir.Embedding does: [N, T, 1] and [N, T] both give [N, T, OutputDim].
func embeddingOutShape(in []int, d int) []int {
	s := append([]int(nil), in...)
	if len(s) == 3 && s[2] == 1 {
		s = s[:2]
	}
	return append(s, d)
}

func (o *embeddingOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x := in[0]
	o.err = nil
	o.inShape = append(o.inShape[:0], x.Shape...)
	out := NewMat[F](embeddingOutShape(x.Shape, o.outDim)...)
	if len(out.Data) != len(x.Data)*o.outDim {
		o.err = fmt.Errorf("Embedding input of shape %v holds %d values", x.Shape, len(x.Data))
		return out
	}
	o.idx = o.idx[:0]
	d := o.outDim
	for i, v := range x.Data {
		f := float64(v)
		k := int(f)
		if math.IsNaN(f) || f != math.Trunc(f) || f < 0 || f >= float64(o.inDim) {
			if o.err == nil {
				o.err = fmt.Errorf("Embedding index %v at input position %d is not an integer in [0, %d): "+
					"check the input data, or widen the layer's input_dim", v, i, o.inDim)
			}
			o.idx = append(o.idx, -1)
			continue
		}
		o.idx = append(o.idx, k)
		copy(out.Data[i*d:(i+1)*d], o.w.Data[k*d:(k+1)*d])
	}
	if o.maskOn {
		o.mask = growSlice(o.mask, len(x.Data))
		for i, v := range x.Data {
			o.mask[i] = 0
			if v != 0 {
				o.mask[i] = 1
			}
		}
		p.Mask = o.mask
	}
	return out
}

func (o *embeddingOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	d := o.outDim
	if o.gw != nil {
		for i, k := range o.idx {
			if k < 0 {
				continue
			}
			g := o.gw.Data[k*d : (k+1)*d]
			for j, v := range dOut.Data[i*d : (i+1)*d] {
				g[j] += v
			}
		}
	}
	if o.skipDx {
		return []*Mat[F]{nil}
	}
	// Indices have no gradient.
	return []*Mat[F]{NewMat[F](o.inShape...)}
}
