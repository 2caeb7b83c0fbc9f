package onnx

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// FuzzImport feeds arbitrary bytes to the importer: it may fail, never panic.
func FuzzImport(f *testing.F) {
	paths, _ := filepath.Glob("../../testdata/onnx/*.onnx")
	conformance, _ := filepath.Glob("../../testdata/onnx/conformance/*3d*.onnx")
	for _, p := range append(paths, conformance...) {
		if b, err := os.ReadFile(p); err == nil && len(b) < 8<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := ImportFrom(bytes.NewReader(b), Options{})
		if err == nil && g == nil {
			t.Fatal("nil graph without error")
		}
		if err == nil && len(b) < 4<<10 {
			// a small model that imports also compiles and runs without panics
			if net, err := nn.Compile(g); err == nil {
				for _, s := range net.Shapes() {
					if n := ir.NumElements(s); n < 0 || n > 1<<16 {
						return // pads or sizes from attributes can ask for a large, slow run
					}
				}
				var ins []*ir.Tensor
				for _, in := range g.Inputs {
					shape := []int{1}
					for _, d := range in.Shape {
						shape = append(shape, max(d, 1))
					}
					if ir.NumElements(shape) > 1<<16 {
						return
					}
					ins = append(ins, ir.NewTensor(shape...))
				}
				net.Predict(ins...)
			}
		}
	})
}
