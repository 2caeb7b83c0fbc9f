package boundedio

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
)

// ReadFile is os.ReadFile for model files, which run to hundreds of MB:
// the buffer is sized once from the file.
//
// It is not put on huge pages (hugemem), nor are the weights the ONNX
// importer keeps in it. On the development VM (Firecracker, whose balloon
// takes back large free blocks: free page reporting), memory another
// process has just freed comes back on 2 MiB pages the host has to back
// again, 512 of its pages at a time, while 4 KiB pages come first from
// small free blocks it still backs. VGG16's predict process right after
// ONNX Runtime's, four runs each, 2026-12-08: 2.04–2.41 s with this buffer
// on huge pages, 1.09–1.14 s without (0.97–1.13 s against 1.11–1.16 s
// right after itself, when the pages it freed are still backed); its
// forward pass, which reads the dense weights from here, at parity
// (0.97–1.01×, 4 rounds). On memory the host does not back yet both cost
// the same, about 11 µs a 4 KiB page.
func ReadFile(path string) ([]byte, error) {
	f, size, err := Open(path, "a file")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if size != int64(int(size)) {
		return nil, fmt.Errorf("%s: %d bytes do not fit in memory", path, size)
	}
	b := make([]byte, size)
	if err := readParallel(f, b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// a file that grew while it was read: take the rest the usual way
	if _, err := f.Seek(size, io.SeekStart); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	rest, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return append(b, rest...), nil
}

// readPart is the least bytes readParallel gives a goroutine (tests lower it).
var readPart = 64 << 20

// readParallel fills b from the start of f, large files in one range per
// core at once: the page faults of fresh memory, most of such a read on a
// VM that backs guest memory lazily, then run side by side. VGG16's
// predict process, each run after ONNX Runtime's, 2026-12-08: 0.92–1.01 s
// against 1.00–1.09 s with one read (6 runs each); right after an 8 GB
// fill freed, 1.08–1.14 s against 1.18–1.27 s (2 each).
func readParallel(f *os.File, b []byte) error {
	parts := min(runtime.GOMAXPROCS(0), max(len(b)/readPart, 1))
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for i := range parts {
		lo, hi := len(b)*i/parts, len(b)*(i+1)/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.ReadAt(b[lo:hi], int64(lo)); err != nil {
				errs[i] = UnexpectedEOF(err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
