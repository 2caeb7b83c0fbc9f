package retarget

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/exporters/native"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/npy"
)

// dataCheckFixture writes three models (an MLP of 8 inputs, a CNN on 3x8x8
// NHWC images, an LSTM on steps of 2 features) and data files of each kind,
// good and bad.
func dataCheckFixture(t *testing.T, dir string) {
	writePlanFixture(t, dir) // base.rtm (8 inputs, 4 classes), x.npy [300 8], y.npy [300] in 0..2
	save := func(name string, g *ir.Graph) {
		if err := native.Export(filepath.Join(dir, name), g); err != nil {
			t.Fatal(err)
		}
	}
	save("cnn.rtm", graphOf(t, []ir.Input{{Name: "image", Shape: []int{3, 8, 8}, Layout: ir.LayoutNHWC}}, []*ir.Vertex{
		vx("conv", &ir.Conv{Rank: 2, Filters: 4, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: ir.Act(ir.ActReLU)}, "image"),
		vx("pool", &ir.GlobalPool{Rank: 2, Op: ir.PoolAvg}, "conv"),
		vx("out", &ir.Output{Units: 5, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, "pool"),
	}, "out"))
	save("rnn.rtm", graphOf(t, []ir.Input{{Name: "x", Shape: []int{-1, 2}}}, []*ir.Vertex{
		vx("lstm", &ir.LSTM{Units: 4, Activation: ir.Act(ir.ActTanh), RecurrentActivation: ir.Act(ir.ActSigmoid), ReturnSequences: true}, "x"),
		vx("out", &ir.RnnOutput{Units: 2, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, "lstm"),
	}, "out"))
	arrays := map[string]*ir.Tensor{
		"x6.npy":       ir.NewTensor(300, 6),
		"onehot2.npy":  ir.NewTensor(300, 2),
		"onehot3.npy":  ir.NewTensor(300, 3),
		"y20.npy":      ir.NewTensor(20),
		"y_range.npy":  ir.FromData([]float32{0, 1, 2, 7}, 4),
		"x4.npy":       ir.NewTensor(4, 8),
		"img_nhwc.npy": ir.NewTensor(2, 8, 8, 3),
		"img_nchw.npy": ir.NewTensor(2, 3, 8, 8),
		"img_bad.npy":  ir.NewTensor(2, 8, 8, 2),
		"y2.npy":       ir.NewTensor(2),
	}
	for name, a := range arrays {
		if err := npy.WriteFile(filepath.Join(dir, name), a.Shape, a.Data); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"good.csv":           "a,b,c,d,e,f,g,h,label\n1,2,3,4,5,6,7,8,0\n",
		"bad.csv":            "1,2,3,4,5,6,1\n",
		"img/a/1.png":        "",
		"img/b/1.png":        "",
		"img/c/1.png":        "",
		"seq/x/0.csv":        "1,2\n3,4\n",
		"seq/y/0.csv":        "0\n1\n",
		"seqbad/x/0.csv":     "1,2,3\n3,4,5\n",
		"seqbad/y/0.csv":     "0,1,0\n1,0,0\n",
		"empty/.keep":        "",
		"notnpy.npy":         "hello",
		"img2/a/1.png":       "",
		"img2/b/1.png":       "",
		"img2/.hidden/1.png": "",
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func checkPlan(t *testing.T, dir, text string) error {
	t.Helper()
	path := filepath.Join(dir, "plan.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := CheckPlanFile(path, nativeEnv())
	return err
}

func TestPlanCheckDataAgainstEditedModel(t *testing.T) {
	dir := t.TempDir()
	dataCheckFixture(t, dir)
	mlp := "model: base.rtm\nedits:\n  - replace_nout: {vertex: out, nout: 3}\ndata:\n"
	cnn := "model: cnn.rtm\nedits:\n  - replace_nout: {vertex: out, nout: 2}\ndata:\n"
	rnn := "model: rnn.rtm\ndata:\n"
	cases := []struct {
		name, head, data string
		line             int    // 0: the plan must pass
		want             string // in the problem on line
	}{
		{"npy ok", mlp, "  train: {type: npy, features: x.npy, labels: y.npy}\n  test: {type: npy, features: x.npy, labels: onehot3.npy}\n", 0, ""},
		{"npy features width", mlp, "  train: {type: npy, features: x6.npy, labels: y.npy}\n", 5, "x6.npy has examples of shape [6], but the model input \"x\" takes [8]"},
		{"npy one-hot classes", mlp, "  train: {type: npy, features: x.npy, labels: onehot2.npy}\n", 5, "labels of shape [300 2] (2 wide) for an output of 3 classes"},
		{"npy counts", mlp, "  train: {type: npy, features: x.npy, labels: y20.npy}\n", 5, "x.npy has 300 examples, y20.npy has 20"},
		{"npy class range", mlp, "  train: {type: npy, features: x4.npy, labels: y_range.npy}\n", 5, "label 7 (example 3) is not a class number in [0, 3)"},
		{"npy not npy", mlp, "  train: {type: npy, features: notnpy.npy, labels: y.npy}\n", 5, "not a usable .npy array"},
		// the unedited model has 4 classes: onehot2 would be wrong there too, onehot3 is right only after the edit
		{"npy test source", mlp, "  train: {type: npy, features: x.npy, labels: y.npy}\n  test: {type: npy, features: x.npy, labels: onehot2.npy}\n", 6, "data.test:"},
		{"npy NHWC source layout", cnn, "  train: {type: npy, features: img_nhwc.npy, labels: y2.npy}\n  test: {type: npy, features: img_nchw.npy, labels: y2.npy}\n", 0, ""},
		{"npy NHWC bad channels", cnn, "  train: {type: npy, features: img_bad.npy, labels: y2.npy}\n", 5, "takes [8 8 3] (NHWC)"},
		{"csv ok", mlp, "  train: {type: csv, path: good.csv, label_column: 8, header: true}\n", 0, ""},
		{"csv columns", mlp, "  train: {type: csv, path: bad.csv}\n", 5, "bad.csv has 6 feature columns (7 columns less the label), the model input \"x\" takes 8"},
		{"csv label column", mlp, "  train: {type: csv, path: good.csv, label_column: 9}\n", 5, "label_column 9: good.csv has 9 columns"},
		{"images ok", cnn, "  train: {type: images, path: img2, size: [8, 8]}\n", 0, ""},
		{"images classes", cnn, "  train: {type: images, path: img, size: [8, 8]}\n", 5, "img has 3 class folders, the model's output \"out\" has 2 classes"},
		{"images no classes", cnn, "  train: {type: images, path: empty, size: [8, 8]}\n", 5, "empty has no class subfolders"},
		{"images size", cnn, "  train: {type: images, path: img2, size: [4, 4]}\n", 5, "size [4 4]: the model input \"image\""},
		{"sequences ok", rnn, "  train: {type: csv-sequences, features: seq/x, labels: seq/y}\n", 0, ""},
		{"sequences features", rnn, "  train: {type: csv-sequences, features: seqbad/x, labels: seq/y}\n", 3, "0.csv has 3 columns (features per step), but the model input \"x\" has shape [-1 2]"},
		{"sequences labels", rnn, "  train: {type: csv-sequences, features: seq/x, labels: seqbad/y}\n", 3, "0.csv has 3 columns for an output of 2 classes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := checkPlan(t, dir, c.head+c.data+"output: [o.rtm]\n")
			if c.line == 0 {
				if err != nil {
					t.Fatalf("a good plan failed: %v", err)
				}
				return
			}
			var pe *PlanError
			if !errors.As(err, &pe) {
				t.Fatalf("want a *PlanError, got %v", err)
			}
			for _, p := range pe.Problems {
				if p.Line == c.line && strings.Contains(p.Msg, c.want) {
					if !strings.HasPrefix(p.Error(), fmt.Sprintf("%s:%d: ", filepath.Join(dir, "plan.yaml"), c.line)) {
						t.Fatalf("not PLAN:LINE: %q", p.Error())
					}
					return
				}
			}
			t.Fatalf("want %q on line %d, got\n%v", c.want, c.line, err)
		})
	}
}

// Data problems are listed with the plan's other problems, each on the
// line of its own key.
func TestPlanCheckListsDataProblemsWithOthers(t *testing.T) {
	dir := t.TempDir()
	dataCheckFixture(t, dir)
	err := checkPlan(t, dir, `model: base.rtm
edits:
  - replace_nout: {vertex: out, nout: 3}
data:
  train:
    type: npy
    features: x6.npy
    labels: onehot2.npy
  test: {type: csv, path: bad.csv}
output: [base.rtm]
`)
	var pe *PlanError
	if !errors.As(err, &pe) {
		t.Fatal(err)
	}
	lines := map[int]bool{}
	for _, p := range pe.Problems {
		lines[p.Line] = true
	}
	for _, l := range []int{7, 8, 9, 10} {
		if !lines[l] {
			t.Errorf("no problem on line %d:\n%v", l, err)
		}
	}
}
