package nn

import (
	"fmt"
	"math"

	"github.com/retarget-dev/retarget/ir"
)

// reshapeOp is Flatten and Reshape: a view with another shape.
type reshapeOp[F Float] struct {
	target []int // without batch; one -1 is inferred at run time
	inSh   []int
	out    Mat[F] // a view of the input
	dx     Mat[F]
	dIns   [1]*Mat[F]
}

func newFlatten[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	return &reshapeOp[F]{target: []int{-1}}, nil
}

func newReshape[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	return &reshapeOp[F]{target: append([]int(nil), v.Layer.(*ir.Reshape).Shape...)}, nil
}

func (o *reshapeOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x := in[0]
	o.inSh = x.Shape
	n := x.Shape[0]
	per := len(x.Data) / max(n, 1)
	o.out.Shape = append(append(o.out.Shape[:0], n), o.target...)
	shape := o.out.Shape
	known, infer := 1, -1
	for i, d := range o.target {
		if d < 0 {
			infer = i + 1
		} else {
			known *= d
		}
	}
	if infer > 0 {
		shape[infer] = per / max(known, 1)
	}
	if ir.NumElements(shape) != len(x.Data) {
		panic(fmt.Sprintf("cannot reshape %v into %v", x.Shape, o.target))
	}
	o.out.Data = x.Data
	return &o.out
}

func (o *reshapeOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	o.dx = Mat[F]{Shape: o.inSh, Data: dOut.Data}
	o.dIns[0] = &o.dx
	return o.dIns[:]
}

// permuteOp reorders the axes after the batch.
type permuteOp[F Float] struct {
	perm  []int // with batch
	inSh  []int
	y, dx *Mat[F]
}

func newPermute[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	p := v.Layer.(*ir.Permute)
	perm := []int{0}
	for _, a := range p.Perm {
		perm = append(perm, a+1)
	}
	return &permuteOp[F]{perm: perm}, nil
}

func (o *permuteOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x := in[0]
	o.inSh = x.Shape
	shape := make([]int, len(o.perm))
	for i, a := range o.perm {
		shape[i] = x.Shape[a]
	}
	o.y = outBuf(p, o.y, shape...)
	transposeND(o.y.Data, x.Data, x.Shape, o.perm)
	return o.y
}

func (o *permuteOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	o.dx = reuse(o.dx, o.inSh...)
	transposeND(o.dx.Data, dOut.Data, dOut.Shape, inversePerm(o.perm))
	return []*Mat[F]{o.dx}
}

// outShapeOf runs a layer's shape inference on one runtime example shape.
func outShapeOf(l ir.Layer, in []int) ([]int, error) {
	return l.OutputShape([][]int{in})
}

func newPad[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	l := v.Layer.(*ir.Pad)
	switch l.Mode {
	case ir.PadConstant, ir.PadReflect, ir.PadEdge, "":
	default:
		return nil, fmt.Errorf("pad mode %q", l.Mode)
	}
	return &gatherOp[F]{fill: F(l.Value), mapFor: func(in []int) (*indexMap, error) {
		out, err := outShapeOf(l, in)
		if err != nil {
			return nil, err
		}
		off := len(in) - l.Rank
		st := strides(in)
		return buildMap(in, out, func(idx []int) int {
			s := 0
			for a, i := range idx {
				if a >= off {
					k := a - off
					n := in[a]
					i -= l.Pads[k]
					switch l.Mode {
					case ir.PadReflect:
						for i < 0 || i >= n {
							if n == 1 {
								i = 0
								break
							}
							if i < 0 {
								i = -i
							}
							if i >= n {
								i = 2*(n-1) - i
							}
						}
					case ir.PadEdge:
						i = min(max(i, 0), n-1)
					default:
						if i < 0 || i >= n {
							return -1
						}
					}
				}
				s += i * st[a]
			}
			return s
		}), nil
	}}, nil
}

func newCropping[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	l := v.Layer.(*ir.Cropping)
	return &gatherOp[F]{mapFor: func(in []int) (*indexMap, error) {
		out, err := outShapeOf(l, in)
		if err != nil {
			return nil, err
		}
		off := len(in) - l.Rank
		st := strides(in)
		return buildMap(in, out, func(idx []int) int {
			s := 0
			for a, i := range idx {
				if a >= off {
					i += l.Crops[a-off]
				}
				s += i * st[a]
			}
			return s
		}), nil
	}}, nil
}

func newSlice[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	l := v.Layer.(*ir.Slice)
	return &gatherOp[F]{mapFor: func(in []int) (*indexMap, error) {
		out, err := outShapeOf(l, in)
		if err != nil {
			return nil, err
		}
		start, step := make([]int, len(in)), make([]int, len(in))
		for a := range step {
			step[a] = 1
		}
		for i, a := range l.Axes {
			if a < 0 {
				a += len(in)
			}
			start[a], _, step[a] = l.Range(i, in[a])
		}
		st := strides(in)
		return buildMap(in, out, func(idx []int) int {
			s := 0
			for a, i := range idx {
				s += (start[a] + i*step[a]) * st[a]
			}
			return s
		}), nil
	}}, nil
}

