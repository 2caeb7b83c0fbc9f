package main

import (
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/history"
	"github.com/retarget-dev/retarget/modelio"
)

const twoHeadsDir = "../../testdata/keras/two_heads"

type twoHeadsExpected struct {
	BatchSize    int                  `json:"batch_size"`
	Epochs       int                  `json:"epochs"`
	History      map[string][]float64 `json:"history"`
	FinalRegLoss float64              `json:"final_reg_loss"`
	FinalClsLoss float64              `json:"final_cls_loss"`
}

func twoHeadsArgs(flag string) []string {
	p := func(n string) string { return filepath.Join(twoHeadsDir, n) }
	return []string{flag, "a=" + p("xa.npy"), flag, "b=" + p("xb.npy")}
}

func twoHeadsLabels(flag string) []string {
	p := func(n string) string { return filepath.Join(twoHeadsDir, n) }
	return []string{flag, "reg=" + p("yreg.npy"), flag, "cls={type: npy, labels: " + p("ycls.npy") + "}"}
}

// The Keras functional model of testdata/gen/keras_two_heads.py (two
// inputs; a regression head and a classifier, loss weights 0.5 and 2 in
// its training_config, SGD 0.1) trains end to end through the CLI, with
// one source per input and per output, and its epoch losses — the
// weighted total and each output's — match the numpy reference to a
// relative 1e-5 (float32 engine against float64 numpy over 16 SGD steps;
// they agree to about 1e-7).
func TestFitTwoInputsTwoOutputsMatchesNumpy(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(twoHeadsDir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want twoHeadsExpected
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out, hist, plot := filepath.Join(dir, "trained.rtm"), filepath.Join(dir, "h.csv"), filepath.Join(dir, "fit.png")
	args := append([]string{"fit", filepath.Join(twoHeadsDir, "model.h5"), "-o", out, "--epochs", "4", "--batch-size", "8",
		"--shuffle=false", "--history", hist, "--history-every", "2", "--plot", plot}, twoHeadsArgs("--data")...)
	args = append(args, twoHeadsLabels("--labels")...)
	_, stderr, err := run(args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	h, err := history.ReadFile(hist)
	if err != nil {
		t.Fatal(err)
	}
	ep := h.Epochs()
	if len(ep) != want.Epochs {
		t.Fatalf("%d epoch rows, want %d", len(ep), want.Epochs)
	}
	for i, r := range ep {
		for col, ref := range want.History {
			got, ok := r.Values[col]
			if !ok || math.Abs(got-ref[i]) > 1e-5*math.Abs(ref[i]) {
				t.Errorf("epoch %d %s: %v, numpy %v", i+1, col, got, ref[i])
			}
		}
		if _, ok := r.Values["cls_accuracy"]; !ok {
			t.Errorf("epoch %d: no cls_accuracy in %v", i+1, r.Values)
		}
	}
	// two steps per row, four steps per epoch
	if steps := len(h.Rows) - len(ep); steps != 8 {
		t.Errorf("%d step rows, want 8", steps)
	}
	if !strings.Contains(stderr, "reg loss") || !strings.Contains(stderr, "cls accuracy") {
		t.Errorf("epoch lines lack the outputs:\n%s", stderr)
	}
	f, err := os.Open(plot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if img, err := png.Decode(f); err != nil || img.Bounds().Dx() != history.PanelWidth {
		t.Fatalf("plot: %v", err)
	}

	// retarget plot redraws it from the history
	redrawn := filepath.Join(dir, "redrawn.png")
	if _, stderr, err := run("plot", hist, "-o", redrawn, "--title", "two heads"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	rf, err := os.Open(redrawn)
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	if img, err := png.Decode(rf); err != nil || img.Bounds().Dx() != history.PanelWidth || img.Bounds().Dy() != 2*history.PanelHeight {
		t.Fatalf("redrawn plot: %v", err)
	}
	if _, _, err := run("plot", hist, "-o", filepath.Join(dir, "x.jpg")); err == nil {
		t.Error("plot writes a .jpg")
	}

	// the trained model scores both outputs; its MSE is the reference's
	// final regression loss
	args = append([]string{"evaluate", out, "--json"}, twoHeadsArgs("--data")...)
	stdout, stderr, err := run(append(args, twoHeadsLabels("--labels")...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var ev struct {
		Outputs map[string]struct {
			MSE      *float64 `json:"mse"`
			Accuracy *float64 `json:"accuracy"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(stdout), &ev); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if m := ev.Outputs["reg"].MSE; m == nil || math.Abs(*m-want.FinalRegLoss) > 1e-5*want.FinalRegLoss {
		t.Errorf("reg mse %v, numpy %v", m, want.FinalRegLoss)
	}
	if ev.Outputs["cls"].Accuracy == nil {
		t.Errorf("no cls accuracy: %s", stdout)
	}
}

// Every source that does not fit the model is named in one error, before
// any training.
func TestFitNamedSourcesAllMismatchesAtOnce(t *testing.T) {
	dir := t.TempDir()
	bad := writeNPY(t, dir, "bad.npy", []int{32, 4}, make([]float32, 128))
	short := writeNPY(t, dir, "short.npy", []int{10, 1}, make([]float32, 10))
	hist := filepath.Join(dir, "h.csv")
	_, _, err := run("fit", filepath.Join(twoHeadsDir, "model.h5"), "-o", filepath.Join(dir, "o.rtm"), "--history", hist,
		"--data", "a="+bad, "--data", "c="+bad, "--labels", "reg="+short, "--labels", "nope="+short)
	if err == nil {
		t.Fatal("fit accepted mismatched sources")
	}
	msg := err.Error()
	for _, s := range []string{
		`--data a: ` + bad + ` has examples of shape [4], but the model input "a" takes [3]`,
		`the model has no input "c"`,
		`the model input "b" has no source`,
		`--labels reg: 10 examples, but --data a has 32`,
		`the model has no output "nope"`,
		`the loss output "cls" has no labels`,
	} {
		if !strings.Contains(msg, s) {
			t.Errorf("the error lacks %q:\n%s", s, msg)
		}
	}
	if _, err := os.Stat(hist); err == nil {
		t.Error("a history was written: work started before the check")
	}
}

// featurize takes one source per input and output too; fit then trains
// the head from the shards, with a history.
func TestFeaturizeAndFitNamedSources(t *testing.T) {
	g, err := modelio.Load(filepath.Join(twoHeadsDir, "model.h5"), modelio.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"concat", "shared"} {
		g.Vertex(v).Frozen = true
	}
	model := saved(t, g)
	dir := t.TempDir()
	feats := filepath.Join(dir, "feats")
	args := append([]string{"featurize", model, "--out", feats, "--batch-size", "8"}, twoHeadsArgs("--data")...)
	if _, stderr, err := run(append(args, twoHeadsLabels("--labels")...)...); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	hist := filepath.Join(dir, "h.json")
	if _, stderr, err := run("fit", model, "--featurized", feats, "-o", filepath.Join(dir, "o.rtm"), "--epochs", "3",
		"--history", hist); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	h, err := history.ReadFile(hist)
	if err != nil {
		t.Fatal(err)
	}
	if ep := h.Epochs(); len(ep) != 3 || ep[2].Values["reg_loss"] <= 0 || ep[2].Values["cls_loss"] <= 0 {
		t.Fatalf("history %+v", h.Rows)
	}
	// a source missing for an input is named before any work
	_, _, err = run("featurize", model, "--out", filepath.Join(dir, "f2"), "--data", "a="+filepath.Join(twoHeadsDir, "xa.npy"),
		"--labels", "reg="+filepath.Join(twoHeadsDir, "yreg.npy"), "--labels", "cls="+filepath.Join(twoHeadsDir, "ycls.npy"))
	if err == nil || !strings.Contains(err.Error(), `the model input "b" has no source`) {
		t.Fatalf("featurize with a missing input: %v", err)
	}
}
