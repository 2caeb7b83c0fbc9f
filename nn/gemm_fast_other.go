//go:build !amd64

package nn

func bestSgemmKernel() sgemmMicro { return sgemmGo4x4 }
