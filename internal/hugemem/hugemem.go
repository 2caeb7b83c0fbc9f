// Package hugemem allocates the large buffers of models (file bytes,
// weights, activations) on transparent huge pages where the OS grants them.
//
// Faulting fresh memory in page by page cost about 10 µs a 4 KiB page on the
// development VM (the hypervisor backs each guest page on first touch):
// reading VGG16's 553 MB ONNX file took 2.0 s that way (136k faults) and
// 0.4–1.3 s on 2 MiB pages (1.2k faults), measured 2026-12-07.
// Linux's THP "madvise" mode, a common default, grants huge pages only to
// memory that asks for them before it is touched.
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
