package boundedio

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.bin")
	if err := os.WriteFile(p, []byte("12345"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, n, err := Open(p, "a test file")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if n != 5 {
		t.Errorf("size %d, want 5", n)
	}
	if _, _, err := Open(dir, "a test file"); err == nil || !strings.Contains(err.Error(), "is a folder, not a test file") {
		t.Errorf("folder: got %v", err)
	}
	if _, _, err := Open(filepath.Join(dir, "missing"), "a test file"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v", err)
	}
}

func TestUnexpectedEOF(t *testing.T) {
	if err := UnexpectedEOF(fmt.Errorf("wrapped: %w", io.EOF)); err != io.ErrUnexpectedEOF {
		t.Errorf("got %v", err)
	}
	other := errors.New("other")
	if err := UnexpectedEOF(other); err != other {
		t.Errorf("got %v", err)
	}
	if err := UnexpectedEOF(nil); err != nil {
		t.Errorf("got %v", err)
	}
}
