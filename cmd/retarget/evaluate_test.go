package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/modelio"
	"github.com/retarget-dev/retarget/nn"
)

type evalJSON struct {
	Examples int     `json:"examples"`
	Accuracy float64 `json:"accuracy"`
	Macro    struct {
		Precision, Recall, F1 float64
	} `json:"macro"`
	Classes []struct {
		Class                 int
		Precision, Recall, F1 float64
		Support               int
	} `json:"classes"`
	Confusion [][]int  `json:"confusion"`
	MSE       *float64 `json:"mse"`
	MAE       *float64 `json:"mae"`
}

func runEvalJSON(t *testing.T, args ...string) evalJSON {
	t.Helper()
	out, _, err := run(append([]string{"evaluate", "--json"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	var r evalJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return r
}

// clusters are n noisy 2-D points around three centres that overlap, so a
// briefly trained classifier makes mistakes.
func clusters(n int) (x []float32, y []int) {
	rng := rand.New(rand.NewSource(3))
	centres := [][2]float64{{0, 0}, {1.5, 0}, {0, 1.5}}
	for i := 0; i < n; i++ {
		c := i % 3
		y = append(y, c)
		x = append(x, float32(centres[c][0]+rng.NormFloat64()), float32(centres[c][1]+rng.NormFloat64()))
	}
	return x, y
}

// handPredict is argmax(xW + b) in float64 (softmax does not change the
// argmax); it fails on near ties, where float32 could decide otherwise.
func handPredict(t *testing.T, g *ir.Graph, vertex string, x []float32, nIn, k int) []int {
	t.Helper()
	v := g.Vertex(vertex)
	w, b := v.Params["W"].Data, v.Params["b"].Data
	var pred []int
	for r := 0; r < len(x)/nIn; r++ {
		z := make([]float64, k)
		for j := range z {
			z[j] = float64(b[j])
			for i := 0; i < nIn; i++ {
				z[j] += float64(x[r*nIn+i]) * float64(w[i*k+j])
			}
		}
		best := 0
		for j := range z {
			if z[j] > z[best] {
				best = j
			}
		}
		for j := range z {
			if j != best && z[best]-z[j] < 1e-4 {
				t.Fatalf("example %d is a near tie: %v", r, z)
			}
		}
		pred = append(pred, best)
	}
	return pred
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9+1e-6*math.Abs(b) }

// checkClassification compares a report with metrics computed by hand.
func checkClassification(t *testing.T, what string, r evalJSON, actual, pred []int, k int) {
	t.Helper()
	conf := make([][]int, k)
	for i := range conf {
		conf[i] = make([]int, k)
	}
	correct := 0
	for i := range actual {
		conf[actual[i]][pred[i]]++
		if actual[i] == pred[i] {
			correct++
		}
	}
	if r.Examples != len(actual) || !near(r.Accuracy, float64(correct)/float64(len(actual))) {
		t.Errorf("%s: examples %d accuracy %v, want %d %v", what, r.Examples, r.Accuracy, len(actual), float64(correct)/float64(len(actual)))
	}
	if fmt.Sprint(r.Confusion) != fmt.Sprint(conf) {
		t.Errorf("%s: confusion %v, want %v", what, r.Confusion, conf)
	}
	if len(r.Classes) != k {
		t.Fatalf("%s: %d classes, want %d", what, len(r.Classes), k)
	}
	var mp, mr, mf float64
	for c := 0; c < k; c++ {
		tp, predicted, support := 0, 0, 0
		for i := range actual {
			if pred[i] == c {
				predicted++
				if actual[i] == c {
					tp++
				}
			}
			if actual[i] == c {
				support++
			}
		}
		p, rc, f := 0.0, 0.0, 0.0
		if predicted > 0 {
			p = float64(tp) / float64(predicted)
		}
		if support > 0 {
			rc = float64(tp) / float64(support)
		}
		if p+rc > 0 {
			f = 2 * p * rc / (p + rc)
		}
		mp, mr, mf = mp+p/float64(k), mr+rc/float64(k), mf+f/float64(k)
		got := r.Classes[c]
		if got.Class != c || got.Support != support || !near(got.Precision, p) || !near(got.Recall, rc) || !near(got.F1, f) {
			t.Errorf("%s: class %d: %+v, want precision %v recall %v F1 %v support %d", what, c, got, p, rc, f, support)
		}
	}
	if !near(r.Macro.Precision, mp) || !near(r.Macro.Recall, mr) || !near(r.Macro.F1, mf) {
		t.Errorf("%s: macro %+v, want %v %v %v", what, r.Macro, mp, mr, mf)
	}
}

func TestEvaluateClassifierNPYAndCSV(t *testing.T) {
	dir := t.TempDir()
	g := &ir.Graph{
		Inputs: []ir.Input{{Name: "x", Shape: []int{2}}},
		Vertices: []*ir.Vertex{
			{Name: "out", Layer: &ir.Output{Units: 3, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, Inputs: []string{"x"}},
		},
		Outputs: []ir.GraphOutput{{Name: "probs", Vertex: "out"}},
	}
	if err := nn.InitGraph(g, ir.InitXavierUniform, 11); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "base.rtm")
	if err := modelio.Save(base, g, modelio.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	const n = 60
	x, y := clusters(n)
	yf := make([]float32, n)
	onehot := make([]float32, n*3)
	csv := "label,a,b\n"
	for i, c := range y {
		yf[i] = float32(c)
		onehot[i*3+c] = 1
		csv += fmt.Sprintf("%d,%v,%v\n", c, x[2*i], x[2*i+1])
	}
	xp := writeNPY(t, dir, "x.npy", []int{n, 2}, x)
	yp := writeNPY(t, dir, "y.npy", []int{n}, yf)
	ohp := writeNPY(t, dir, "onehot.npy", []int{n, 3}, onehot)
	csvPath := filepath.Join(dir, "d.csv")
	if err := os.WriteFile(csvPath, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	npyData := "type=npy,features=" + xp + ",labels=" + yp

	model := filepath.Join(dir, "trained.rtm")
	if _, _, err := run("fit", base, "--data", npyData, "-o", model, "--epochs", "20", "--batch-size", "16", "--lr", "0.1"); err != nil {
		t.Fatal(err)
	}
	trained, err := modelio.Load(model, modelio.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pred := handPredict(t, trained, "out", x, 2, 3)
	wrong := 0
	for i := range y {
		if pred[i] != y[i] {
			wrong++
		}
	}
	if wrong == 0 || wrong == n {
		t.Fatalf("%d of %d wrong: the fixture should be partly right", wrong, n)
	}

	for _, src := range []struct{ what, data string }{
		{"npy class numbers", npyData},
		{"npy one-hot", "type=npy,features=" + xp + ",labels=" + ohp},
		{"csv", fmt.Sprintf("{type: csv, path: %s, label_column: 0, header: true}", csvPath)},
	} {
		for _, bs := range []string{"7", "64"} {
			r := runEvalJSON(t, model, "--data", src.data, "--batch-size", bs)
			checkClassification(t, src.what+" batch "+bs, r, y, pred, 3)
		}
	}

	out, _, err := run("evaluate", model, "--data", npyData)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"output: probs (loss mcxent)", fmt.Sprintf("examples: %d", n), "accuracy: ", "macro F1", "confusion (rows actual"} {
		if !strings.Contains(out, w) {
			t.Errorf("table lacks %q:\n%s", w, out)
		}
	}

	// class numbers beyond the output's classes, one-hot rows of the wrong width
	bad := writeNPY(t, dir, "bad.npy", []int{n}, append(append([]float32(nil), yf[:n-1]...), 5))
	wantErr(t, []string{"evaluate", model, "--data", "type=npy,features=" + xp + ",labels=" + bad}, "--data", "label 5 is not a class number in [0, 3)")
	wide := writeNPY(t, dir, "wide.npy", []int{n, 4}, make([]float32, n*4))
	wantErr(t, []string{"evaluate", model, "--data", "type=npy,features=" + xp + ",labels=" + wide}, "--data", "[60 4]", "3 classes")
}

// regressor has two outputs from one input: a 2-unit MSE regression head
// and a 3-unit Dense without a loss.
func regressor(t *testing.T, dir string) (string, *ir.Graph) {
	t.Helper()
	g := &ir.Graph{
		Inputs: []ir.Input{{Name: "x", Shape: []int{3}}},
		Vertices: []*ir.Vertex{
			{Name: "reg", Layer: &ir.Output{Units: 2, Activation: ir.Act(ir.ActIdentity), Loss: ir.LossMSE}, Inputs: []string{"x"}},
			{Name: "feat", Layer: &ir.Dense{Units: 3}, Inputs: []string{"x"}},
		},
		Outputs: []ir.GraphOutput{{Name: "value", Vertex: "reg"}, {Name: "features", Vertex: "feat"}},
	}
	if err := nn.InitGraph(g, ir.InitXavierUniform, 5); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "reg.rtm")
	if err := modelio.Save(path, g, modelio.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return path, g
}

func TestEvaluateRegressionAndOutputChoice(t *testing.T) {
	dir := t.TempDir()
	model, g := regressor(t, dir)
	const n = 9
	rng := rand.New(rand.NewSource(1))
	x := make([]float32, n*3)
	y := make([]float32, n*2)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for i := range y {
		y[i] = float32(rng.NormFloat64())
	}
	xp := writeNPY(t, dir, "x.npy", []int{n, 3}, x)
	yp := writeNPY(t, dir, "y.npy", []int{n, 2}, y)
	data := "type=npy,features=" + xp + ",labels=" + yp

	v := g.Vertex("reg")
	w, b := v.Params["W"].Data, v.Params["b"].Data
	var se, ae float64
	for r := 0; r < n; r++ {
		for j := 0; j < 2; j++ {
			p := float64(b[j])
			for i := 0; i < 3; i++ {
				p += float64(x[r*3+i]) * float64(w[i*2+j])
			}
			d := p - float64(y[r*2+j])
			se += d * d
			ae += math.Abs(d)
		}
	}
	r := runEvalJSON(t, model, "--data", data, "--output", "value", "--batch-size", "4")
	if r.Examples != n || r.MSE == nil || r.MAE == nil || math.Abs(*r.MSE-se/(2*n)) > 1e-5 || math.Abs(*r.MAE-ae/(2*n)) > 1e-5 {
		t.Fatalf("got %+v (mse %v mae %v), want mse %v mae %v", r, deref(r.MSE), deref(r.MAE), se/(2*n), ae/(2*n))
	}
	out, _, err := run("evaluate", model, "--data", data, "--output", "value")
	if err != nil || !strings.Contains(out, fmt.Sprintf("examples: %d  MSE: ", n)) {
		t.Fatalf("%v\n%s", err, out)
	}

	wantErr(t, []string{"evaluate", model, "--data", data}, "2 outputs", "value [loss mse]", "features [no loss]", "--output NAME")
	wantErr(t, []string{"evaluate", model, "--data", data, "--output", "features"}, `"feat"`, "Dense", "no loss", "classes or values", "type: output")
	wantErr(t, []string{"evaluate", model, "--data", data, "--output", "nope"}, `no output "nope"`, "value [loss mse]")
	three := writeNPY(t, dir, "y3.npy", []int{n, 3}, make([]float32, n*3))
	wantErr(t, []string{"evaluate", model, "--output", "value", "--data", "type=npy,features=" + xp + ",labels=" + three},
		"--data", "3 value(s) per example", `output "value" has 2 unit(s)`)
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestEvaluateFlagErrors(t *testing.T) {
	model, dir := oneInput(t)
	x := writeNPY(t, dir, "x.npy", []int{2, 3}, make([]float32, 6))
	wantErr(t, []string{"evaluate", model}, "--data SOURCE is required")
	wantErr(t, []string{"evaluate", model, "--data", "type=npy,features=" + x, "--batch-size", "0"}, "--batch-size must be at least 1")
	wantErr(t, []string{"evaluate", model, "--data", "features"}, "--data", "not key=value")
	wantErr(t, []string{"evaluate", model, "--data", "type=npy,features=" + x + ",labels=" + filepath.Join(dir, "missing.npy")}, "--data", "missing.npy")
}
