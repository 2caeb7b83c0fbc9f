package modelio

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func wantErrText(t *testing.T, what string, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%s: %v, want %q", what, err, want)
	}
}

func TestLoadFolderAndMissingFile(t *testing.T) {
	dir := t.TempDir()
	folder := filepath.Join(dir, "m.onnx")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Load(folder, LoadOptions{})
	wantErrText(t, "folder with a model extension", err, "is a folder, not a model file")
	_, err = Load(dir, LoadOptions{})
	wantErrText(t, "folder", err, "is a folder, not a model file")
	for _, name := range []string{"none.onnx", "none.h5", "none.rtm", "none.keras"} {
		_, err = Load(filepath.Join(dir, name), LoadOptions{})
		wantErrText(t, name, err, name+": no such file")
	}
	_, err = Load(filepath.Join(dir, "none.json"), LoadOptions{Weights: filepath.Join(dir, "w.h5")})
	wantErrText(t, "missing model before weights", err, "none.json: no such file")
}

func TestCheckSave(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "m.rtm")
	if err := Save(in, denseGraph(t), SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(dir, "out.onnx")
	os.Mkdir(folder, 0o755)
	for _, c := range []struct {
		path string
		opts SaveOptions
		want string
	}{
		{folder, SaveOptions{}, "is a folder"},
		{filepath.Join(dir, "nodir", "m.rtm"), SaveOptions{}, "does not exist"},
		{filepath.Join(dir, "m.txt"), SaveOptions{}, "extension .txt"},
		{filepath.Join(dir, "m.keras"), SaveOptions{}, "cannot write"},
		{in, SaveOptions{Input: in}, "--force"},
	} {
		wantErrText(t, c.path, CheckSave(c.path, c.opts), c.want)
		// Save says the same, and writes nothing
		wantErrText(t, c.path, Save(c.path, denseGraph(t), c.opts), c.want)
	}
	if err := CheckSave(filepath.Join(dir, "ok.onnx"), SaveOptions{Input: in}); err != nil {
		t.Fatal(err)
	}
	if err := CheckSave(in, SaveOptions{Input: in, Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nodir")); !os.IsNotExist(err) {
		t.Fatal("a refused save created a folder")
	}
}

func TestWholeKerasModelRefusesWeights(t *testing.T) {
	dir := t.TempDir()
	h5 := filepath.Join(dir, "m.h5")
	if err := Save(h5, denseGraph(t), SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(h5, LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	// the importer ignores a weights file for a whole model; say so instead
	_, err := Load(h5, LoadOptions{Weights: h5})
	wantErrText(t, ".h5 with --weights", err, "holds its weights")
	_, err = Load(h5, LoadOptions{Weights: dir})
	wantErrText(t, "weights folder", err, "is a folder")
}
