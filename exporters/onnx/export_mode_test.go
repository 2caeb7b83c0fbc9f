package onnx_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	exponnx "github.com/retarget-dev/retarget/exporters/onnx"
)

// Exported files are as readable as any file os.Create makes, not 0600
// like the temporary file they are written through.
func TestExportFileMode(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	g := irGraphs()["cnn"]
	fillParams(t, g, 5)
	path := filepath.Join(t.TempDir(), "m.onnx")
	if err := exponnx.Export(path, g, exponnx.Options{ExternalDataThreshold: 1000}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + ".data"} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if m := st.Mode().Perm(); m != 0o644 {
			t.Errorf("%s has mode %o, want 644", filepath.Base(p), m)
		}
	}
}
