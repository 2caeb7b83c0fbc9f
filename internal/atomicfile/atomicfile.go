// Package atomicfile writes a file so that readers see either the old
// file or the whole new one, never a part: the data goes to a temporary
// file in the same folder, which is synced and renamed over the path.
package atomicfile

import (
	"io"
	"os"
	"path/filepath"
)

// Write calls fill with a temporary file next to path and, if fill and
// every later step succeed, renames it over path with mode 0644. On any
// error the temporary file is removed and path is left as it was.
func Write(path string, fill func(w io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = fill(f); err != nil {
		return err
	}
	// CreateTemp makes the file 0600; a written file is as readable as any other.
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// WriteBytes writes b to path atomically.
func WriteBytes(path string, b []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// Copy copies the file src to dst atomically.
func Copy(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return Write(dst, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}
