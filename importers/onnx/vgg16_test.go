package onnx

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/retarget-dev/retarget/internal/testenv"
	"github.com/retarget-dev/retarget/nn"
)

// peakRSS reads the process's peak resident set (VmHWM) in bytes; 0 where
// /proc is absent.
func peakRSS() int64 { return testenv.PeakRSS() }

// TestVGG16Memory imports and runs torchvision's VGG16 (553 MB, made by
// testdata/gen/onnx_vgg16.py; far too big to commit) and logs the import
// time, prediction time and peak memory. Opt-in: RETARGET_VGG16=PATH.onnx,
// run on its own so the peak is this model's:
//
//	RETARGET_VGG16=/tmp/vgg16.onnx go test -run TestVGG16Memory -v ./importers/onnx
//
// When PATH.json (written by the script) is present, the outputs are checked
// against PyTorch's.
func TestVGG16Memory(t *testing.T) {
	path := os.Getenv("RETARGET_VGG16")
	if path == "" {
		t.Skip("set RETARGET_VGG16 to a file made by python3 testdata/gen/onnx_vgg16.py OUT.onnx")
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	base := peakRSS()
	start := time.Now()
	g, err := Import(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	importTime := time.Since(start)
	importPeak := peakRSS()
	mb := func(b int64) float64 { return float64(b) / (1 << 20) }
	t.Logf("%s: %.1f MiB; import %v, peak RSS %.1f MiB (%.2fx the file; %.1f MiB before import)",
		filepath.Base(path), mb(st.Size()), importTime.Round(time.Millisecond), mb(importPeak),
		float64(importPeak)/float64(st.Size()), mb(base))

	jsonPath := strings.TrimSuffix(path, ".onnx") + ".json"
	if _, err := os.Stat(jsonPath); err != nil {
		t.Logf("no %s: prediction not checked", jsonPath)
		return
	}
	fx := loadFixture(t, path)
	start = time.Now()
	net, err := nn.CompileInference(g)
	if err != nil {
		t.Fatal(err)
	}
	var ins []*nn.Mat[float32]
	for _, in := range fx.Inputs {
		ins = append(ins, in.mat())
	}
	outs, err := net.Forward(ins, false)
	if err != nil {
		t.Fatal(err)
	}
	predictTime := time.Since(start)
	peak := peakRSS()
	t.Logf("compile + predict (batch %d): %v; peak RSS %.1f MiB (%.2fx the file)",
		fx.Inputs[0].Shape[0], predictTime.Round(time.Millisecond), mb(peak), float64(peak)/float64(st.Size()))
	for k, want := range fx.Outputs {
		d, err := maxAbsDiff(outs[k], want)
		if err != nil {
			t.Fatal(err)
		}
		scale := 0.0
		for _, v := range want.Data {
			scale = max(scale, v, -v)
		}
		t.Logf("output %q: max abs diff vs PyTorch %.3g (max |y| %.3g)", want.Name, d, scale)
		if d > 1e-4*max(scale, 1) {
			t.Errorf("output %q differs from PyTorch by %g", want.Name, d)
		}
	}
}
