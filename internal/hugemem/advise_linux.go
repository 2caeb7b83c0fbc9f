package hugemem

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Advise asks for transparent huge pages over the whole 2 MiB pages
// inside b (THP "madvise" mode grants them only where asked). It is advice:
// an error changes nothing but the speed.
func Advise(b []byte) {
	const huge = 2 << 20
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	lo := (p + huge - 1) &^ (huge - 1)
	hi := (p + uintptr(len(b))) &^ (huge - 1)
	if hi > lo {
		_ = unix.Madvise(b[lo-p:hi-p], unix.MADV_HUGEPAGE)
	}
}
