package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPythonMissingModule(t *testing.T) {
	if _, err := Python("no_such_module_retarget"); err == nil {
		t.Fatal("found a python3 with a module that does not exist")
	}
	p, err := Python()
	if err != nil {
		t.Skip(err)
	}
	if p2, _ := Python(); p2 != p {
		t.Errorf("second call gave %q, first %q", p2, p)
	}
}

func TestGenDir(t *testing.T) {
	gen, err := GenDir()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(gen, "ort_run.js")); err != nil {
		t.Errorf("GenDir %s holds no ort_run.js: %v", gen, err)
	}
}
