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

func nativeEnv() PlanEnv {
	return PlanEnv{
		Load: func(model, _ string) (*ir.Graph, error) { return native.Import(model) },
		Save: func(path string, g *ir.Graph, _ string) error { return native.Export(path, g) },
	}
}

func TestExamplePlanParses(t *testing.T) {
	p, err := LoadPlan("../testdata/plans/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Edits) != 8 || p.FineTune.Updater != ir.UpdNesterov || p.Init != ir.InitXavierNormal || !p.Fit.Featurize ||
		p.Train.Single.Type != "images" || p.Test.Single.Type != "images" || len(p.Output) != 2 {
		t.Fatalf("%+v", p)
	}
}

func TestPlanParseErrorsHaveLines(t *testing.T) {
	src := `model: m.rtm
colour: blue
fine_tune:
  updater: nesterovs
  learning_rat: 0.1
edits:
  - freeze_through: conv2
  - replace_nout: {vertex: out, nout: three}
  - widen: {vertex: d1, add: 2, mode: sideways}
  - explode: d1
  - add:
      name: x2
      inputs: [d2]
      layer: {type: dense, unitz: 3}
data: {train: {type: csv, path: a.csv, size: [3, 3]}}
output: [o.rtm]
`
	_, err := ParsePlan([]byte(src), "p.yaml")
	var pe *PlanError
	if !errors.As(err, &pe) {
		t.Fatal(err)
	}
	want := map[int]string{2: "colour", 5: "learning_rat", 8: "three", 9: "sideways", 10: "explode", 14: "unitz", 15: "size"}
	for _, p := range pe.Problems {
		if w, ok := want[p.Line]; ok && strings.Contains(p.Error(), w) {
			delete(want, p.Line)
		}
	}
	if len(want) > 0 {
		t.Fatalf("missing %v in\n%v", want, err)
	}
	if !strings.Contains(err.Error(), "p.yaml:2:") {
		t.Fatal(err)
	}
}

func writePlanFixture(t *testing.T, dir string) {
	src := mlp(t)
	src.Train = &ir.TrainConfig{Updater: ir.UpdSGD, LearningRate: 0.1}
	if err := native.Export(filepath.Join(dir, "base.rtm"), src); err != nil {
		t.Fatal(err)
	}
	// a 3-class task: the class is the sign pattern of two features
	n := 300
	x := randTensor(5, n, 8)
	y := ir.NewTensor(n)
	for i := 0; i < n; i++ {
		c := 0
		if x.Data[i*8] > 0.3 {
			c = 1
		} else if x.Data[i*8+1] > 0 {
			c = 2
		}
		y.Data[i] = float32(c)
	}
	for name, a := range map[string]*ir.Tensor{"x.npy": x, "y.npy": y} {
		if err := npy.WriteFile(filepath.Join(dir, name), a.Shape, a.Data); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPlanRunEndToEnd(t *testing.T) {
	for _, featurize := range []bool{true, false} {
		t.Run(fmt.Sprint("featurize=", featurize), func(t *testing.T) { planRun(t, featurize) })
	}
}

func planRun(t *testing.T, featurize bool) {
	dir := t.TempDir()
	writePlanFixture(t, dir)
	plan := `model: base.rtm
fine_tune: {updater: adam, learning_rate: 0.01, seed: 3}
edits:
  - replace_nout: {vertex: out, nout: 3}
  - freeze_through: d1
  - widen: {vertex: d2, add: 4, mode: preserve}
data:
  train: {type: npy, features: x.npy, labels: y.npy}
  test: {type: npy, features: x.npy, labels: y.npy}
fit: {epochs: 30, batch_size: 32, featurize: %v, cache_dir: %s}
output: [out/new.rtm, out/copy.rtm]
`
	plan = fmt.Sprintf(plan, featurize, filepath.Join(dir, "cache"))
	path := filepath.Join(dir, "plan.yaml")
	os.WriteFile(path, []byte(plan), 0o644)
	os.Mkdir(filepath.Join(dir, "out"), 0o755)
	p, err := LoadPlan(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Check(nativeEnv()); err != nil {
		t.Fatal(err)
	}
	res, err := p.Run(nativeEnv())
	if err != nil {
		t.Fatal(err)
	}
	last := res.Epochs[len(res.Epochs)-1]
	if len(res.Outputs) != 2 || len(res.Epochs) != 30 || last.TestAccuracy == nil || !(*last.TestAccuracy > 0.8) || !(*last.Accuracy > 0.8) {
		t.Fatalf("outputs %v, last epoch %+v", res.Outputs, last)
	}
	if featurize != (len(res.Featurized) == 2) {
		t.Fatalf("featurized %+v", res.Featurized)
	}
	g, err := native.Import(filepath.Join(dir, "out/new.rtm"))
	if err != nil {
		t.Fatal(err)
	}
	if !g.Vertex("d1").Frozen || g.Vertex("d2").Frozen || g.Vertex("out").Layer.(*ir.Output).Units != 3 {
		t.Fatal("frozen flags or class count lost on save")
	}
	base, _ := native.Import(filepath.Join(dir, "base.rtm"))
	if !base.Vertex("d1").Params["W"].Equal(g.Vertex("d1").Params["W"]) {
		t.Fatal("frozen d1 moved")
	}
}

func TestPlanCheckReportsBuildProblemsWithLines(t *testing.T) {
	dir := t.TempDir()
	writePlanFixture(t, dir)
	plan := `model: base.rtm
edits:
  - freeze_through: d1
  - replace_nout: {vertex: nope, nout: 3}
  - widen: {vertex: out, add: 2}
data:
  train:
    type: npy
    features: missing.npy
    labels: y.npy
output: [base.rtm]
`
	path := filepath.Join(dir, "plan.yaml")
	os.WriteFile(path, []byte(plan), 0o644)
	p, err := LoadPlan(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Check(nativeEnv())
	var pe *PlanError
	if !errors.As(err, &pe) {
		t.Fatal(err)
	}
	lines := map[int]bool{}
	for _, pr := range pe.Problems {
		lines[pr.Line] = true
	}
	for _, l := range []int{4, 5, 9, 11} {
		if !lines[l] {
			t.Errorf("no problem on line %d:\n%v", l, err)
		}
	}
}

// The README's plan block parses: every key it shows exists.
func TestReadmePlanParses(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "```yaml\nmodel: vgg16.h5")
	if i < 0 {
		t.Fatal("README has no plan block")
	}
	block := s[i+len("```yaml\n"):]
	block = block[:strings.Index(block, "```")]
	p, err := ParsePlan([]byte(block), "README.md")
	if err != nil {
		t.Fatal(err)
	}
	if p.Fit.History != "history.csv" || p.Fit.EarlyStopping == nil || p.Fit.ReduceLR == nil || p.Fit.Checkpoint == nil {
		t.Fatalf("fit keys: %+v", p.Fit)
	}
}
