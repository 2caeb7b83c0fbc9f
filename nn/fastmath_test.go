package nn

import (
	"math"
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// erff against math.Erf (expScaled32 has TestLSTMExpScaled32).
func TestErff(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	worst := 0.0
	for i := 0; i < 200000; i++ {
		x := float32(rng.Float64()*20 - 10)
		if i%2 == 0 {
			x = float32(rng.NormFloat64() * 3)
		}
		worst = math.Max(worst, math.Abs(float64(erff(x))-math.Erf(float64(x))))
	}
	if worst > 5e-7 {
		t.Errorf("erff absolute error %.3g", worst)
	}
	t.Logf("erff abs %.3g", worst)
}

// softmaxRows32 against the float64 softmax, with a masked (-1e9) score.
func TestSoftmaxRows32(t *testing.T) {
	x := []float32{1, 2, 3, -1e9, 0.5, -4, 7, 7}
	want := make([]float64, len(x))
	x64 := make([]float64, len(x))
	for i, v := range x {
		x64[i] = float64(v)
	}
	softmax(x64, want, 2, 4, 1, false)
	softmaxRows32(x, 2, 4)
	for i := range x {
		if d := math.Abs(float64(x[i]) - want[i]); !(d <= 1e-7) {
			t.Fatalf("weight %d = %v, want %v", i, x[i], want[i])
		}
	}
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

// TestGELUSIMDBits checks the AVX2 GELU against the Go loop bit for bit:
// the whole erff range and past its clamp, signed zeros, infinities, NaN,
// a length that leaves a tail.
func TestGELUSIMDBits(t *testing.T) {
	if !useSIMD {
		t.Skip("no AVX2: GELU has only the Go loop")
	}
	x := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e-30, -1e-30, 5.657, -5.657, 6, -7}
	for v := float32(-9); v < 9; v += 0.0137 {
		x = append(x, v)
	}
	x = append(x, 3) // a tail past the multiple of 8
	want := make([]float32, len(x))
	for i, v := range x {
		want[i] = 0.5 * v * (1 + erff(v*(1/math.Sqrt2)))
	}
	got := make([]float32, len(x))
	a, _ := newActivation[float32](ir.Act(ir.ActGELU))
	a.forwardRange(x, got)
	if geluSIMD(x, make([]float32, len(x))) == 0 {
		t.Fatal("the AVX2 loop did not run")
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
			t.Fatalf("gelu(%v) = %v (%#x), Go loop %v (%#x)", x[i], got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}
