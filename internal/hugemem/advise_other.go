//go:build !linux

package hugemem

// Advise does nothing outside Linux.
func Advise(b []byte) {}
