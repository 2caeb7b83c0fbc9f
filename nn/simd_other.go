//go:build !amd64

package nn

var useSIMD = false

func sumRowSIMD(r []float32) (float64, int)               { return 0, 0 }
func sqDevRowSIMD(r []float32, mu float64) (float64, int) { return 0, 0 }
func sumDotRowSIMD(d, x []float32) (s, sx float32, n int) { return 0, 0, 0 }

func clampSIMD(x, y []float32, lo, hi float32) int                      { return 0 }
func affineSIMD(x, y []float32, sc, sh float32) int                     { return 0 }
func reluGradSIMD(x, dy, dx []float32, hi float32) int                  { return 0 }
func max2x2RowSIMD(r0, r1, dst []float32, arg []int32, w, base int) int { return 0 }
func addSIMD(dst, src []float32) int                                    { return 0 }
func dwRow3x3SIMD(dst, r0, r1, r2, w []float32, sw int) bool            { return false }

func transposeColsSIMD(d, b []float32, off []int, kb, nr int) int { return 0 }

var useTransposeAVX512 = false

func maxTapSIMD(d []float32, a []int32, row []float32, x0, s, base int) int { return 0 }

func geluSIMD(x, y []float32) int { return 0 }

func winogradInputSIMD(rows *[4][]float32, tx, n int, v []float32, per int) int { return 0 }

func winogradOutputSIMD(m []float32, stride int, top, bot []float32, n int) int { return 0 }

// useWinogradFilterAVX512 is simd_amd64.go's (tests set it).
var useWinogradFilterAVX512 = false

func winogradFilterPanelSIMD(w []float32, C, ir, rows, pc, kb, mr, mpad int, pk *[16][]float32) bool {
	return false
}

func evensSIMD(dst, src []float32) int { return 0 }

type adamConsts struct {
	ns, b1, c1, b2, c2, alpha, eps, lrwd float64
	decay                                int
}

func momentumSIMD(w, g, vel []float32, ns, mu, lr float64, nesterov bool) int { return 0 }
func adamSIMD(w, g, m, v []float32, k *adamConsts) int                        { return 0 }
func sgdSIMD(w, g []float32, ns, lr float64) int                              { return 0 }

func maxIntoSIMD(d, s []float32) (int, bool) { return 0, false }

func max3s2SIMD(d, m []float32) int { return 0 }

func deinterleaveSIMD(ev, od, src []float32) int { return 0 }

func biasClampAddSIMD(row, skip []float32, b, lo1, hi1, lo2, hi2 float32) int { return 0 }
