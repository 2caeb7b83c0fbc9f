package boundedio

import (
	"fmt"
	"io"
)

// ReadFile is os.ReadFile for model files, which run to hundreds of MB:
// the buffer is sized once from the file.
//
// It is not put on huge pages (hugemem), though the tensors made from it
// are. On the development VM (Firecracker, whose balloon takes back free
// blocks of 2 MiB and more: page_reporting), memory another process has
// just freed comes back on 2 MiB pages the host has to back again, 512 of
// its pages at a time, while 4 KiB pages come from small free blocks it
// still backs. VGG16's predict process right after ONNX Runtime's, four
// runs each, 2026-12-08: 2.04–2.41 s with this buffer on huge pages,
// 1.09–1.14 s without (0.97–1.13 s against 1.11–1.16 s right after
// itself, when the pages it freed are still backed). On memory the host
// does not back yet both cost the same, about 11 µs a 4 KiB page.
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
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// a file that grew while it was read: take the rest the usual way
	rest, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return append(b, rest...), nil
}
