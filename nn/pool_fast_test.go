package nn

import (
	"math"
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// TestMaxPool2x2Ties checks the 2×2/2 kernel against a direct computation
// on an odd-sized input full of ties: the maximum, and the gradient routed
// to the first maximal element in row-major order.
func TestMaxPool2x2Ties(t *testing.T) {
	const n, c, h, w = 2, 3, 5, 7
	rng := rand.New(rand.NewSource(1))
	x := NewMat[float32](n, c, h, w)
	for i := range x.Data {
		x.Data[i] = float32(rng.Intn(3))
	}
	op, _ := newPool[float32](&ir.Vertex{Layer: &ir.Pool{Rank: 2, Op: ir.PoolMax, Kernel: []int{2, 2}}}, nil, nil, nil)
	p := &Pass[float32]{Train: true}
	y := op.Forward(p, []*Mat[float32]{x})
	oh, ow := h/2, w/2
	d := NewMat[float32](y.Shape...)
	for i := range d.Data {
		d.Data[i] = float32(i + 1)
	}
	dx := op.Backward(p, d)[0]
	want := make([]float32, len(x.Data))
	for pl := 0; pl < n*c; pl++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				bi := -1
				for _, k := range []int{(2*i)*w + 2*j, (2*i)*w + 2*j + 1, (2*i+1)*w + 2*j, (2*i+1)*w + 2*j + 1} {
					if bi < 0 || x.Data[pl*h*w+k] > x.Data[pl*h*w+bi] {
						bi = k
					}
				}
				o := pl*oh*ow + i*ow + j
				if y.Data[o] != x.Data[pl*h*w+bi] {
					t.Fatalf("output %d = %v, want %v", o, y.Data[o], x.Data[pl*h*w+bi])
				}
				want[pl*h*w+bi] += d.Data[o]
			}
		}
	}
	for i := range want {
		if dx.Data[i] != want[i] {
			t.Fatalf("dx[%d] = %v, want %v", i, dx.Data[i], want[i])
		}
	}
}

// TestMaxPool2x2Wide checks the 2×2/2 kernel (float32 AVX2 and portable)
// on rows wide enough for whole vectors plus a tail, with ties, signed
// zeros, infinities and NaN: the output bits and the argmax, which must
// pick the first maximal element with a strict > as the portable loop does.
func TestMaxPool2x2Wide(t *testing.T) {
	inf := float32(math.Inf(1))
	specials := []float32{float32(math.NaN()), -inf, inf, float32(math.Copysign(0, -1)), 0, 1, 1, -1}
	withSIMD(t, func(t *testing.T) {
		rng := rand.New(rand.NewSource(3))
		for _, w := range []int{16, 17, 33, 38, 50} {
			const h = 6
			x := NewMat[float32](1, 2, h, w)
			for i := range x.Data {
				x.Data[i] = float32(rng.Intn(3))
				if rng.Intn(4) == 0 {
					x.Data[i] = specials[rng.Intn(len(specials))]
				}
			}
			op, _ := newPool[float32](&ir.Vertex{Layer: &ir.Pool{Rank: 2, Op: ir.PoolMax, Kernel: []int{2, 2}}}, nil, nil, nil)
			y := op.Forward(&Pass[float32]{Train: true}, []*Mat[float32]{x})
			oh, ow := h/2, w/2
			for pl := 0; pl < 2; pl++ {
				for i := 0; i < oh; i++ {
					for j := 0; j < ow; j++ {
						bi := (2*i)*w + 2*j
						for _, k := range []int{(2*i)*w + 2*j + 1, (2*i+1)*w + 2*j, (2*i+1)*w + 2*j + 1} {
							if x.Data[pl*h*w+k] > x.Data[pl*h*w+bi] {
								bi = k
							}
						}
						o := pl*oh*ow + i*ow + j
						if !sameF32(y.Data[o], x.Data[pl*h*w+bi]) || op.(*poolOp[float32]).argmax[o] != int32(bi) {
							t.Fatalf("w=%d output %d = %v at %d, want %v at %d", w, o, y.Data[o], op.(*poolOp[float32]).argmax[o], x.Data[pl*h*w+bi], bi)
						}
					}
				}
			}
		}
	})
}
