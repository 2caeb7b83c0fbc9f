package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/exporters/native"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

func hashFile(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func initSave(t *testing.T, g *ir.Graph, path string) {
	t.Helper()
	if err := nn.InitGraph(g, ir.InitXavierUniform, 7); err != nil {
		t.Fatal(err)
	}
	if err := native.Export(path, g); err != nil {
		t.Fatal(err)
	}
}

// mlpFixture writes base.rtm (x[8] -> d1 -> d2 -> drop -> out, and a
// second output aux on d1), train.npy data and a test.csv of the same
// 3-class task (class: sign pattern of two features).
func mlpFixture(t *testing.T, dir string) {
	g := &ir.Graph{
		Inputs: []ir.Input{{Name: "x", Shape: []int{8}}},
		Vertices: []*ir.Vertex{
			{Name: "d1", Layer: &ir.Dense{Units: 16, Activation: ir.Act(ir.ActReLU)}, Inputs: []string{"x"}},
			{Name: "d2", Layer: &ir.Dense{Units: 12, Activation: ir.Act(ir.ActTanh)}, Inputs: []string{"d1"}},
			{Name: "drop", Layer: &ir.Dropout{Rate: 0.1}, Inputs: []string{"d2"}},
			{Name: "out", Layer: &ir.Output{Units: 4, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, Inputs: []string{"drop"}},
			{Name: "aux", Layer: &ir.Dense{Units: 2}, Inputs: []string{"d1"}},
			{Name: "aux2", Layer: &ir.Dense{Units: 2}, Inputs: []string{"d1"}},
		},
		Outputs: []ir.GraphOutput{{Name: "out", Vertex: "out"}, {Name: "aux", Vertex: "aux"}, {Name: "aux2", Vertex: "aux2"}},
		Train:   &ir.TrainConfig{Updater: ir.UpdSGD, LearningRate: 0.1},
	}
	initSave(t, g, filepath.Join(dir, "base.rtm"))
	r := rand.New(rand.NewSource(5))
	class := func(row []float32) int {
		if row[0] > 0.3 {
			return 1
		} else if row[1] > 0 {
			return 2
		}
		return 0
	}
	n := 300
	x, y := make([]float32, n*8), make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	for i := 0; i < n; i++ {
		y[i] = float32(class(x[i*8 : i*8+8]))
	}
	writeNPY(t, dir, "train_x.npy", []int{n, 8}, x)
	writeNPY(t, dir, "train_y.npy", []int{n}, y)
	var csv strings.Builder
	csv.WriteString("label,a,b,c,d,e,f,g,h\n")
	for i := 0; i < 100; i++ {
		row := make([]float32, 8)
		for j := range row {
			row[j] = float32(r.NormFloat64())
		}
		fmt.Fprintf(&csv, "%d", class(row))
		for _, v := range row {
			fmt.Fprintf(&csv, ",%g", v)
		}
		csv.WriteString("\n")
	}
	writeFile(t, filepath.Join(dir, "data", "test.csv"), csv.String())
}

const mlpPlan = `model: base.rtm
fine_tune: {updater: nesterovs, learning_rate: 0.05, momentum: 0.9, seed: 42, l2: 1.0e-4, l1: 0, clip_norm: 5, init: xavier,
            schedule: {kind: step, every: 1000, gamma: 0.9}}
edits:
  - freeze_through: [d2]
  - unfreeze: [d2]
  - replace_nout: {vertex: out, nout: 3, init: xavier, fanout_init: xavier}
  - remove_outputs: 1
  - remove: {vertex: aux, keep_connections: false}
  - widen: {vertex: d2, add: 4, mode: net2net}
  - add: {name: fc3, inputs: [d2], init: relu, train: {learning_rate: 0.02}, layer: {type: dense, nout: 10, activation: relu}}
  - insert: {name: extra, after: fc3, layer: {type: dense, activation: relu}, init: identity}
  - set_inputs: {vertex: drop, inputs: [extra]}
  - set_outputs: [out]
data:
  train: {type: npy, features: train_x.npy, labels: train_y.npy}
  test: {type: csv, path: data/test.csv, label_column: 0, header: true}
fit: {epochs: 25, batch_size: 16, featurize: true, shuffle: true, cache_dir: cache, shard_size: 64}
output: [out/new.rtm, out/copy.rtm]
`

type report struct {
	Frozen          []string `json:"frozen"`
	ParamsTotal     int      `json:"params_total"`
	ParamsTrainable int      `json:"params_trainable"`
	Epochs          []struct {
		Epoch        int      `json:"epoch"`
		Loss         float64  `json:"loss"`
		Accuracy     *float64 `json:"accuracy"`
		TestLoss     *float64 `json:"test_loss"`
		TestAccuracy *float64 `json:"test_accuracy"`
	} `json:"epochs"`
	Featurized []struct {
		Data     string `json:"data"`
		Reused   bool   `json:"reused"`
		Examples int    `json:"examples"`
	} `json:"featurized"`
	Outputs []string `json:"outputs"`
}

func applyJSON(t *testing.T, plan string) report {
	t.Helper()
	out, stderr, err := run("apply", plan, "--json")
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, out, stderr)
	}
	var r report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return r
}

