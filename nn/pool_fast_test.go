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

// TestMaxPoolPlainMatchesWindow compares the tap-by-tap loop (maxPlain,
// with and without its AVX2 taps) with the general per-window one
// (maxWindow) on rows full of ties, signed zeros and NaNs: every output's
// bits and argmax, with padding, strides below and above the kernel, ceil
// mode and 1-D windows.
func TestMaxPoolPlainMatchesWindow(t *testing.T) {
	withSIMD(t, func(t *testing.T) {
		for _, p := range []*ir.Pool{
			{Rank: 2, Op: ir.PoolMax, Kernel: []int{3, 3}, Strides: []int{2, 2}, Padding: ir.PadExplicit, Pads: []int{1, 1, 1, 1}},
			{Rank: 2, Op: ir.PoolMax, Kernel: []int{3, 2}, Strides: []int{1, 1}, Padding: ir.PadSame},
			{Rank: 2, Op: ir.PoolMax, Kernel: []int{2, 3}, Strides: []int{2, 3}, CeilMode: true},
			{Rank: 1, Op: ir.PoolMax, Kernel: []int{4}, Strides: []int{2}, Padding: ir.PadExplicit, Pads: []int{2, 1}},
		} {
			in := []int{2, 3, 9, 45}
			if p.Rank == 1 {
				in = []int{2, 3, 61}
			}
			rng := rand.New(rand.NewSource(5))
			x := make([]float32, ir.NumElements(in))
			for i := range x {
				x[i] = float32(rng.Intn(3) - 1)
				if x[i] == 0 && rng.Intn(2) == 0 {
					x[i] = float32(math.Copysign(0, -1))
				}
			}
			for i := 7; i < len(x); i += 97 {
				x[i] = float32(math.NaN())
			}
			op, err := newPool[float32](&ir.Vertex{Layer: p}, nil, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			o := op.(*poolOp[float32])
			if err := o.setup(in); err != nil {
				t.Fatal(err)
			}
			ip, opl := o.h*o.w, o.oh*o.ow
			got, gotArg := make([]float32, opl), make([]int32, opl)
			for pl := 0; pl < in[0]*in[1]; pl++ {
				src := x[pl*ip : (pl+1)*ip]
				o.maxPlain(src, got, gotArg)
				for i := 0; i < o.oh; i++ {
					for j := 0; j < o.ow; j++ {
						want, wantArg := o.maxWindow(src, 0, i, j)
						k := i*o.ow + j
						if math.Float32bits(got[k]) != math.Float32bits(want) || gotArg[k] != wantArg {
							t.Fatalf("%v plane %d output (%d,%d): %v at %d, maxWindow %v at %d", p.Kernel, pl, i, j, got[k], gotArg[k], want, wantArg)
						}
					}
				}
			}
		}
	})
}

// TestMaxPoolInferenceKeepsNoArgmax: a pass that will not run Backward
// (inference, or a frozen vertex's NoGrad) pools to the same bits as a
// training pass, 2×2/2 and 3×3/2 windows, with and without AVX2, and
// allocates no argmax.
func TestMaxPoolInferenceKeepsNoArgmax(t *testing.T) {
	withSIMD(t, func(t *testing.T) {
		rng := rand.New(rand.NewSource(4))
		x := NewMat[float32](3, 4, 23, 37)
		for i := range x.Data {
			x.Data[i] = float32(rng.Intn(5))
		}
		for _, l := range []ir.Pool{{Rank: 2, Op: ir.PoolMax, Kernel: []int{2, 2}}, {Rank: 2, Op: ir.PoolMax, Kernel: []int{3, 3}, Strides: []int{2, 2}, Padding: ir.PadSame}} {
			train, _ := newPool[float32](&ir.Vertex{Layer: &l}, nil, nil, nil)
			want := train.Forward(&Pass[float32]{Train: true}, []*Mat[float32]{x})
			for _, p := range []*Pass[float32]{{}, {Train: true, NoGrad: true}} {
				op, _ := newPool[float32](&ir.Vertex{Layer: &l}, nil, nil, nil)
				got := op.Forward(p, []*Mat[float32]{x})
				for i := range want.Data {
					if !sameF32(got.Data[i], want.Data[i]) {
						t.Fatalf("%v kernel %v output %d = %v, training pass %v", *p, l.Kernel, i, got.Data[i], want.Data[i])
					}
				}
				if n := len(op.(*poolOp[float32]).argmax); n != 0 {
					t.Fatalf("%v kernel %v keeps %d argmax entries", *p, l.Kernel, n)
				}
			}
		}
	})
}

// TestMaxPoolValuesMatchTraining: an inference pass's max pooling
// (maxValues: rows, then columns, no argmax) gives a training pass's
// values — ties and signed zeros equal as numbers, the planes holding a
// NaN pooled again tap by tap to the same bits — with padding, strides 1,
// 2 and 3, ceil mode and 1-D windows, with and without AVX2.
func TestMaxPoolValuesMatchTraining(t *testing.T) {
	withSIMD(t, func(t *testing.T) {
		for _, l := range []ir.Pool{
			{Rank: 2, Op: ir.PoolMax, Kernel: []int{3, 3}, Strides: []int{2, 2}, Padding: ir.PadExplicit, Pads: []int{1, 1, 1, 1}},
			{Rank: 2, Op: ir.PoolMax, Kernel: []int{3, 3}, Strides: []int{1, 1}, Padding: ir.PadSame},
			{Rank: 2, Op: ir.PoolMax, Kernel: []int{3, 2}, Strides: []int{1, 1}, Padding: ir.PadSame},
			{Rank: 2, Op: ir.PoolMax, Kernel: []int{2, 3}, Strides: []int{2, 3}, CeilMode: true},
			{Rank: 1, Op: ir.PoolMax, Kernel: []int{4}, Strides: []int{2}, Padding: ir.PadExplicit, Pads: []int{2, 1}},
		} {
			in := []int{2, 3, 9, 45}
			if l.Rank == 1 {
				in = []int{2, 3, 61}
			}
			rng := rand.New(rand.NewSource(6))
			x := NewMat[float32](in...)
			for i := range x.Data {
				x.Data[i] = float32(rng.Intn(7) - 3)
				if x.Data[i] == 0 && rng.Intn(2) == 0 {
					x.Data[i] = float32(math.Copysign(0, -1))
				}
			}
			plane := len(x.Data) / (in[0] * in[1])
			for _, i := range []int{plane + 7, 3*plane + plane/2, 6*plane - 1} { // planes 1, 3 and 5
				x.Data[i] = float32(math.NaN())
			}
			train, _ := newPool[float32](&ir.Vertex{Layer: &l}, nil, nil, nil)
			want := train.Forward(&Pass[float32]{Train: true}, []*Mat[float32]{x})
			op, _ := newPool[float32](&ir.Vertex{Layer: &l}, nil, nil, nil)
			got := op.Forward(&Pass[float32]{}, []*Mat[float32]{x})
			if !op.(*poolOp[float32]).windowsFull {
				t.Fatalf("kernel %v: the case does not take maxValues", l.Kernel)
			}
			for i := range want.Data {
				if g, w := got.Data[i], want.Data[i]; g != w && !(g != g && sameF32(g, w)) {
					t.Fatalf("kernel %v output %d = %v, training pass %v", l.Kernel, i, g, w)
				}
			}
		}
	})
}
