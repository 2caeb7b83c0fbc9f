package retarget

import (
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/exporters/native"
	"github.com/retarget-dev/retarget/history"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
	"github.com/retarget-dev/retarget/npy"
)

// fitFixture is a 3-class classifier on 4 features, with training and
// test arrays on disk (class numbers from a fixed linear map).
func fitFixture(t *testing.T, lr float64) (*ir.Graph, Sources, Sources, [][]float32) {
	t.Helper()
	g := &ir.Graph{Name: "cls",
		Inputs: []ir.Input{{Name: "x", Shape: []int{4}}},
		Vertices: []*ir.Vertex{
			{Name: "h", Layer: &ir.Dense{Units: 8, Activation: ir.Act(ir.ActTanh)}, Inputs: []string{"x"}},
			{Name: "out", Layer: &ir.Output{Units: 3, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, Inputs: []string{"h"}},
		},
		Outputs: []ir.GraphOutput{{Name: "out", Vertex: "out"}},
		Train:   &ir.TrainConfig{Updater: ir.UpdSGD, LearningRate: lr}}
	if err := nn.InitGraph(g, ir.InitXavierUniform, 2); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(9))
	write := func(name string, n int) (Sources, []float32, []float32) {
		x, y := make([]float32, n*4), make([]float32, n)
		for i := 0; i < n; i++ {
			var s [3]float32
			for j := 0; j < 4; j++ {
				x[i*4+j] = float32(rng.NormFloat64())
			}
			s[0], s[1], s[2] = x[i*4]+x[i*4+1], x[i*4+2]-x[i*4], x[i*4+3]
			for c := 1; c < 3; c++ {
				if s[c] > s[int(y[i])] {
					y[i] = float32(c)
				}
			}
		}
		xp, yp := filepath.Join(dir, name+"_x.npy"), filepath.Join(dir, name+"_y.npy")
		if err := npy.WriteFile(xp, []int{n, 4}, x); err != nil {
			t.Fatal(err)
		}
		if err := npy.WriteFile(yp, []int{n}, y); err != nil {
			t.Fatal(err)
		}
		return Single(DataSpec{Type: "npy", Features: xp, Labels: yp}), x, y
	}
	train, x, y := write("train", 60)
	test, _, _ := write("test", 30)
	return g, train, test, [][]float32{x, y}
}

func TestFitReduceLROnPlateau(t *testing.T) {
	g, train, _, _ := fitFixture(t, 0.2)
	// min_delta 100: no epoch after the first improves
	r, err := Fit(g, FitOptions{Train: FitData{Sources: &train}, Epochs: 5, BatchSize: 10,
		ReduceLR: &ReduceLR{Monitor: "loss", Factor: 0.5, Patience: 1, MinDelta: 100, MinLR: 0.03}})
	if err != nil {
		t.Fatal(err)
	}
	var lrs []float64
	for _, e := range r.History.Epochs() {
		lrs = append(lrs, e.Values[history.ColLR])
	}
	// the rate of an epoch's row is the one it trained with
	want := []float64{0.2, 0.2, 0.1, 0.05, 0.03}
	for i := range want {
		if math.Abs(lrs[i]-want[i]) > 1e-12 {
			t.Fatalf("learning rates %v, want %v", lrs, want)
		}
	}
}

