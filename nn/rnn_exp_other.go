//go:build !amd64

package nn

func expScaledSIMD(y, x []float32, s float32) int { return 0 }

func lstmGatesSIMD(zi, zf, zg, zo, cp, cv, ac, h []float32, bi, bf, bg, bo float32) int { return 0 }

func lstmGatesBackSIMD(ai, af, ag, ao, ac, cp, dh, dc []float32, db *[4]float32) int { return 0 }
