// Package hugemem allocates the large buffers of models (weights,
// activations, gradients) on transparent huge pages where the OS grants them.
//
// What fresh memory costs depends on the hypervisor. On the development VM
// the host backs a guest page on its first touch, about 11 µs a 4 KiB page
// (an 18 GB fill, 2026-12-08), on 4 KiB and 2 MiB pages alike; the huge
// pages save the guest's own faults: reading VGG16's 553 MB ONNX file took
// 2.0 s on 4 KiB pages (136k faults) and 0.4–1.3 s on 2 MiB pages (1.2k
// faults), measured 2026-12-07. Memory the host still backs is cheap either
// way (600 MiB: 0.2 s on 4 KiB pages, 0.08 s on 2 MiB pages), but freed
// 2 MiB blocks are handed back to the host within seconds, small blocks are
// not: the model file's bytes, read once, stay on 4 KiB pages
// (boundedio.ReadFile says why). Linux's THP "madvise" mode, a common
// default, grants huge pages only to memory that asks for them before it is
// touched.
package hugemem

import "unsafe"

// Min is the least size in bytes worth asking huge pages for.
const Min = 8 << 20

// Make is make([]T, n), advised for huge pages when it is at least Min bytes.
// Memory the Go runtime reuses is already backed; the advice then changes
// nothing.
func Make[T any](n int) []T {
	s := make([]T, n)
	var t T
	if bytes := uintptr(n) * unsafe.Sizeof(t); bytes >= Min {
		Advise(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), bytes))
	}
	return s
}