func TestFitEarlyStoppingAndBestCheckpoint(t *testing.T) {
	g, train, test, _ := fitFixture(t, 0.5)
	r, err := Fit(g, FitOptions{Train: FitData{Sources: &train}, Test: FitData{Sources: &test}, Epochs: 20, BatchSize: 10,
		EarlyStopping: &EarlyStopping{Monitor: "val_loss", Patience: 2, MinDelta: 100}})
	if err != nil {
		t.Fatal(err)
	}
	if !r.StoppedEarly || len(r.Epochs) != 3 || r.BestEpoch != 1 {
		t.Fatalf("stopped early %v after %d epochs, best %d; want after 3, best 1", r.StoppedEarly, len(r.Epochs), r.BestEpoch)
	}

	g, train, test, _ = fitFixture(t, 0.5)
	ck := filepath.Join(t.TempDir(), "best.rtm")
	var saved []int
	epoch := 0
	r, err = Fit(g, FitOptions{Train: FitData{Sources: &train}, Test: FitData{Sources: &test}, Epochs: 8, BatchSize: 10,
		Checkpoint: &Checkpoint{Path: ck, Monitor: "val_accuracy"},
		OnEpoch:    func(e EpochReport) { epoch = e.Epoch },
		Save: func(path string, g *ir.Graph) error {
			saved = append(saved, epoch)
			return native.Save(path, g)
		}})
	if err != nil {
		t.Fatal(err)
	}
	best, bestEpoch := -1.0, 0
	var improving []int
	for _, e := range r.Epochs {
		if a := *e.TestAccuracy; a > best {
			best, bestEpoch = a, e.Epoch
			improving = append(improving, e.Epoch)
		}
	}
	if r.BestEpoch != bestEpoch || len(saved) != len(improving) || saved[len(saved)-1] != bestEpoch {
		t.Fatalf("checkpoints after epochs %v (best %d), val_accuracy improves at %v", saved, r.BestEpoch, improving)
	}
	if _, err := native.Load(ck); err != nil {
		t.Fatal(err)
	}
	// an unknown monitor is refused before training, naming what is measured
	_, err = Fit(g, FitOptions{Train: FitData{Sources: &train}, EarlyStopping: &EarlyStopping{Monitor: "val_loss"}})
	if err == nil || !strings.Contains(err.Error(), "val_ values need test data") || !strings.Contains(err.Error(), "accuracy") {
		t.Fatalf("monitor without test data: %v", err)
	}
}

// Class weights make the loss the weighted mean of the examples' losses:
// the first batch's loss (before any update) is Σ w_c·l_i / Σ w_c.
func TestFitClassWeights(t *testing.T) {
	g, train, _, xy := fitFixture(t, 0.1)
	w := []float64{1, 2.5, 0}
	ref, err := nn.CompileInference(g.Clone())
	if err != nil {
		t.Fatal(err)
	}
	ys, err := ref.Predict(ir.FromData(xy[0], 60, 4))
	if err != nil {
		t.Fatal(err)
	}
	var num, den float64
	for i := 0; i < 60; i++ {
		c := int(xy[1][i])
		num += w[c] * -math.Log(float64(ys[0].Data[i*3+c]))
		den += w[c]
	}
	var first float64
	_, err = Fit(g, FitOptions{Train: FitData{Sources: &train}, Epochs: 1, BatchSize: 60,
		ClassWeights: map[string][]float64{"": w},
		Hooks:        nn.FitConfig{ScoreEvery: 1, OnScore: func(s nn.StepInfo) { first = s.Loss }}})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(first-num/den) > 1e-5*num/den {
		t.Fatalf("weighted loss %v, want %v", first, num/den)
	}
	for _, bad := range []map[string][]float64{{"": {1, 2}}, {"nope": {1, 2, 3}}, {"": {1, -1, 1}}} {
		if _, err := Fit(g, FitOptions{Train: FitData{Sources: &train}, ClassWeights: bad}); err == nil {
			t.Errorf("class weights %v accepted", bad)
		}
	}
}

