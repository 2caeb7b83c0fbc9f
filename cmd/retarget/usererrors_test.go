package main

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/modelio"
	"github.com/retarget-dev/retarget/nn"
	"github.com/retarget-dev/retarget/zoo"
)

// Regression tests for user mistakes found by running the CLI by hand:
// each one used to fail late, with a message in the wrong terms, or not
// at all.

// oneInput is a single-input classifier saved as .rtm, with its folder.
func oneInput(t *testing.T) (model, dir string) {
	t.Helper()
	g := &ir.Graph{
		Inputs: []ir.Input{{Name: "x", Shape: []int{3}}},
		Vertices: []*ir.Vertex{
			{Name: "out", Layer: &ir.Output{Units: 2, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, Inputs: []string{"x"}},
		},
		Outputs: []ir.GraphOutput{{Name: "probs", Vertex: "out"}},
	}
	if err := nn.InitGraph(g, ir.InitXavierUniform, 5); err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	model = filepath.Join(dir, "m.rtm")
	if err := modelio.Save(model, g, modelio.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return model, dir
}

func wantErr(t *testing.T, args []string, want ...string) {
	t.Helper()
	_, _, err := run(args...)
	if err == nil {
		t.Errorf("%v: no error, want %q", args, want)
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%v:\n%v\nwant %q", args, err, w)
		}
	}
}

func TestPredictInputNameTypo(t *testing.T) {
	model, dir := oneInput(t)
	x := writeNPY(t, dir, "x.npy", []int{2, 3}, make([]float32, 6))
	out := filepath.Join(dir, "out")
	// an unknown NAME used to be taken as a file called "y=x.npy"
	wantErr(t, []string{"predict", model, "--input", "y=" + x, "--out", out}, `no input "y"`, "inputs: x")
	wantErr(t, []string{"predict", model, "--input", "x=", "--out", out}, "no file after '='")
	// a file whose name holds '=' still works in the short form
	odd := writeNPY(t, dir, "a=b.npy", []int{2, 3}, make([]float32, 6))
	if _, _, err := run("predict", model, "--input", odd, "--out", out); err != nil {
		t.Fatal(err)
	}
}

func TestPredictOutIsAFileFailsFirst(t *testing.T) {
	model, dir := oneInput(t)
	x := writeNPY(t, dir, "x.npy", []int{2, 3}, make([]float32, 6))
	// used to run the model, then fail with "mkdir x.npy: not a directory"
	wantErr(t, []string{"predict", model, "--input", x, "--out", x}, "is a file", "folder")
}

func TestModelPathIsAFolderOrMissing(t *testing.T) {
	_, dir := oneInput(t)
	folder := filepath.Join(dir, "d.onnx")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	wantErr(t, []string{"inspect", folder}, "is a folder, not a model file")
	wantErr(t, []string{"inspect", dir}, "is a folder, not a model file") // used to say "extension .tmp..." or similar
	// an importer used to answer "check that the file is complete"
	wantErr(t, []string{"inspect", filepath.Join(dir, "none.onnx")}, "none.onnx: no such file")
	wantErr(t, []string{"inspect", filepath.Join(dir, "m.rtm"), "--weights", dir}, "is a folder")
}

func TestConvertChecksOutputBeforeLoading(t *testing.T) {
	model, dir := oneInput(t)
	folder := filepath.Join(dir, "d.onnx")
	os.Mkdir(folder, 0o755)
	// used to end in "rename .d.onnx.tmpNNN d.onnx: file exists"
	wantErr(t, []string{"convert", model, folder}, "is a folder, not a model file")
	// used to be "open nodir/.x.rtm.NNN.tmp: no such file or directory"
	wantErr(t, []string{"convert", model, filepath.Join(dir, "nodir", "x.rtm")}, "does not exist; create it first")
	// the output is checked before the input is read
	wantErr(t, []string{"convert", filepath.Join(dir, "none.rtm"), filepath.Join(dir, "x.txt")}, "cannot write model files with extension .txt")
}

func TestWeightsRefusedForWholeKerasModel(t *testing.T) {
	model, dir := oneInput(t)
	h5 := filepath.Join(dir, "m.h5")
	if _, _, err := run("convert", model, h5); err != nil {
		t.Fatal(err)
	}
	// used to be silently ignored, whatever file --weights named
	wantErr(t, []string{"inspect", h5, "--weights", model}, "holds its weights", "applies only to Keras JSON")
}

func TestKerasJSONWithoutWeightsHint(t *testing.T) {
	dir := t.TempDir()
	arch := filepath.Join(dir, "arch.json")
	writeFile(t, arch, `{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "Dense",
 "config": {"name": "d", "units": 2, "activation": "softmax", "batch_input_shape": [null, 3], "use_bias": true}}]},
 "keras_version": "2.2.4", "backend": "tensorflow"}`)
	if _, _, err := run("inspect", arch); err != nil {
		t.Fatalf("an architecture alone is inspectable: %v", err)
	}
	x := writeNPY(t, dir, "x.npy", []int{2, 3}, make([]float32, 6))
	y := writeNPY(t, dir, "y.npy", []int{2}, []float32{0, 1})
	wantErr(t, []string{"predict", arch, "--input", x, "--out", filepath.Join(dir, "o")}, "missing parameter", "--weights FILE.h5")
	wantErr(t, []string{"convert", arch, filepath.Join(dir, "a.rtm")}, "--weights FILE.h5")
	wantErr(t, []string{"fit", arch, "--data", "type=npy,features=" + x + ",labels=" + y, "-o", filepath.Join(dir, "f.rtm")}, "--weights FILE.h5")
}

func TestFitChecksFlagsAndOutputBeforeTraining(t *testing.T) {
	model, dir := oneInput(t)
	x := writeNPY(t, dir, "x.npy", []int{4, 3}, make([]float32, 12))
	y := writeNPY(t, dir, "y.npy", []int{4}, []float32{0, 1, 0, 1})
	data := "type=npy,features=" + x + ",labels=" + y
	out := filepath.Join(dir, "f.rtm")
	for _, c := range []struct {
		args []string
		want string
	}{
		// each used to train first (or silently train one epoch) and fail at the end
		{[]string{"-o", filepath.Join(dir, "f.txt")}, "extension .txt"},
		{[]string{"-o", filepath.Join(dir, "nodir", "f.rtm")}, "does not exist"},
		{[]string{"-o", model}, "--force"},
		{[]string{"-o", out, "--epochs", "0"}, "--epochs must be at least 1"},
		{[]string{"-o", out, "--epochs", "-2"}, "--epochs must be at least 1"},
		{[]string{"-o", out, "--batch-size", "0"}, "--batch-size must be at least 1"},
		{[]string{"-o", out, "--lr", "-1"}, "--lr must be"},
	} {
		_, stderr, err := run(append([]string{"fit", model, "--data", data}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
		if strings.Contains(stderr, "epoch") {
			t.Errorf("%v: trained before failing:\n%s", c.args, stderr)
		}
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a refused fit wrote its output")
	}
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	wantErr(t, []string{"fit", model, "--featurized", filepath.Join(dir, "none"), "-o", out}, "no such folder", "retarget featurize")
	wantErr(t, []string{"fit", model, "--featurized", empty, "-o", out}, "no index.json")
}

func TestFeaturizeRefusesBadSizesAndFileOut(t *testing.T) {
	model, dir := oneInput(t)
	x := writeNPY(t, dir, "x.npy", []int{4, 3}, make([]float32, 12))
	y := writeNPY(t, dir, "y.npy", []int{4}, []float32{0, 1, 0, 1})
	data := "type=npy,features=" + x + ",labels=" + y
	wantErr(t, []string{"featurize", model, "--data", data, "--out", filepath.Join(dir, "f"), "--shard-size", "-5"}, "--shard-size")
	wantErr(t, []string{"featurize", model, "--data", data, "--out", filepath.Join(dir, "f"), "--batch-size", "0"}, "--batch-size")
	wantErr(t, []string{"featurize", model, "--data", data, "--out", x}, "is a file")
}

func TestErrorLineHasOnePrefix(t *testing.T) {
	for in, want := range map[string]string{
		"retarget: 1 problem(s)": "retarget: 1 problem(s)", // package retarget's BuildError
		"bad flag":               "retarget: bad flag",
	} {
		if got := errorLine(errors.New(in)); got != want {
			t.Errorf("%q -> %q, want %q", in, got, want)
		}
	}
}

func TestZooPullFileMissing(t *testing.T) {
	dir := t.TempDir()
	_, err := runZoo(t, "pull", "vgg16", "--file", filepath.Join(dir, "none.h5"), "--cache-dir", dir)
	if err == nil || !strings.Contains(err.Error(), "--file") || !strings.Contains(err.Error(), "no such file") {
		t.Fatal(err)
	}
}

func TestZooOfflineHint(t *testing.T) {
	m, err := zoo.Lookup("vgg16")
	if err != nil {
		t.Fatal(err)
	}
	w, _ := m.WeightsNamed("imagenet")
	dial := &url.Error{Op: "Get", URL: w.URL, Err: errors.New("dial tcp: lookup storage.googleapis.com: no such host")}
	got := offlineHint(fmt.Errorf("%w (the partial download is kept)", dial), m, w).Error()
	for _, s := range []string{"no such host", "--file FILE", "zoo pull vgg16 --weights imagenet", w.URL} {
		if !strings.Contains(got, s) {
			t.Errorf("%q lacks %q", got, s)
		}
	}
	checksum := errors.New("md5 checksum mismatch")
	if offlineHint(checksum, m, w) != checksum {
		t.Error("a non-network error got the offline hint")
	}
}
