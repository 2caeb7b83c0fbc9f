//go:build !amd64

package nn

var useSIMD = false

func clampSIMD(x, y []float32, lo, hi float32) int           { return 0 }
func affineSIMD(x, y []float32, sc, sh float32) int          { return 0 }
func dwRow3x3SIMD(dst, r0, r1, r2, w []float32, sw int) bool { return false }