func TestApplyPlanEveryEditFeaturizedJSON(t *testing.T) {
	dir := t.TempDir()
	mlpFixture(t, dir)
	plan := filepath.Join(dir, "plan.yaml")
	writeFile(t, plan, mlpPlan)
	src := filepath.Join(dir, "base.rtm")
	before := hashFile(t, src)

	if out, _, err := run("apply", "--check", plan); err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("check: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
		t.Fatal("--check wrote something")
	}
	r := applyJSON(t, plan)
	last := r.Epochs[len(r.Epochs)-1]
	t.Logf("last epoch %+v, params %d/%d, frozen %v", last, r.ParamsTotal, r.ParamsTrainable, r.Frozen)
	if len(r.Epochs) != 25 || last.Accuracy == nil || *last.Accuracy < 0.8 || last.TestAccuracy == nil || *last.TestAccuracy < 0.7 {
		t.Fatalf("training report %+v", last)
	}
	if strings.Join(r.Frozen, ",") != "d1" || len(r.Outputs) != 2 || len(r.Featurized) != 2 || r.Featurized[0].Reused || r.Featurized[1].Examples != 100 {
		t.Fatalf("report %+v", r)
	}
	g, err := native.Import(filepath.Join(dir, "out", "new.rtm"))
	if err != nil {
		t.Fatal(err)
	}
	if g.Vertex("d2").Layer.(*ir.Dense).Units != 16 || g.Vertex("extra").Layer.(*ir.Dense).Units != 10 ||
		g.Vertex("drop").Inputs[0] != "extra" || g.Vertex("aux") != nil || g.Vertex("aux2") != nil || g.Vertex("out").Inputs[0] != "drop" ||
		g.Vertex("out").Layer.(*ir.Output).Units != 3 || !g.Vertex("d1").Frozen || g.Train.Updater != ir.UpdNesterov {
		t.Fatal("edits not applied as planned")
	}
	total, trainable := 8*16+16+16*16+16+16*10+10+10*10+10+10*3+3, 16*16+16+16*10+10+10*10+10+10*3+3
	if r.ParamsTotal != total || r.ParamsTrainable != trainable {
		t.Fatalf("params %d/%d, want %d/%d", r.ParamsTotal, r.ParamsTrainable, total, trainable)
	}
	base, _ := native.Import(src)
	if !base.Vertex("d1").Params["W"].Equal(g.Vertex("d1").Params["W"]) {
		t.Fatal("frozen d1 moved")
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "out"))
	if len(ents) != 2 {
		t.Fatalf("out/ holds %d entries (temporary files left?)", len(ents))
	}
	// a second run reuses the shards and gives the same model
	r2 := applyJSON(t, plan)
	if !r2.Featurized[0].Reused || !r2.Featurized[1].Reused {
		t.Fatalf("shards not reused: %+v", r2.Featurized)
	}
	if hashFile(t, src) != before {
		t.Fatal("the source model file changed")
	}
}

