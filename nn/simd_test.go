package nn

import (
	"math"
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// TestClampAffineRange checks the element-wise loops (AVX2 and portable)
// on every length up to a few vectors, in place and not, against the
// definitions, including NaN propagation, infinities and signed zeros.
func TestClampAffineRange(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	specials := []float32{nan, -inf, inf, float32(math.Copysign(0, -1)), 0, 6, -6, 3, 7, -0.5}
	withSIMD(t, func(t *testing.T) {
		rng := rand.New(rand.NewSource(9))
		for n := 0; n <= 37; n++ {
			x := make([]float32, n)
			for i := range x {
				if rng.Intn(3) == 0 {
					x[i] = specials[rng.Intn(len(specials))]
				} else {
					x[i] = float32(rng.NormFloat64() * 5)
				}
			}
			for _, lh := range [][2]float32{{0, 6}, {0, inf}, {-1.5, 2.5}} {
				lo, hi := lh[0], lh[1]
				y := make([]float32, n)
				clampRange(x, y, lo, hi)
				inPlace := append([]float32(nil), x...)
				clampRange(inPlace, inPlace, lo, hi)
				for i, v := range x {
					want := v
					switch {
					case v < lo:
						want = lo
					case v > hi:
						want = hi
					}
					if !sameF32(y[i], want) || !sameF32(inPlace[i], want) {
						t.Fatalf("n=%d clamp(%v, %v, %v) = %v (in place %v), want %v", n, v, lo, hi, y[i], inPlace[i], want)
					}
				}
			}
			sc, sh := float32(1.7), float32(-0.3)
			y := make([]float32, n)
			affineRange(x, y, sc, sh)
			inPlace := append([]float32(nil), x...)
			affineRange(inPlace, inPlace, sc, sh)
			for i, v := range x {
				p := v * sc
				want := p + sh
				if !sameF32(y[i], want) || !sameF32(inPlace[i], want) {
					t.Fatalf("n=%d affine(%v) = %v (in place %v), want %v", n, v, y[i], inPlace[i], want)
				}
			}
		}
	})
}

// sameF32 is bit equality, except that any NaN equals any NaN.
func sameF32(a, b float32) bool {
	if a != a || b != b {
		return a != a && b != b
	}
	return math.Float32bits(a) == math.Float32bits(b)
}

// TestReLUKeepsNaN pins the documented NaN behaviour of the piecewise
// linear activations in both precisions.
func TestReLUKeepsNaN(t *testing.T) {
	for _, k := range []string{"relu", "relu6"} {
		a32 := mustAct[float32](t, k)
		a64 := mustAct[float64](t, k)
		x32 := []float32{float32(math.NaN()), -1, 7, 2, 0, 0, 0, 0, float32(math.NaN())}
		y32 := make([]float32, len(x32))
		a32.forwardRange(x32, y32)
		x64 := []float64{math.NaN(), -1, 7, 2}
		y64 := make([]float64, len(x64))
		a64.forwardRange(x64, y64)
		if y32[0] == y32[0] || y32[8] == y32[8] || y64[0] == y64[0] {
			t.Fatalf("%s: NaN input gave %v, %v, %v", k, y32[0], y32[8], y64[0])
		}
		if y32[1] != 0 || y64[1] != 0 || y32[3] != 2 || y64[3] != 2 {
			t.Fatalf("%s: got %v, %v", k, y32, y64)
		}
	}
}

func mustAct[F Float](t *testing.T, kind string) activation[F] {
	t.Helper()
	a, err := newActivation[F](ir.Act(ir.ActKind(kind)))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestReLUBackwardRange checks the ReLU and ReLU6 derivative loops (AVX2
// and portable), in place and not, against the definition on every length
// up to a few vectors, with NaN, infinities, signed zeros and the kinks.
func TestReLUBackwardRange(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	specials := []float32{nan, -inf, inf, float32(math.Copysign(0, -1)), 0, 6, -6, 3, 7, 5.9999995}
	withSIMD(t, func(t *testing.T) {
		rng := rand.New(rand.NewSource(11))
		for _, k := range []string{"relu", "relu6"} {
			a := mustAct[float32](t, k)
			for n := 0; n <= 37; n++ {
				x, dy := make([]float32, n), make([]float32, n)
				for i := range x {
					x[i] = float32(rng.NormFloat64() * 5)
					if rng.Intn(3) == 0 {
						x[i] = specials[rng.Intn(len(specials))]
					}
					dy[i] = float32(rng.NormFloat64())
					if rng.Intn(5) == 0 {
						dy[i] = specials[rng.Intn(len(specials))]
					}
				}
				dx := make([]float32, n)
				a.backwardRange(x, nil, dy, dx)
				inPlace := append([]float32(nil), dy...)
				a.backwardRange(x, nil, inPlace, inPlace)
				for i, v := range x {
					want := float32(0)
					if v > 0 && (k == "relu" || v < 6) {
						want = dy[i]
					}
					if !sameF32(dx[i], want) || !sameF32(inPlace[i], want) {
						t.Fatalf("%s n=%d: d(%v)·%v = %v (in place %v), want %v", k, n, v, dy[i], dx[i], inPlace[i], want)
					}
				}
			}
		}
	})
}

// TestAddTo checks dst += src (AVX2 and portable) on every length up to a
// few vectors against the element-wise sum, with a longer dst.
func TestAddTo(t *testing.T) {
	specials := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), 0}
	withSIMD(t, func(t *testing.T) {
		rng := rand.New(rand.NewSource(12))
		for n := 0; n <= 37; n++ {
			src, dst := make([]float32, n), make([]float32, n+3)
			for i := range dst {
				dst[i] = float32(rng.NormFloat64())
				if i < n {
					src[i] = float32(rng.NormFloat64())
					if rng.Intn(4) == 0 {
						src[i] = specials[rng.Intn(len(specials))]
					}
				}
			}
			want := append([]float32(nil), dst...)
			for i, v := range src {
				want[i] += v
			}
			addTo(dst, src)
			for i := range dst {
				if !sameF32(dst[i], want[i]) {
					t.Fatalf("n=%d: dst[%d] = %v, want %v", n, i, dst[i], want[i])
				}
			}
		}
	})
}
