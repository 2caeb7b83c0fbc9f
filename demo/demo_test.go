package demo

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadDigits(t *testing.T) {
	d, err := LoadDigits(5, 6, 7, 8, 9)
	if err != nil {
		t.Fatal(err)
	}
	n := d.X.Shape[0]
	// sklearn's digits: 182+181+179+174+180 examples of 5..9
	if n != 896 || d.Y.Shape[1] != 5 {
		t.Fatalf("%d examples, labels %v", n, d.Y.Shape)
	}
	for _, v := range d.X.Data {
		if v < 0 || v > 1 {
			t.Fatalf("pixel %g outside [0, 1]", v)
		}
	}
}

func TestDemo(t *testing.T) {
	if len(pretrainedH5) < 8 || string(pretrainedH5[1:4]) != "HDF" {
		t.Skip("assets/digits04.h5 has not been generated yet (go run ./demo/pretrain)")
	}
	out := t.TempDir()
	var log bytes.Buffer
	epochs := 30
	if testing.Short() {
		epochs = 15
	}
	res, err := Run(Options{Out: out, Stdout: &log, Epochs: epochs})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if res.AccuracyAfter <= 0.9 {
		t.Errorf("accuracy after retargeting %.3f, want > 0.9\n%s", res.AccuracyAfter, log.String())
	}
	if res.AccuracyBefore >= res.AccuracyAfter {
		t.Errorf("fitting did not help: %.3f -> %.3f", res.AccuracyBefore, res.AccuracyAfter)
	}
	if res.WidenMaxDiff != 0 {
		t.Errorf("widening in preserve mode changed predictions by %g", res.WidenMaxDiff)
	}
	if _, err := os.Stat(filepath.Join(out, "digits59.rtm")); err != nil {
		t.Error(err)
	}
	// both files keep the Keras model's NHWC input: every predict command
	// takes the one sample (cmd/retarget runs them:
	// TestDemoPrintedPredictCommandsRun)
	for _, args := range res.Predict {
		if got := filepath.Base(args[3]); got != "sample.npy" {
			t.Errorf("%s is given %s, want sample.npy", args[1], got)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "sample_nchw.npy")); err == nil {
		t.Error("the demo still writes a second, NCHW sample")
	}
	for _, want := range []string{"[1/5]", "[5/5]", "conv1", "retarget predict"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("narration lacks %q:\n%s", want, log.String())
		}
	}
}