func TestApplyImagesAndSequences(t *testing.T) {
	dir := t.TempDir()
	// images: red or blue 8x8 squares with noise, one folder per class
	r := rand.New(rand.NewSource(1))
	for _, split := range []string{"train", "test"} {
		for c, name := range []string{"blue", "red"} {
			for i := 0; i < 24; i++ {
				img := image.NewRGBA(image.Rect(0, 0, 8, 8))
				for p := 0; p < 64; p++ {
					n := uint8(r.Intn(60))
					col := color.RGBA{n, n, 200 + n/2, 255}
					if c == 1 {
						col = color.RGBA{200 + n/2, n, n, 255}
					}
					img.Set(p%8, p/8, col)
				}
				path := filepath.Join(dir, "img", split, name, fmt.Sprintf("%d.png", i))
				os.MkdirAll(filepath.Dir(path), 0o755)
				f, _ := os.Create(path)
				png.Encode(f, img)
				f.Close()
			}
		}
	}
	cnn := &ir.Graph{
		Inputs: []ir.Input{{Name: "image", Shape: []int{3, 8, 8}}},
		Vertices: []*ir.Vertex{
			{Name: "conv", Layer: &ir.Conv{Rank: 2, Filters: 4, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: ir.Act(ir.ActReLU)}, Inputs: []string{"image"}},
			{Name: "pool", Layer: &ir.GlobalPool{Rank: 2, Op: ir.PoolAvg}, Inputs: []string{"conv"}},
			{Name: "out", Layer: &ir.Output{Units: 5, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, Inputs: []string{"pool"}},
		},
		Outputs: []ir.GraphOutput{{Name: "out", Vertex: "out"}},
		Train:   &ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 0.05},
	}
	initSave(t, cnn, filepath.Join(dir, "cnn.rtm"))
	writeFile(t, filepath.Join(dir, "images.yaml"), `model: cnn.rtm
edits:
  - replace_nout: {vertex: out, nout: 2}
  - insert: {name: conv_extra, after: conv, layer: {type: conv2d, kernel: 3, padding: same, activation: relu}, init: identity}
data:
  train: {type: images, path: img/train, size: [8, 8], preprocess: unit}
  test: {type: images, path: img/test, size: [8, 8], preprocess: unit}
fit: {epochs: 15, batch_size: 8}
output: [cnn2.rtm]
`)
	ri := applyJSON(t, filepath.Join(dir, "images.yaml"))
	if a := ri.Epochs[len(ri.Epochs)-1].TestAccuracy; a == nil || *a < 0.9 {
		t.Fatalf("images: %+v", ri.Epochs[len(ri.Epochs)-1])
	}

	// csv-sequences: label at each step is 1 when the step's value is positive
	for i := 0; i < 40; i++ {
		var xs, ys strings.Builder
		for s := 0; s < 5; s++ {
			v := r.NormFloat64()
			fmt.Fprintf(&xs, "%g,%g\n", v, r.NormFloat64()*0.1)
			fmt.Fprintf(&ys, "%d\n", map[bool]int{true: 1, false: 0}[v > 0])
		}
		writeFile(t, filepath.Join(dir, "seq", "x", fmt.Sprintf("%d.csv", i)), xs.String())
		writeFile(t, filepath.Join(dir, "seq", "y", fmt.Sprintf("%d.csv", i)), ys.String())
	}
	rnn := &ir.Graph{
		Inputs: []ir.Input{{Name: "x", Shape: []int{-1, 2}}},
		Vertices: []*ir.Vertex{
			{Name: "lstm_1", Layer: &ir.LSTM{Units: 6, Activation: ir.Act(ir.ActTanh), RecurrentActivation: ir.Act(ir.ActSigmoid), ReturnSequences: true}, Inputs: []string{"x"}},
			{Name: "out", Layer: &ir.RnnOutput{Units: 2, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, Inputs: []string{"lstm_1"}},
		},
		Outputs: []ir.GraphOutput{{Name: "out", Vertex: "out"}},
		Train:   &ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 0.05},
	}
	initSave(t, rnn, filepath.Join(dir, "rnn.rtm"))
	writeFile(t, filepath.Join(dir, "seq.yaml"), `model: rnn.rtm
edits:
  - widen: {vertex: lstm_1, add: 10, mode: preserve}
data:
  train: {type: csv-sequences, features: seq/x, labels: seq/y}
fit: {epochs: 30, batch_size: 8}
output: [rnn2.rtm]
`)
	rs := applyJSON(t, filepath.Join(dir, "seq.yaml"))
	if a := rs.Epochs[len(rs.Epochs)-1].Accuracy; a == nil || *a < 0.9 {
		t.Fatalf("sequences: %+v", rs.Epochs[len(rs.Epochs)-1])
	}
	g, err := native.Import(filepath.Join(dir, "rnn2.rtm"))
	if err != nil || g.Vertex("lstm_1").Layer.(*ir.LSTM).Units != 16 {
		t.Fatal("widened LSTM not written", err)
	}
}

