package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// GenDir returns the module's testdata/gen folder (the fixture
// generators and ort_run.js), found from the working directory upward.
func GenDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "testdata", "gen"), nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = up
	}
}

// ORTMissing reports why testdata/gen/ort_run.js cannot run (no node, or
// no onnxruntime-node), or "" when it can.
func ORTMissing() string {
	if _, err := exec.LookPath("node"); err != nil {
		return "node is not installed"
	}
	gen, err := GenDir()
	if err != nil {
		return err.Error()
	}
	if _, err := os.Stat(filepath.Join(gen, "node_modules", "onnxruntime-node")); err != nil {
		return "onnxruntime-node is not installed (cd testdata/gen && npm install --ignore-scripts onnxruntime-node)"
	}
	return ""
}

// RunORT runs testdata/gen/ort_run.js with args and returns what it
// printed (JSON); on failure the error holds its stderr. Callers skip
// first when ORTMissing says why it cannot run.
func RunORT(args ...string) ([]byte, error) {
	gen, err := GenDir()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("node", append([]string{filepath.Join(gen, "ort_run.js")}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, stderr.String())
	}
	return out, nil
}
