package main

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/npy"
)

// The predict commands the demo prints must run as printed: the ONNX and
// .rtm files both take the Keras model's NHWC sample and agree.
func TestDemoPrintedPredictCommandsRun(t *testing.T) {
	out := t.TempDir()
	stdout, stderr, err := run("demo", "--out", out, "--epochs", "2")
	if err != nil {
		t.Fatalf("demo: %v\n%s%s", err, stdout, stderr)
	}
	var preds [][]float32
	for _, line := range strings.Split(stdout, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "retarget" || f[1] != "predict" {
			continue
		}
		o, e, err := run(f[1:]...)
		if err != nil {
			t.Fatalf("printed command %q failed: %v\n%s%s", strings.TrimSpace(line), err, o, e)
		}
		a, err := npy.ReadFile(filepath.Join(out, "predictions", "predictions.npy"))
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Shape) != 2 || a.Shape[1] != 5 {
			t.Fatalf("%q: predictions of shape %v, want [n 5]", line, a.Shape)
		}
		preds = append(preds, a.Data)
	}
	if len(preds) != 2 {
		t.Fatalf("want 2 printed predict commands (ONNX and .rtm), found %d:\n%s", len(preds), stdout)
	}
	for i, v := range preds[0] {
		if d := math.Abs(float64(v - preds[1][i])); !(d <= 1e-4) {
			t.Fatalf("ONNX and .rtm predictions differ by %g at %d", d, i)
		}
	}
}
