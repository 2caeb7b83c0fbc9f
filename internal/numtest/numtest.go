// Package numtest holds the comparison tests use for float results: one
// max-difference helper for every package, which never lets NaN pass
// (`d > tol` is false for NaN, and math.Max and max propagate it).
package numtest

import "math"

// Float is a float32 or float64 element type.
type Float interface{ ~float32 | ~float64 }

// MaxAbsDiff returns the largest |a[i] - b[i]|, computed in float64. It
// is +Inf when the lengths differ or when any difference is NaN (a NaN on
// either side, or infinities of the same sign), so that a caller's
// `d > tol` fails.
func MaxAbsDiff[A, B Float](a []A, b []B) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	m := 0.0
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if math.IsNaN(d) {
			return math.Inf(1)
		}
		if d > m {
			m = d
		}
	}
	return m
}