func newDepthToSpace[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	l := v.Layer.(*ir.DepthToSpace)
	if l.Mode != "DCR" && l.Mode != "CRD" && l.Mode != "" {
		return nil, fmt.Errorf("DepthToSpace mode %q", l.Mode)
	}
	return &gatherOp[F]{mapFor: func(in []int) (*indexMap, error) {
		out, err := outShapeOf(l, in)
		if err != nil {
			return nil, err
		}
		b, co := l.Block, out[0]
		return buildMap(in, out, func(idx []int) int {
			c, y, x := idx[0], idx[1], idx[2]
			i, j := y%b, x%b
			ic := (i*b+j)*co + c
			if l.Mode == "CRD" {
				ic = c*b*b + i*b + j
			}
			return (ic*in[1]+y/b)*in[2] + x/b
		}), nil
	}}, nil
}

func newSpaceToDepth[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	l := v.Layer.(*ir.SpaceToDepth)
	return &gatherOp[F]{mapFor: func(in []int) (*indexMap, error) {
		out, err := outShapeOf(l, in)
		if err != nil {
			return nil, err
		}
		b, ci := l.Block, in[0]
		return buildMap(in, out, func(idx []int) int {
			oc, y, x := idx[0], idx[1], idx[2]
			blk, c := oc/ci, oc%ci
			i, j := blk/b, blk%b
			return (c*in[1]+y*b+i)*in[2] + x*b + j
		}), nil
	}}, nil
}

func newUpSampling[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	l := v.Layer.(*ir.UpSampling)
	if l.Mode == "linear" {
		return &linearUpOp[F]{l: l}, nil
	}
	return &gatherOp[F]{mapFor: func(in []int) (*indexMap, error) {
		out, err := outShapeOf(l, in)
		if err != nil {
			return nil, err
		}
		off := len(in) - l.Rank
		st := strides(in)
		return buildMap(in, out, func(idx []int) int {
			s := 0
			for a, i := range idx {
				if a >= off {
					i /= l.Size[a-off]
				}
				s += i * st[a]
			}
			return s
		}), nil
	}}, nil
}

// linearUpOp is (bi)linear upsampling with half-pixel centres
// (align_corners=false), one axis at a time.
type linearUpOp[F Float] struct {
	l     *ir.UpSampling
	inSh  []int
	steps []*Mat[F] // output after each axis
	grads []*Mat[F]
}

// interpAxis resamples axis ax of x (shape with batch) by factor s into y.
func interpAxis[F Float](x []F, shape []int, ax, s int, y []F, adjoint bool) {
	outer, n, inner := splitAxis(shape, ax)
	m := n * s
	if adjoint {
		clear(x)
	}
	for j := 0; j < m; j++ {
		src := math.Max((float64(j)+0.5)/float64(s)-0.5, 0)
		i0 := int(src)
		i1 := min(i0+1, n-1)
		lam := F(src - float64(i0))
		for o := 0; o < outer; o++ {
			xb := x[o*n*inner:]
			yb := y[(o*m+j)*inner:][:inner]
			a, b := xb[i0*inner:][:inner], xb[i1*inner:][:inner]
			if adjoint {
				for k, g := range yb {
					a[k] += (1 - lam) * g
					b[k] += lam * g
				}
				continue
			}
			for k := range yb {
				yb[k] = (1-lam)*a[k] + lam*b[k]
			}
		}
	}
}

func (o *linearUpOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x := in[0]
	o.inSh = x.Shape
	off := len(x.Shape) - o.l.Rank
	if len(o.steps) != o.l.Rank {
		o.steps = make([]*Mat[F], o.l.Rank)
		o.grads = make([]*Mat[F], o.l.Rank)
	}
	cur := x
	for k := 0; k < o.l.Rank; k++ {
		sh := append([]int(nil), cur.Shape...)
		sh[off+k] *= o.l.Size[k]
		o.steps[k] = reuse(o.steps[k], sh...)
		interpAxis(cur.Data, cur.Shape, off+k, o.l.Size[k], o.steps[k].Data, false)
		cur = o.steps[k]
	}
	return cur
}

func (o *linearUpOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	off := len(o.inSh) - o.l.Rank
	g := dOut
	for k := o.l.Rank - 1; k >= 0; k-- {
		var sh []int
		if k == 0 {
			sh = o.inSh
		} else {
			sh = o.steps[k-1].Shape
		}
		o.grads[k] = reuse(o.grads[k], sh...)
		interpAxis(o.grads[k].Data, sh, off+k, o.l.Size[k], g.Data, true)
		g = o.grads[k]
	}
	return []*Mat[F]{g}
}

