//go:build amd64

package nn

//go:noescape
func momentumAVX(w, grad, vel *float32, n int, ns, mu, lr float64, nesterov bool)

// adamConsts are adamAVX's constants, in the order it loads them.
type adamConsts struct {
	ns, b1, c1, b2, c2, alpha, eps, lrwd float64
	decay                                int
}

//go:noescape
func adamAVX(w, grad, m, v *float32, n int, k *adamConsts)

// momentumSIMD runs the plain momentum/Nesterov loop over the leading
// multiple of 4 elements and returns how many it did.
func momentumSIMD(w, g, vel []float32, ns, mu, lr float64, nesterov bool) int {
	n := len(w) &^ 3
	if !useSIMD || n == 0 {
		return 0
	}
	_, _ = g[n-1], vel[n-1]
	momentumAVX(&w[0], &g[0], &vel[0], n, ns, mu, lr, nesterov)
	return n
}

// adamSIMD runs the plain Adam/AdamW loop over the leading multiple of 4
// elements and returns how many it did.
func adamSIMD(w, g, m, v []float32, k *adamConsts) int {
	n := len(w) &^ 3
	if !useSIMD || n == 0 {
		return 0
	}
	_, _, _ = g[n-1], m[n-1], v[n-1]
	adamAVX(&w[0], &g[0], &m[0], &v[0], n, k)
	return n
}

//go:noescape
func sgdAVX(w, grad *float32, n int, ns, lr float64)

// sgdSIMD runs the plain SGD loop over the leading multiple of 4 elements
// and returns how many it did.
func sgdSIMD(w, g []float32, ns, lr float64) int {
	n := len(w) &^ 3
	if !useSIMD || n == 0 {
		return 0
	}
	_ = g[n-1]
	sgdAVX(&w[0], &g[0], n, ns, lr)
	return n
}
