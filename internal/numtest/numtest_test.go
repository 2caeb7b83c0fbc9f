package numtest

import (
	"math"
	"testing"
)

func TestMaxAbsDiff(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, tc := range []struct {
		a    []float32
		b    []float64
		want float64
	}{
		{[]float32{1, 2, 3}, []float64{1, 2.5, 2}, 1},
		{nil, nil, 0},
		{[]float32{1, nan, 3}, []float64{1, 2, 3}, math.Inf(1)},
		{[]float32{1, 2, 3}, []float64{math.NaN(), 2, 3}, math.Inf(1)},
		{[]float32{inf}, []float64{math.Inf(1)}, math.Inf(1)},
		{[]float32{inf}, []float64{0}, math.Inf(1)},
		{[]float32{1, 2}, []float64{1}, math.Inf(1)},
	} {
		if got := MaxAbsDiff(tc.a, tc.b); got != tc.want {
			t.Errorf("MaxAbsDiff(%v, %v) = %g, want %g", tc.a, tc.b, got, tc.want)
		}
		if got := MaxAbsDiff(tc.b, tc.a); got != tc.want {
			t.Errorf("MaxAbsDiff(%v, %v) = %g, want %g", tc.b, tc.a, got, tc.want)
		}
	}
	if d := MaxAbsDiff([]float32{nan}, []float32{nan}); !(d > 1e9) {
		t.Errorf("NaN against NaN gives %g, which a tolerance check lets pass", d)
	}
}
