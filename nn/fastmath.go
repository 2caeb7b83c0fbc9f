package nn

import "math"

// Float32 versions of exp and erf for the float32 engine's hot loops
// (softmax, GELU, LSTM gates). They are accurate to a few ulp of float32 (tested
// against math.Exp and math.Erf), where the float64 library functions
// cost more than the matrix products around them. The float64 path, which
// gradient checks run on, keeps the library functions.

// expScaled32 writes y = e^(s·x) with the argument clamped to [-87, 88]
// (where sigmoid and tanh have long saturated and a softmax weight is
// negligible; e^±88 stays finite and normal), no branch on the value:
// x = k·ln2 + r, e^r by a degree-6 polynomial, 2^k through the exponent
// bits; AVX2 for the leading multiples of 8. NaN stays NaN. y may be x.
func expScaled32(y, x []float32, s float32) {
	y = y[:len(x)]
	i0 := expScaledSIMD(y, x, s)
	for i, v := range x[i0:] {
		i += i0
		v *= s
		// comparisons, not min and max, whose NaN and signed-zero rules
		// cost branches; NaN fails both and stays NaN
		if v > 88 {
			v = 88
		}
		if v < -87 {
			v = -87
		}
		k := v*1.44269504088896341 + 12582912 // 1.5·2²³: round to nearest
		k -= 12582912
		r := v - k*0.693359375 + k*2.12194440e-4
		p := float32(1.9875691500e-4)
		p = p*r + 1.3981999507e-3
		p = p*r + 8.3334519073e-3
		p = p*r + 4.1665795894e-2
		p = p*r + 1.6666665459e-1
		p = p*r + 5.0000001201e-1
		y[i] = (p*r*r + r + 1) * math.Float32frombits(uint32(int32(k)+127)<<23)
	}
}

// erff is erf(x) in float32: x·P(x²)/Q(x²) on [-4, 4] (a rational minimax
// fit with odd numerator and even denominator, the form Eigen and XLA use;
// erf is ±1 in float32 beyond), no exp and no branch but the clamp.
func erff(x float32) float32 {
	x = min(max(x, -4), 4)
	x2 := x * x
	p := x2*-2.72614225801306e-10 + 2.77068142495902e-08
	p = p*x2 - 2.10102402082508e-06
	p = p*x2 - 5.69250639462346e-05
	p = p*x2 - 7.34990630326855e-04
	p = p*x2 - 2.95459980854025e-03
	p = p*x2 - 1.60960333262415e-02
	q := x2*-1.45660718464996e-05 - 2.13374055278905e-04
	q = q*x2 - 1.68282697438203e-03
	q = q*x2 - 7.37332916720468e-03
	q = q*x2 - 1.42647390514189e-02
	return x * p / q
}

// softmaxRows32 is softmax over rows of n values in float32.
func softmaxRows32(x []float32, rows, n int) {
	for r := 0; r < rows; r++ {
		row := x[r*n : (r+1)*n]
		m := row[0]
		for _, v := range row[1:] {
			if v > m {
				m = v
			}
		}
		for j := range row {
			row[j] -= m
		}
		expScaled32(row, row, 1)
		var s float32
		for _, e := range row {
			s += e
		}
		inv := 1 / s
		for j := range row {
			row[j] *= inv
		}
	}
}
