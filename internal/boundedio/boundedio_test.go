package boundedio

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
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

// TestReadFile reads an empty, a small and an 11 MiB file byte for byte,
// the last also in ranges of 1 MiB on up to four goroutines, and refuses a
// folder and a missing file.
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	defer func(p int) { readPart = p }(readPart)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0), 4)))
	for i, n := range []int{0, 5, 11<<20 + 17, 11<<20 + 17} {
		if i == 3 {
			readPart = 1 << 20
		}
		want := make([]byte, n)
		for i := range want {
			want[i] = byte(i*7 + i>>13)
		}
		p := filepath.Join(dir, fmt.Sprintf("f%d-%d", i, n))
		if err := os.WriteFile(p, want, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("%d bytes: read back differs (len %d)", n, len(got))
		}
	}
	if _, err := ReadFile(dir); err == nil || !strings.Contains(err.Error(), "folder") {
		t.Fatalf("folder: %v", err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("missing file read")
	}
}
