package nn

import (
	"math"
	"math/rand"
	"testing"
)

// TestNormReductionsSIMDMatchPortable: BatchNorm's row sums (Σ x, Σ (x−μ)²
// in float64, Σ d and Σ d·x in float32) agree with the portable loops on
// rows that are and are not multiples of the vector loop's 16 values.
func TestNormReductionsSIMDMatchPortable(t *testing.T) {
	avail := useSIMD // false where the CPU lacks AVX2+FMA: both sides portable
	defer func() { useSIMD = avail }()
	rng := rand.New(rand.NewSource(5))
	for _, n := range []int{0, 5, 16, 17, 48, 784, 1001} {
		x, d := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64()*3 + 2)
			d[i] = float32(rng.NormFloat64())
		}
		useSIMD = false
		s, sq := sumRow(x), sqDevRow(x, 1.5)
		ds, dsx := sumDotRow(d, x)
		useSIMD = avail
		if _, did := sumRowSIMD(x); avail && n >= 16 && did == 0 {
			t.Fatal("the vector loop did not run")
		}
		s2, sq2 := sumRow(x), sqDevRow(x, 1.5)
		ds2, dsx2 := sumDotRow(d, x)
		for _, c := range []struct {
			what     string
			got, ref float64
			tol      float64
		}{{"Σx", s2, s, 1e-12}, {"Σ(x−μ)²", sq2, sq, 1e-12}, {"Σd", float64(ds2), float64(ds), 1e-5}, {"Σd·x", float64(dsx2), float64(dsx), 1e-5}} {
			if math.Abs(c.got-c.ref) > c.tol*(float64(n)+math.Abs(c.ref)) {
				t.Errorf("n=%d %s: %v, portable %v", n, c.what, c.got, c.ref)
			}
		}
	}
}
