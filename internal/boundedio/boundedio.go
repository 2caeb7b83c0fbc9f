// Package boundedio holds the file handling shared by readers of untrusted
// files whose size bounds what they may allocate.
package boundedio

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Open opens path for reading and returns it with its size. A folder is
// refused with an error that says what was expected (what: "an .npy file").
func Open(path, what string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if st.IsDir() {
		f.Close()
		return nil, 0, fmt.Errorf("%s is a folder, not %s", path, what)
	}
	return f, st.Size(), nil
}

// UnexpectedEOF turns io.EOF, which a reader returns when a read got no
// bytes at all, into io.ErrUnexpectedEOF: in the middle of a file it means
// the file is truncated.
func UnexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
