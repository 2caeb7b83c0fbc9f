package nn

import "math"

// Float32 versions of exp and erf for the float32 engine's hot loops
// (softmax, GELU). They are accurate to a few ulp of float32 (tested
// against math.Exp and math.Erf), where the float64 library functions
// cost more than the matrix products around them. The float64 path, which
// gradient checks run on, keeps the library functions.

// expf is e^x in float32: x = k·ln2 + r with |r| ≤ ln2/2, e^r by a degree-6
// polynomial, 2^k through the exponent bits.
func expf(x float32) float32 {
	switch {
	case x > 88.7228:
		return float32(math.Inf(1))
	case x < -103.97:
		return 0
	case x != x:
		return x
	}
	kf := x * 1.44269504088896341
	if kf < 0 {
		kf -= 0.5
	} else {
		kf += 0.5
	}
	k := float32(int32(kf)) // round to nearest
	r := x - k*0.693359375 + k*2.12194440e-4
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	e := p*r*r + r + 1
	ki := int32(k)
	switch {
	case ki < -126: // subnormal result: scale in two steps
		return e * math.Float32frombits(uint32(ki+126+127)<<23) * math.Float32frombits(1<<23)
	case ki > 127:
		return e * math.Float32frombits(uint32(ki-1+127)<<23) * 2
	}
	return e * math.Float32frombits(uint32(ki+127)<<23)
}

// erff is erf(x) in float32 (Abramowitz and Stegun 7.1.26 refined: the
// rational approximation of erfc with an exp factor; |error| < 5e-7 in float32).
func erff(x float32) float32 {
	ax := x
	if ax < 0 {
		ax = -ax
	}
	if ax > 4 {
		if x < 0 {
			return -1
		}
		return 1
	}
	// erfc(z) ≈ t·exp(-z² + P(t)), t = 1/(1 + z/2) (Numerical Recipes erfcc)
	t := 1 / (1 + 0.5*ax)
	p := float32(0.17087277)
	p = p*t - 0.82215223
	p = p*t + 1.48851587
	p = p*t - 1.13520398
	p = p*t + 0.27886807
	p = p*t - 0.18628806
	p = p*t + 0.09678418
	p = p*t + 0.37409196
	p = p*t + 1.00002368
	p = p*t - 1.26551223
	r := 1 - t*expf(-ax*ax+p)
	if x < 0 {
		return -r
	}
	return r
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
		var s float32
		for j, v := range row {
			e := expf(v - m)
			row[j] = e
			s += e
		}
		inv := 1 / s
		for j := range row {
			row[j] *= inv
		}
	}
}
