package nn

import (
	"math"
	"math/rand"
	"testing"
)

func TestExpfAndErff(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	worstExp, worstErf := 0.0, 0.0
	for i := 0; i < 200000; i++ {
		x := float32(rng.Float64()*200 - 100)
		if i%2 == 0 {
			x = float32(rng.NormFloat64() * 3)
		}
		want := math.Exp(float64(x))
		if want > math.MaxFloat32 {
			continue
		}
		got := float64(expf(x))
		if want > 1e-37 {
			worstExp = math.Max(worstExp, math.Abs(got-want)/want)
		} else if math.Abs(got-want) > 1e-37 {
			t.Fatalf("expf(%g) = %g, want %g", x, got, want)
		}
		worstErf = math.Max(worstErf, math.Abs(float64(erff(x))-math.Erf(float64(x))))
	}
	if worstExp > 4e-7 {
		t.Errorf("expf relative error %.3g", worstExp)
	}
	if worstErf > 5e-7 {
		t.Errorf("erff absolute error %.3g", worstErf)
	}
	if !math.IsNaN(float64(expf(float32(math.NaN())))) || expf(100) != float32(math.Inf(1)) || expf(-200) != 0 {
		t.Error("expf edge cases")
	}
	t.Logf("expf rel %.3g, erff abs %.3g", worstExp, worstErf)
}

func BenchmarkErff(b *testing.B) {
	x := make([]float32, 4096)
	for i := range x {
		x[i] = float32(i-2048) / 512
	}
	b.ResetTimer()
	var s float32
	for i := 0; i < b.N; i++ {
		for _, v := range x {
			s += erff(v)
		}
	}
	_ = s
}
