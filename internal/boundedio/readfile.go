package boundedio

import (
	"fmt"
	"io"

	"github.com/retarget-dev/retarget/internal/hugemem"
)

// ReadFile is os.ReadFile for model files, which run to hundreds of MB:
// the buffer is sized once from the file and, where it is large, put on
// huge pages (hugemem) before it is filled.
func ReadFile(path string) ([]byte, error) {
	f, size, err := Open(path, "a file")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if size != int64(int(size)) {
		return nil, fmt.Errorf("%s: %d bytes do not fit in memory", path, size)
	}
	b := hugemem.Make[byte](int(size))
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
