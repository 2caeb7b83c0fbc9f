package keras

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// realDir holds files written by real Keras installations (see its README).
const realDir = "../../../shared/fixtures/keras-real"

func needReal(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(realDir); err != nil {
		t.Skipf("real Keras fixtures not found at %s (module-root ../shared/fixtures/keras-real): %v", realDir, err)
	}
	return realDir
}

// realModels lists every whole-model file among the fixtures.
func realModels(t *testing.T) []string {
	dir := needReal(t)
	var out []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		n := info.Name()
		if strings.HasSuffix(n, "_inputs_and_outputs.h5") || strings.HasSuffix(n, "_weights.h5") {
			return nil
		}
		if strings.HasSuffix(n, ".h5") || strings.HasSuffix(n, ".hdf5") {
			out = append(out, p)
		}
		return nil
	})
	return out
}