// A plan with per-input sources, loss weights and every fit key runs:
// the history file has every epoch, the plot is a PNG, the checkpoint is
// written; bad sources are reported with their lines by the check.
func TestPlanNamedSourcesAndFitKeys(t *testing.T) {
	dir := t.TempDir()
	g := &ir.Graph{Name: "two",
		Inputs: []ir.Input{{Name: "a", Shape: []int{3}}, {Name: "b", Shape: []int{2}}},
		Vertices: []*ir.Vertex{
			{Name: "cat", Layer: &ir.Concat{Axis: 0}, Inputs: []string{"a", "b"}},
			{Name: "h", Layer: &ir.Dense{Units: 4, Activation: ir.Act(ir.ActTanh)}, Inputs: []string{"cat"}, Frozen: true},
			{Name: "reg", Layer: &ir.Output{Units: 1, Activation: ir.Act(ir.ActIdentity), Loss: ir.LossMSE, LossWeight: 0.5}, Inputs: []string{"h"}},
			{Name: "cls", Layer: &ir.Output{Units: 2, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, Inputs: []string{"h"}},
		},
		Outputs: []ir.GraphOutput{{Name: "reg", Vertex: "reg"}, {Name: "cls", Vertex: "cls"}},
		Train:   &ir.TrainConfig{Updater: ir.UpdSGD, LearningRate: 0.1}}
	if err := nn.InitGraph(g, ir.InitXavierUniform, 4); err != nil {
		t.Fatal(err)
	}
	if err := native.Save(filepath.Join(dir, "m.rtm"), g); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(3))
	arr := func(name string, shape []int, f func() float32) {
		d := make([]float32, ir.NumElements(shape))
		for i := range d {
			d[i] = f()
		}
		if err := npy.WriteFile(filepath.Join(dir, name), shape, d); err != nil {
			t.Fatal(err)
		}
	}
	norm := func() float32 { return float32(rng.NormFloat64()) }
	arr("xa.npy", []int{40, 3}, norm)
	arr("xb.npy", []int{40, 2}, norm)
	arr("yr.npy", []int{40, 1}, norm)
	arr("yc.npy", []int{40}, func() float32 { return float32(rng.Intn(2)) })
	arr("wrong.npy", []int{40, 5}, norm)
	for _, featurize := range []bool{false, true} {
		plan := `model: m.rtm
data:
  train:
    inputs: {a: xa.npy, b: {type: npy, features: xb.npy}}
    labels: {reg: yr.npy, cls: yc.npy}
  test: {inputs: {a: xa.npy, b: xb.npy}, labels: {reg: yr.npy, cls: yc.npy}}
fit:
  epochs: 4
  batch_size: 8
  featurize: ` + map[bool]string{true: "true", false: "false"}[featurize] + `
  cache_dir: cache
  history: out/history.json
  history_every: 2
  plot: out/fit.png
  early_stopping: {monitor: val_loss, patience: 3}
  reduce_lr: {monitor: val_cls_loss, factor: 0.5, patience: 2}
  checkpoint: {path: out/best.rtm, monitor: val_cls_accuracy}
  class_weights: {cls: [1, 2]}
output: [out/trained.rtm]
`
		pp := filepath.Join(dir, "plan.yaml")
		os.WriteFile(pp, []byte(plan), 0o644)
		p, err := LoadPlan(pp)
		if err != nil {
			t.Fatal(err)
		}
		res, err := p.Run(nativeEnv())
		if err != nil {
			t.Fatalf("featurize=%v: %v", featurize, err)
		}
		h, err := history.ReadFile(filepath.Join(dir, "out/history.json"))
		if err != nil {
			t.Fatal(err)
		}
		if len(h.Epochs()) != len(res.Epochs) || len(res.Epochs) == 0 || len(h.Rows) <= len(res.Epochs) {
			t.Fatalf("featurize=%v: %d history rows, %d epochs", featurize, len(h.Rows), len(res.Epochs))
		}
		for _, c := range []string{"reg_loss", "cls_loss", "cls_accuracy", "val_loss", "val_cls_accuracy", "lr"} {
			if _, ok := h.Epochs()[0].Values[c]; !ok {
				t.Errorf("featurize=%v: no %s in %v", featurize, c, h.Epochs()[0].Values)
			}
		}
		for _, f := range []string{"out/fit.png", "out/best.rtm", "out/trained.rtm"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Error(err)
			}
		}
		if featurize && len(res.Featurized) != 2 {
			t.Errorf("featurized %v", res.Featurized)
		}
	}
	bad := `model: m.rtm
data:
  train:
    inputs: {a: wrong.npy, c: xb.npy}
    labels: {reg: yr.npy}
fit: {epochs: 1, history: h.txt}
output: [o.rtm]
`
	pp := filepath.Join(dir, "bad.yaml")
	os.WriteFile(pp, []byte(bad), 0o644)
	_, err := CheckPlanFile(pp, nativeEnv())
	if err == nil {
		t.Fatal("a bad plan checks")
	}
	msg := err.Error()
	for _, s := range []string{
		`bad.yaml:4: data.train.inputs.a: ` + filepath.Join(dir, "wrong.npy") + ` has examples of shape [5]`,
		`bad.yaml:4: data.train.inputs.c: the model has no input "c"`,
		`the model input "b" has no source`,
		`the loss output "cls" has no labels`,
		`bad.yaml:6: fit: history h.txt: name it .csv or .json`,
	} {
		if !strings.Contains(msg, s) {
			t.Errorf("the check lacks %q:\n%s", s, msg)
		}
	}
}
