package nn

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

// The general tensor ops (ir.TensorOp): they take the runtime shapes of
// their inputs as they come, the batch wherever it is.

// matmulOp is NumPy matmul with broadcast leading axes.
type matmulOp[F Float] struct {
	a, b, y     *Mat[F]
	da, db      *Mat[F]
	m, k, n     int
	ia, ib      []int // per output matrix: index of the a and b matrix
	aShape, bSh []int
	outShape    []int
	need        [2]bool
}

func newMatMul[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	if _, err := v.Layer.OutputShape(in); err != nil {
		return nil, err
	}
	return &matmulOp[F]{need: [2]bool{true, true}}, nil
}

func (o *matmulOp[F]) SkipInputGrads(need []bool) { copy(o.need[:], need) }

func (o *matmulOp[F]) setup(a, b []int) {
	if ir.SameShape(a, o.aShape) && ir.SameShape(b, o.bSh) {
		return
	}
	o.aShape, o.bSh = append(o.aShape[:0], a...), append(o.bSh[:0], b...)
	pa, pb := a, b
	if len(a) == 1 {
		pa = []int{1, a[0]}
	}
	if len(b) == 1 {
		pb = []int{b[0], 1}
	}
	o.m, o.k, o.n = pa[len(pa)-2], pa[len(pa)-1], pb[len(pb)-1]
	if pb[len(pb)-2] != o.k {
		panic(fmt.Sprintf("matmul of %v and %v", a, b))
	}
	la, lb := pa[:len(pa)-2], pb[:len(pb)-2]
	lead, err := ir.BroadcastFull(la, lb)
	if err != nil {
		panic(err)
	}
	o.ia = leadIndex(lead, la)
	o.ib = leadIndex(lead, lb)
	o.outShape = append(o.outShape[:0], lead...)
	if len(a) > 1 {
		o.outShape = append(o.outShape, o.m)
	}
	if len(b) > 1 {
		o.outShape = append(o.outShape, o.n)
	}
}

// leadIndex maps each position of the broadcast leading shape to the
// matrix of an operand with leading shape small.
func leadIndex(lead, small []int) []int {
	padded := make([]int, len(lead))
	for i := range padded {
		padded[i] = 1
	}
	copy(padded[len(lead)-len(small):], small)
	return broadcastIndex(lead, padded)
}

func (o *matmulOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	a, b := in[0], in[1]
	o.setup(a.Shape, b.Shape)
	o.a, o.b = a, b
	o.y = outBuf(p, o.y, o.outShape...)
	y := o.y
	m, k, n := o.m, o.k, o.n
	for i := range o.ia {
		gemm(false, false, m, n, k, 1, a.Data[o.ia[i]*m*k:], k, b.Data[o.ib[i]*k*n:], n, 0, y.Data[i*m*n:], n)
	}
	return y
}

func (o *matmulOp[F]) Backward(p *Pass[F], dy *Mat[F]) []*Mat[F] {
	m, k, n := o.m, o.k, o.n
	var da, db *Mat[F]
	if o.need[0] {
		da = reuseZero(o.da, o.aShape...)
		o.da = da
	}
	if o.need[1] {
		db = reuseZero(o.db, o.bSh...)
		o.db = db
	}
	for i := range o.ia {
		g := dy.Data[i*m*n:]
		if da != nil { // dA += dY·Bᵀ
			gemm(false, true, m, k, n, 1, g, n, o.b.Data[o.ib[i]*k*n:], n, 1, da.Data[o.ia[i]*m*k:], k)
		}
		if db != nil { // dB += Aᵀ·dY
			gemm(true, false, k, n, m, 1, o.a.Data[o.ia[i]*m*k:], k, g, n, 1, db.Data[o.ib[i]*k*n:], n)
		}
	}
	return []*Mat[F]{da, db}
}

// transposeOp permutes the axes of a computed tensor.
type transposeOp[F Float] struct {
	perm, inv []int
	inShape   []int
	y, dx     *Mat[F]
}

func newTensorTranspose[F Float](v *ir.Vertex, in [][]int, out []int, _ *Params[F]) (Op[F], error) {
	t := v.Layer.(*ir.TensorTranspose)
	if _, err := t.OutputShape(in); err != nil {
		return nil, err
	}
	return &transposeOp[F]{perm: t.Perm, inv: inversePerm(t.Perm)}, nil
}

func (o *transposeOp[F]) Forward(p *Pass[F], in []*Mat[F]) *Mat[F] {
	x := in[0]
	o.inShape = append(o.inShape[:0], x.Shape...)
	shape := make([]int, len(o.perm))
	for i, a := range o.perm {
		shape[i] = x.Shape[a]
	}
	o.y = outBuf(p, o.y, shape...)
	y := o.y
	transposeND(y.Data, x.Data, x.Shape, o.perm)
	return y
}

func (o *transposeOp[F]) Backward(p *Pass[F], dy *Mat[F]) []*Mat[F] {
	o.dx = reuse(o.dx, o.inShape...)
	transposeND(o.dx.Data, dy.Data, dy.Shape, o.inv)
	return []*Mat[F]{o.dx}
}

func init() {
	RegisterOp("TensorMatMul", newMatMul[float32], newMatMul[float64])
	RegisterOp("TensorTranspose", newTensorTranspose[float32], newTensorTranspose[float64])
}
