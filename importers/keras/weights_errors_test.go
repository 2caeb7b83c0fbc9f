package keras

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const oneDenseJSON = `{"class_name": "Sequential", "config": [
 {"class_name": "Dense", "config": {"name": "d", "units": 3, "batch_input_shape": [null, 4]}}]}`

// A weights file that does not fit the architecture is blamed, not the
// architecture file.
func TestWrongWeightsFileIsNamed(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "m.json")
	os.WriteFile(cfg, []byte(oneDenseJSON), 0o644)
	wp := filepath.Join(dir, "other.h5")
	writeKeras2Weights(t, wp, []wspec{{"d", []string{"d/kernel:0", "d/bias:0"},
		[][]float32{seq(12, 1), seq(3, 1)}, [][]int{{3, 4}, {3}}}})
	_, err := Import(cfg, Options{Weights: wp})
	if err == nil || !strings.HasPrefix(err.Error(), "keras import "+wp+": ") || !strings.Contains(err.Error(), `"d"`) {
		t.Fatalf("want an error about %s, got %v", wp, err)
	}
	// an architecture problem still names the architecture
	os.WriteFile(cfg, []byte(`{"class_name": "Sequential", "config": [{"class_name": "Dense", "config": {"name": "d", "units": -3, "batch_input_shape": [null, 4]}}]}`), 0o644)
	if _, err := Import(cfg, Options{Weights: wp}); err == nil || strings.Contains(err.Error(), "import "+wp) {
		t.Fatalf("an architecture problem blamed the weights: %v", err)
	}
}

func TestJSONAsWeightsNamesPathOnce(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "m.json")
	os.WriteFile(cfg, []byte(oneDenseJSON), 0o644)
	_, err := Import(cfg, Options{Weights: cfg})
	if err == nil || strings.Count(err.Error(), cfg) != 1 || !strings.Contains(err.Error(), "a JSON file, not HDF5") {
		t.Fatalf("want one mention of %s saying it is JSON, got %v", cfg, err)
	}
	_, err = Import(cfg, Options{Weights: filepath.Join(dir, "missing.h5")})
	if err == nil || strings.Count(err.Error(), "missing.h5") != 1 {
		t.Fatalf("got %v", err)
	}
}
