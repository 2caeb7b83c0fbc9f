package keras

import (
	"os"
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
