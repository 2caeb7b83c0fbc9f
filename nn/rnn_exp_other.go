//go:build !amd64

package nn

func expScaledSIMD(y, x []float32, s float32) int { return 0 }