func TestApplyBadPlansFailBeforeAnyWork(t *testing.T) {
	dir := t.TempDir()
	mlpFixture(t, dir)
	cases := []struct{ name, plan, want string }{
		{"unknown vertex", "model: base.rtm\nedits:\n  - freeze_through: [nope]\n", `plan.yaml:3:`},
		{"impossible shape", "model: base.rtm\nedits:\n  - insert: {name: c, after: d1, layer: {type: conv2d, nout: 3, kernel: 3}}\n", `plan.yaml:3:`},
		{"unknown key", "model: base.rtm\nedits:\n  - widen: {vertex: d2, extra: 3}\n", `plan.yaml:3: unknown key "extra"`},
		{"missing weights", "model: base.rtm\nweights: w.h5\n", `plan.yaml:2: weights:`},
		{"nin typed", "model: base.rtm\nedits:\n  - replace_nin: {vertex: d1, nin: 4}\n  - add: {name: z, inputs: [d1], layer: {type: dense, nout: 2, nin: 16}}\n", `plan.yaml:4:`},
		{"image size", "model: base.rtm\ndata:\n  train: {type: images, path: data, size: [4, 4]}\n", `plan.yaml:3:`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plan := filepath.Join(dir, "plan.yaml")
			writeFile(t, plan, c.plan+"fit: {epochs: 1, featurize: true, cache_dir: cache}\ndata:\n  train: {type: npy, features: train_x.npy, labels: train_y.npy}\noutput: [bad.rtm]\n")
			if strings.Contains(c.plan, "data:") {
				writeFile(t, plan, c.plan+"fit: {epochs: 1, featurize: true, cache_dir: cache}\noutput: [bad.rtm]\n")
			}
			out, stderr, err := run("apply", plan)
			if err == nil || !strings.Contains(stderr, c.want) || out != "" {
				t.Fatalf("want %q on stderr and nothing on stdout, got %v\nstdout: %s\nstderr: %s", c.want, err, out, stderr)
			}
			for _, p := range []string{"bad.rtm", "cache"} {
				if _, err := os.Stat(filepath.Join(dir, p)); !os.IsNotExist(err) {
					t.Fatalf("%s exists: work was done", p)
				}
			}
		})
	}
}

func TestFeaturizeAndFitCommands(t *testing.T) {
	dir := t.TempDir()
	mlpFixture(t, dir)
	g, _ := native.Import(filepath.Join(dir, "base.rtm"))
	g.Vertex("d1").Frozen = true
	g.Vertex("d2").Frozen = true
	frozen := filepath.Join(dir, "frozen.rtm")
	native.Export(frozen, g)
	feats := filepath.Join(dir, "feats")
	data := "type=npy,features=" + filepath.Join(dir, "train_x.npy") + ",labels=" + filepath.Join(dir, "train_y.npy")
	for i, want := range []string{"featurized 300", "reused 300"} {
		out, _, err := run("featurize", frozen, "--data", data, "--out", feats)
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("run %d: %v %s", i, err, out)
		}
	}
	// the model has two outputs; only out has a loss: fit from the shards
	out, stderr, err := run("fit", frozen, "--featurized", feats, "-o", filepath.Join(dir, "head.rtm"), "--epochs", "3", "--updater", "nesterovs", "--lr", "0.01", "--momentum", "0.9")
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, out, stderr)
	}
	test := fmt.Sprintf("{type: csv, path: %s, label_column: 0, header: true}", filepath.Join(dir, "data", "test.csv"))
	out, stderr, err = run("fit", frozen, "--data", data, "--test", test, "-o", filepath.Join(dir, "full.rtm"), "--epochs", "2")
	if err != nil || !strings.Contains(stderr, "test accuracy") {
		t.Fatalf("%v\n%s\n%s", err, out, stderr)
	}
	if _, _, err := run("fit", frozen, "--data", "type=npy,features=x.npy", "-o", "z.rtm"); err == nil || !strings.Contains(err.Error(), "labels") {
		t.Fatalf("want a labels error, got %v", err)
	}
}
