package hdf5

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exercise opens data and reads everything reachable, ignoring errors.
func exercise(data []byte) {
	f, err := OpenReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return
	}
	f.SetReadLimit(1 << 20)
	root := f.Root()
	attrs := func(names []string, get func(string) (*Attribute, error)) {
		for _, n := range names {
			get(n)
		}
	}
	if names, err := root.Attrs(); err == nil {
		attrs(names, root.Attribute)
	}
	root.MembersCreationOrder()
	root.Walk(func(p string, kind ObjectKind) error {
		rel := strings.TrimPrefix(p, "/")
		switch kind {
		case KindGroup:
			g, err := root.Group(rel)
			if err != nil {
				return nil
			}
			g.MembersCreationOrder()
			if names, err := g.Attrs(); err == nil {
				attrs(names, g.Attribute)
			}
		case KindDataset:
			d, err := root.Dataset(rel)
			if err != nil {
				return nil
			}
			if names, err := d.Attrs(); err == nil {
				attrs(names, d.Attribute)
			}
			d.ReadFloat32()
			d.Value()
		}
		return nil
	})
}

func FuzzOpen(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(fixtureDir, "*.h5"))
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	g := w.Root().CreateGroup("g")
	g.SetAttr("s", "x")
	g.SetAttr("l", []string{"a", "bc"})
	g.CreateDataset("d", []uint64{2, 2}, []float32{1, 2, 3, 4})
	if w.Close() == nil {
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		exercise(data)
	})
}

// TestTruncatedAndCorrupt checks robustness on systematically damaged
// fixtures (prefixes and byte flips) without the fuzzing engine.
func TestTruncatedAndCorrupt(t *testing.T) {
	for _, name := range []string{"sb0.h5", "sb3.h5"} {
		b, err := os.ReadFile(filepath.Join(fixtureDir, name))
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < len(b); n += len(b)/97 + 1 {
			exercise(b[:n])
		}
		for i := 0; i < len(b); i += len(b)/211 + 1 {
			c := append([]byte(nil), b...)
			c[i] ^= 0xff
			exercise(c)
		}
	}
}

// TestHugeClaims checks that absurd sizes are rejected, not allocated.
func TestHugeClaims(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.Root().CreateDataset("d", []uint64{4}, []float32{1, 2, 3, 4})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	// Patch the dataspace dimension (the 4) to 10^12 in both dims and maxdims.
	patched := 0
	for i := 0; i+8 <= len(b); i++ {
		if bytes.Equal(b[i:i+16], []byte{4, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0}) {
			copy(b[i:], []byte{0, 0x10, 0xa5, 0xd4, 0xe8, 0, 0, 0, 0, 0x10, 0xa5, 0xd4, 0xe8, 0, 0, 0})
			patched++
			break
		}
	}
	if patched != 1 {
		t.Fatal("dataspace not found")
	}
	f, err := OpenReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.Root().Dataset("d")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.ReadFloat32(); err == nil {
		t.Fatal("expected error for 10^12 elements in a tiny file")
	} else {
		t.Log(err)
	}
}
