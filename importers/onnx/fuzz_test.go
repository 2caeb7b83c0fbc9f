package onnx

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzImport feeds arbitrary bytes to the importer: it may fail, never panic.
func FuzzImport(f *testing.F) {
	paths, _ := filepath.Glob("../../testdata/onnx/*.onnx")
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && len(b) < 8<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := ImportFrom(bytes.NewReader(b), Options{})
		if err == nil && g == nil {
			t.Fatal("nil graph without error")
		}
	})
}
