package nn

import (
	"math"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// TestGradActivationLayerAll samples on [-2, 2]; here gelu_tanh and mish
// are also checked where their curves flatten out.
func TestGradGELUTanhMishWide(t *testing.T) {
	for _, k := range []ir.ActKind{ir.ActGELUTanh, ir.ActMish} {
		t.Run(string(k), func(t *testing.T) {
			coreCheckLayer(t, "wide_"+string(k), []int{4, 9}, &ir.ActivationLayer{Activation: ir.Act(k)}, -8, 8)
		})
	}
}

// The textbook forms, fine for moderate x.
func geluTanhRef(x float64) float64 {
	return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
}

func mishRef(x float64) float64 { return x * math.Tanh(math.Log(1+math.Exp(x))) }

func TestGELUTanhMishValues(t *testing.T) {
	for _, c := range []struct {
		kind ir.ActKind
		ref  func(float64) float64
	}{{ir.ActGELUTanh, geluTanhRef}, {ir.ActMish, mishRef}} {
		a, err := newActivation[float64](ir.Act(c.kind))
		if err != nil {
			t.Fatal(err)
		}
		for x := -6.0; x <= 6; x += 0.25 {
			if y, want := a.scalar(x), c.ref(x); math.Abs(y-want) > 1e-14*math.Max(1, math.Abs(want)) {
				t.Errorf("%s(%g) = %.17g, want %.17g", c.kind, x, y, want)
			}
			h := 1e-6
			fd := (c.ref(x+h) - c.ref(x-h)) / (2 * h)
			if d := a.deriv(x, a.scalar(x)); math.Abs(d-fd) > 1e-8 {
				t.Errorf("%s'(%g) = %.12g, finite difference %.12g", c.kind, x, d, fd)
			}
		}
		// Far out: finite, y → x or 0, y' → 1 or 0, in float32 and float64.
		a32, _ := newActivation[float32](ir.Act(c.kind))
		for _, x := range []float64{-3e38, -1e6, -1000, -60, 60, 1000, 1e6, 3e38} {
			x = float64(float32(x))
			wantY, wantD := 0.0, 0.0
			if x > 0 {
				wantY, wantD = x, 1
			}
			y, d := a.scalar(x), a.deriv(x, a.scalar(x))
			y32 := float64(a32.scalar(float32(x)))
			d32 := float64(a32.deriv(float32(x), float32(y32)))
			for _, got := range [][2]float64{{y, d}, {y32, d32}} {
				if math.Abs(got[0]-wantY) > 1e-12*math.Abs(x) || math.Abs(got[1]-wantD) > 1e-12 {
					t.Errorf("%s(%g) = %g, slope %g; want %g, %g", c.kind, x, got[0], got[1], wantY, wantD)
				}
			}
		}
	}
	// Where 1+tanh(u) cancels to 0 the sigmoid form keeps the tail:
	// gelu_tanh(-10) = -10·σ(2u) ≈ -1.2e-37.
	a, _ := newActivation[float64](ir.Act(ir.ActGELUTanh))
	u := math.Sqrt(2/math.Pi) * (-10 + 0.044715*-1000)
	if y, want := a.scalar(-10), -10*math.Exp(2*u)/(1+math.Exp(2*u)); y == 0 || math.Abs(y-want) > 1e-12*math.Abs(want) {
		t.Errorf("gelu_tanh(-10) = %g, want %g", y, want)
	}
}
