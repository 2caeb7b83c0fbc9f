// Package testenv finds the reference tools (python3 with numpy, onnx,
// h5py, torch; node with onnxruntime-node) that tests compare against,
// so that every test looks for them the same way and skips cleanly
// where they are missing.
package testenv

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
)

var pythons sync.Map // module list -> result

type found struct {
	path string
	err  error
}

// Python returns a python3 that can import every module: python3 on PATH
// first, then /usr/bin/python3 (PATH's python3 may be a pyenv or venv
// interpreter without the Debian packages CI installs).
func Python(modules ...string) (string, error) {
	key := strings.Join(modules, ",")
	if r, ok := pythons.Load(key); ok {
		return r.(found).path, r.(found).err
	}
	var cands []string
	if p, err := exec.LookPath("python3"); err == nil {
		cands = append(cands, p)
	}
	cands = append(cands, "/usr/bin/python3")
	script := "pass"
	if len(modules) > 0 {
		script = "import " + strings.Join(modules, ", ")
	}
	r := found{err: fmt.Errorf("no python3 that can import %s (tried %s)", strings.Join(modules, ", "), strings.Join(cands, ", "))}
	if len(modules) == 0 {
		r.err = errors.New("no python3 found")
	}
	for _, p := range cands {
		if exec.Command(p, "-c", script).Run() == nil {
			r = found{path: p}
			break
		}
	}
	pythons.Store(key, r)
	return r.path, r.err
}
