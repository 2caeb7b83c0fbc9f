package nn

import (
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// TestGradActivationLayerAll samples hard swish on [-2, 2] only, its
// quadratic piece; here the inputs also reach both flat pieces.
func TestGradHardSwishAllPieces(t *testing.T) {
	coreCheckLayer(t, "hard_swish_wide", []int{4, 9}, &ir.ActivationLayer{Activation: ir.Act(ir.ActHardSwish)}, -6, 6)
}

func TestHardSwishValues(t *testing.T) {
	a, err := newActivation[float64](ir.Act(ir.ActHardSwish))
	if err != nil {
		t.Fatal(err)
	}
	// y = x·relu6(x+3)/6; slope as torch's hardswish_backward.
	for _, c := range []struct{ x, y, d float64 }{
		{-4, 0, 0}, {-3, 0, -0.5}, {-1.5, -0.375, 0}, {0, 0, 0.5}, {1.5, 1.125, 1}, {3, 3, 1.5}, {4, 4, 1},
	} {
		if y := a.scalar(c.x); y != c.y {
			t.Errorf("hard_swish(%g) = %g, want %g", c.x, y, c.y)
		}
		if d := a.deriv(c.x, c.y); d != c.d {
			t.Errorf("hard_swish'(%g) = %g, want %g", c.x, d, c.d)
		}
	}
}
