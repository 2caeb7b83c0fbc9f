//go:build amd64

package nn

import "math"

//go:noescape
func expScaledAVX(x, y *float32, n int, s float32, c *float32)

// rnnExpConst are expScaled32's constants for expScaledAVX.
var rnnExpConst = [14]float32{88, -87, 1.44269504088896341, 12582912, 0.693359375, 2.12194440e-4,
	1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1,
	1, math.Float32frombits(127)}

// expScaledSIMD does expScaled32 for the leading multiple of 8 elements and
// returns how many it did.
func expScaledSIMD(y, x []float32, s float32) int {
	n := len(x) &^ 7
	if !useSIMD || n == 0 {
		return 0
	}
	_ = y[n-1]
	expScaledAVX(&x[0], &y[0], n, s, &rnnExpConst[0])
	return n
}

//go:noescape
func lstmGatesAVX(zi, zf, zg, zo, cp, cv, ac, h *float32, n int, b, c *float32)

// lstmGatesSIMD does lstmUnitForward32 for the leading multiple of 8 rows
// and returns how many it did.
func lstmGatesSIMD(zi, zf, zg, zo, cp, cv, ac, h []float32, bi, bf, bg, bo float32) int {
	n := len(h) &^ 7
	if !useSIMD || n == 0 {
		return 0
	}
	_, _, _, _, _, _, _ = zi[n-1], zf[n-1], zg[n-1], zo[n-1], cp[n-1], cv[n-1], ac[n-1]
	b := [4]float32{-bi, -bf, bg, -bo}
	lstmGatesAVX(&zi[0], &zf[0], &zg[0], &zo[0], &cp[0], &cv[0], &ac[0], &h[0], n, &b[0], &rnnExpConst[0])
	return n
}

//go:noescape
func lstmGatesBackAVX(ai, af, ag, ao, ac, cp, dh, dc *float32, n int, db *float32)

// lstmGatesBackSIMD does lstmUnitBackward (without an output gradient)
// for the leading multiple of 8 rows, adding their dLoss/dz sums to db,
// and returns how many it did.
func lstmGatesBackSIMD(ai, af, ag, ao, ac, cp, dh, dc []float32, db *[4]float32) int {
	n := len(dh) &^ 7
	if !useSIMD || n == 0 {
		return 0
	}
	_, _, _, _, _, _, _ = ai[n-1], af[n-1], ag[n-1], ao[n-1], ac[n-1], cp[n-1], dc[n-1]
	var s [4]float32
	lstmGatesBackAVX(&ai[0], &af[0], &ag[0], &ao[0], &ac[0], &cp[0], &dh[0], &dc[0], n, &s[0])
	for q := range db {
		db[q] += s[q]
	}
	return n
}
