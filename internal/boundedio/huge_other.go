//go:build !linux

package boundedio

func adviseHuge(b []byte) {}
