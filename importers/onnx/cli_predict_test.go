package onnx

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/retarget-dev/retarget/internal/testenv"
	"github.com/retarget-dev/retarget/npy"
)

var cliOnce struct {
	sync.Once
	path string
	err  error
}

// retargetCLI builds cmd/retarget once per test binary.
func retargetCLI(t *testing.T) string {
	t.Helper()
	cliOnce.Do(func() {
		dir, err := os.MkdirTemp("", "retarget-cli")
		if err != nil {
			cliOnce.err = err
			return
		}
		cliOnce.path = filepath.Join(dir, "retarget")
		out, err := exec.Command("go", "build", "-o", cliOnce.path, "../../cmd/retarget").CombinedOutput()
		if err != nil {
			cliOnce.err = fmt.Errorf("go build ./cmd/retarget: %v\n%s", err, out)
		}
	})
	if cliOnce.err != nil {
		t.Fatal(cliOnce.err)
	}
	return cliOnce.path
}

// TestMain removes the CLI built by retargetCLI.
func TestMain(m *testing.M) {
	code := m.Run()
	if cliOnce.path != "" {
		os.RemoveAll(filepath.Dir(cliOnce.path))
	}
	os.Exit(code)
}

// allClose reports the worst |got-want| and whether every value is within
// atol + rtol·|want|.
func allClose(got []float32, want []float64, rtol, atol float64) (float64, bool) {
	worst, ok := 0.0, true
	for k, w := range want {
		d := math.Abs(float64(got[k]) - w)
		if d > atol+rtol*math.Abs(w) || math.IsNaN(d) {
			ok = false
		}
		worst = math.Max(worst, d)
	}
	return worst, ok
}

// predictCLI runs `retarget predict` on a fixture's inputs and checks every
// output file against the recorded (PyTorch) outputs.
func predictCLI(t *testing.T, model string) {
	t.Helper()
	fx := loadFixture(t, model)
	if len(fx.Outputs) == 0 {
		t.Skip("no recorded outputs")
	}
	dir := t.TempDir()
	args := []string{"predict", model, "--out", filepath.Join(dir, "out")}
	for _, in := range fx.Inputs {
		p := filepath.Join(dir, in.Name+".npy")
		data := make([]float32, len(in.Data))
		for k, v := range in.Data {
			data[k] = float32(v)
		}
		if err := npy.WriteFile(p, in.Shape, data); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--input", in.Name+"="+p)
	}
	cmd := exec.Command(retargetCLI(t), args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if out, err := cmd.Output(); err != nil {
		t.Fatalf("retarget %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	for _, want := range fx.Outputs {
		got, err := npy.ReadFile(filepath.Join(dir, "out", want.Name+".npy"))
		if err != nil {
			t.Fatalf("output %q: %v", want.Name, err)
		}
		if fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) {
			t.Fatalf("output %q: shape %v, PyTorch %v", want.Name, got.Shape, want.Shape)
		}
		d, ok := allClose(got.Data, want.Data, 1e-4, 1e-5)
		t.Logf("output %q: max |retarget - PyTorch| = %.3g", want.Name, d)
		if !ok {
			t.Errorf("output %q differs from PyTorch beyond 1e-4 relative + 1e-5 (max abs diff %g)", want.Name, d)
		}
	}
}

// TestInteropPredictCLI: `retarget predict` on every committed ONNX
// fixture matches the outputs PyTorch (or, for the helper-built opset 8
// model, ONNX Runtime) recorded.
func TestInteropPredictCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI; not in -short")
	}
	for _, p := range fixturePaths(t) {
		t.Run(strings.TrimSuffix(filepath.Base(p), ".onnx"), func(t *testing.T) { predictCLI(t, p) })
	}
}

// TestInteropPredictCLIResNet18 exports torchvision's ResNet18 (random weights)
// at test time, as it is too large to commit, and checks `retarget
// predict` against PyTorch.
func TestInteropPredictCLIResNet18(t *testing.T) {
	if testing.Short() {
		t.Skip("exports a torchvision model; not in -short")
	}
	py, err := testenv.Python("torch", "torchvision", "onnx")
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	if out, err := exec.Command(py, "../../testdata/gen/onnx_resnet18.py", dir).CombinedOutput(); err != nil {
		t.Fatalf("onnx_resnet18.py: %v\n%s", err, out)
	}
	predictCLI(t, filepath.Join(dir, "resnet18.onnx"))
}

// TestInteropPredictCLIVolumetric: `retarget predict` on PyTorch-exported
// 3-D and dilated-pool models matches PyTorch.
func TestInteropPredictCLIVolumetric(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI; not in -short")
	}
	for _, n := range []string{"Conv3d_stride_padding", "Conv3d_groups", "ConvTranspose3d", "BatchNorm3d_eval",
		"MaxPool3d_dilation", "AvgPool3d_pad_ceil", "MaxPool1d_stride_padding_dilation"} {
		t.Run(n, func(t *testing.T) { predictCLI(t, "../../testdata/onnx/conformance/"+n+".onnx") })
	}
}
