//go:build !amd64

package nn

func sgemmKernels() []sgemmMicro { return []sgemmMicro{sgemmGo4x4} }
