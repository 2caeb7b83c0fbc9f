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