// reduceOp reduces axes with mean, sum or max.
type reduceOp[F Float] struct {
	l      *ir.Reduce
	m      []int32 // output index of every input element of one example
	outPer int
	count  F
	inSh   []int
	y, dx  *Mat[F]
	arg    []int32
}

func newReduce[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	return &reduceOp[F]{l: v.Layer.(*ir.Reduce)}, nil
}

func (o *reduceOp[F]) setup(in []int) error {
	if ir.SameShape(o.inSh, in) && o.m != nil {
		return nil
	}
	red := make([]bool, len(in)-1)
	for _, a := range o.l.Axes {
		if a < 0 {
			a += len(red)
		}
		if a < 0 || a >= len(red) {
			return fmt.Errorf("reduce axis %d out of range for %v", a, in[1:])
		}
		red[a] = true
	}
	var keptShape []int
	cnt := 1
	for a, d := range in[1:] {
		if red[a] {
			cnt *= d
		} else {
			keptShape = append(keptShape, d)
		}
	}
	kst := strides(keptShape)
	per := ir.NumElements(in[1:])
	o.m = make([]int32, per)
	idx := make([]int, len(red))
	for i := 0; i < per; i++ {
		s, k := 0, 0
		for a, v := range idx {
			if !red[a] {
				s += v * kst[k]
				k++
			}
		}
		o.m[i] = int32(s)
		for a := len(idx) - 1; a >= 0; a-- {
			idx[a]++
			if idx[a] < in[a+1] {
				break
			}
			idx[a] = 0
		}
	}
	o.outPer = ir.NumElements(keptShape)
	o.count = F(cnt)
	return nil
}

func (o *reduceOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x := in[0]
	if err := o.setup(x.Shape); err != nil {
		panic(err)
	}
	o.inSh = x.Shape
	out, err := outShapeOf(o.l, x.Shape[1:])
	if err != nil {
		panic(err)
	}
	n := x.Shape[0]
	o.y = reuse(o.y, withBatch(n, out)...)
	per := len(o.m)
	isMax := o.l.Op == "max"
	if isMax {
		if cap(o.arg) < len(o.y.Data) {
			o.arg = make([]int32, len(o.y.Data))
		}
		o.arg = o.arg[:len(o.y.Data)]
		for i := range o.arg {
			o.arg[i] = -1
		}
	} else {
		clear(o.y.Data)
	}
	for b := 0; b < n; b++ {
		src := x.Data[b*per : (b+1)*per]
		dst := o.y.Data[b*o.outPer : (b+1)*o.outPer]
		for i, v := range src {
			k := o.m[i]
			if isMax {
				a := &o.arg[b*o.outPer+int(k)]
				if *a < 0 || v > dst[k] {
					dst[k], *a = v, int32(i)
				}
				continue
			}
			dst[k] += v
		}
		if o.l.Op == "mean" {
			for k := range dst {
				dst[k] /= o.count
			}
		}
	}
	return o.y
}

func (o *reduceOp[F]) Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F] {
	o.dx = reuseZero(o.dx, o.inSh...)
	per := len(o.m)
	n := o.inSh[0]
	for b := 0; b < n; b++ {
		dst := o.dx.Data[b*per : (b+1)*per]
		g := dOut.Data[b*o.outPer : (b+1)*o.outPer]
		switch o.l.Op {
		case "max":
			for k, a := range o.arg[b*o.outPer : (b+1)*o.outPer] {
				dst[a] += g[k]
			}
		case "mean":
			for i, k := range o.m {
				dst[i] = g[k] / o.count
			}
		default:
			for i, k := range o.m {
				dst[i] = g[k]
			}
		}
	}
	return []*Mat[F]{o.dx}
}

func init() {
	RegisterOp("Flatten", newFlatten[float32], newFlatten[float64])
	RegisterOp("Reshape", newReshape[float32], newReshape[float64])
	RegisterOp("Permute", newPermute[float32], newPermute[float64])
	RegisterOp("Pad", newPad[float32], newPad[float64])
	RegisterOp("Cropping", newCropping[float32], newCropping[float64])
	RegisterOp("Slice", newSlice[float32], newSlice[float64])
	RegisterOp("DepthToSpace", newDepthToSpace[float32], newDepthToSpace[float64])
	RegisterOp("SpaceToDepth", newSpaceToDepth[float32], newSpaceToDepth[float64])
	RegisterOp("UpSampling", newUpSampling[float32], newUpSampling[float64])
	RegisterOp("Reduce", newReduce[float32], newReduce[float64])
}

func newTile[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	l := v.Layer.(*ir.Tile)
	return &gatherOp[F]{mapFor: func(in []int) (*indexMap, error) {
		out, err := outShapeOf(l, in)
		if err != nil {
			return nil, err
		}
		st := strides(in)
		return buildMap(in, out, func(idx []int) int {
			s := 0
			for k, i := range idx {
				s += (i % in[k]) * st[k]
			}
			return s
		}), nil
	}}, nil
}

func init() { RegisterOp("Tile", newTile[float32], newTile[float64]) }
