package nn

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// coreBlobs makes k Gaussian classes in d dimensions with sparse labels.
func coreBlobs(seed int64, n, d, k int) (*ir.Tensor, *ir.Tensor) {
	rng := rand.New(rand.NewSource(seed))
	centres := make([][]float64, k)
	for c := range centres {
		centres[c] = make([]float64, d)
		for j := range centres[c] {
			centres[c][j] = rng.NormFloat64() * 2
		}
	}
	x, y := ir.NewTensor(n, d), ir.NewTensor(n)
	for i := 0; i < n; i++ {
		c := rng.Intn(k)
		y.Data[i] = float32(c)
		for j := 0; j < d; j++ {
			x.Data[i*d+j] = float32(centres[c][j] + rng.NormFloat64()*0.7)
		}
	}
	return x, y
}

func coreMLP(t *testing.T, upd ir.Updater, dropout float32) *ir.Graph {
	g := Sequential("mlp", []int{8},
		&ir.Dense{Units: 32, Activation: ir.Act(ir.ActReLU)},
		&ir.Dropout{Rate: dropout},
		&ir.Output{Units: 4, Loss: ir.LossSparseMCXENT, Activation: ir.Activation{Kind: ir.ActSoftmax, Axis: -1}})
	g.Train = &ir.TrainConfig{Updater: upd, Seed: 11}
	return coreInit(t, g, 3)
}

func TestFitMLP(t *testing.T) {
	x, y := coreBlobs(1, 600, 8, 4)
	g := coreMLP(t, ir.UpdAdam, 0.1)
	net, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	it, err := NewArrayIterator(x, y, 32, true, 5)
	if err != nil {
		t.Fatal(err)
	}
	xv, yv := coreBlobs(1, 800, 8, 4) // same centres, more draws
	val, _ := NewArrayIterator(&ir.Tensor{Shape: []int{200, 8}, Data: xv.Data[600*8:]}, &ir.Tensor{Shape: []int{200}, Data: yv.Data[600:]}, 50, false, 0)
	var scores int
	res, err := net.Fit(it, FitConfig{Epochs: 15, Validation: val, ScoreEvery: 10, OnScore: func(StepInfo) { scores++ },
		EarlyStopping: &EarlyStopping{Patience: 3, Monitor: "val_accuracy"}})
	if err != nil {
		t.Fatal(err)
	}
	last := res.History[len(res.History)-1]
	if acc := last.ValEval.Accuracy(); acc < 0.95 {
		t.Fatalf("validation accuracy %.3f after %d epochs\n%s", acc, len(res.History), last.ValEval)
	}
	if scores == 0 {
		t.Fatal("OnScore never called")
	}
	if last.Loss >= res.History[0].Loss {
		t.Fatalf("training loss did not fall: %v", res.History)
	}
	s := last.ValEval.String()
	if !strings.Contains(s, "confusion") || !strings.Contains(s, "accuracy") {
		t.Fatalf("evaluation table:\n%s", s)
	}
	// Predict in small batches equals one big forward
	net.opts.BatchSize = 7
	p, err := net.Predict(xv)
	if err != nil {
		t.Fatal(err)
	}
	outs, _ := net.Forward([]*Mat[float32]{MatFromTensor[float32](xv)}, false)
	for i, v := range outs[0].Data {
		if d := v - p[0].Data[i]; d > 1e-6 || d < -1e-6 {
			t.Fatalf("Predict differs from Forward at %d: %v vs %v", i, p[0].Data[i], v)
		}
	}
}

func TestFitDeterministicAndResumable(t *testing.T) {
	x, y := coreBlobs(2, 256, 8, 4)
	for _, upd := range []ir.Updater{ir.UpdSGD, ir.UpdMomentum, ir.UpdNesterov, ir.UpdAdam, ir.UpdAdamW, ir.UpdRMSProp, ir.UpdAdaGrad, ir.UpdAdaDelta} {
		t.Run(string(upd), func(t *testing.T) {
			run := func(g *ir.Graph, epochs int) *ir.Graph {
				net, err := Compile(g)
				if err != nil {
					t.Fatal(err)
				}
				it, _ := NewArrayIterator(x, y, 32, true, 9)
				if _, err := net.Fit(it, FitConfig{Epochs: epochs}); err != nil {
					t.Fatal(err)
				}
				return g
			}
			mk := func() *ir.Graph {
				g := coreMLP(t, upd, 0.3)
				g.Train.WeightDecay = 0.01
				g.Train.L2 = 1e-4
				g.Train.ClipNorm = 5
				return g
			}
			a := run(mk(), 2)
			b := run(mk(), 2)
			// resume: one epoch, a deep copy (as a save/load would give), one more
			c := run(mk(), 1).Clone()
			cNet, _ := Compile(c)
			it, _ := NewArrayIterator(x, y, 32, true, 9)
			it.Reset() // the second epoch's order
			if _, err := cNet.Fit(it, FitConfig{Epochs: 1}); err != nil {
				t.Fatal(err)
			}
			for _, v := range a.Vertices {
				for k, p := range v.Params {
					if !p.Equal(b.Vertex(v.Name).Params[k]) {
						t.Fatalf("same seed, different %s/%s", v.Name, k)
					}
					if !p.Equal(c.Vertex(v.Name).Params[k]) {
						t.Fatalf("resumed run differs in %s/%s", v.Name, k)
					}
				}
			}
			if a.Step != c.Step || a.Step != 16 {
				t.Fatalf("steps %d, %d", a.Step, c.Step)
			}
			if upd != ir.UpdSGD && len(a.Vertex("l0").State) == 0 {
				t.Fatal("no updater state in the graph")
			}
		})
	}
}

func TestFrozenVertexNotUpdated(t *testing.T) {
	x, y := coreBlobs(3, 64, 8, 4)
	g := coreMLP(t, ir.UpdSGD, 0)
	g.Vertex("l0").Frozen = true
	before := g.Vertex("l0").Params["W"].Clone()
	beforeOut := g.Vertex("l2").Params["W"].Clone()
	net, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	if net.byName["l0"].needGrad || net.byName["l1"].needGrad {
		t.Fatal("the frozen prefix would run backward")
	}
	it, _ := NewArrayIterator(x, y, 16, false, 0)
	if _, err := net.Fit(it, FitConfig{Epochs: 1}); err != nil {
		t.Fatal(err)
	}
	if !g.Vertex("l0").Params["W"].Equal(before) {
		t.Fatal("frozen weights changed")
	}
	if g.Vertex("l2").Params["W"].Equal(beforeOut) {
		t.Fatal("trainable weights did not change")
	}
}

func TestLearningRateSchedules(t *testing.T) {
	c := &ir.TrainConfig{LearningRate: 0.1, Schedule: ir.Schedule{Kind: "step", Every: 10, Gamma: 0.5}}
	if lr := LearningRate(c, 25); lr != 0.025 {
		t.Fatalf("step schedule %v", lr)
	}
	c.Schedule = ir.Schedule{Kind: "cosine", Steps: 100, MinLR: 0.01}
	if lr := LearningRate(c, 100); lr != 0.01 {
		t.Fatalf("cosine end %v", lr)
	}
	if lr := LearningRate(c, 50); lr < 0.0549 || lr > 0.0551 {
		t.Fatalf("cosine middle %v", lr)
	}
	c.Schedule = ir.Schedule{Kind: "exponential", Every: 10, Gamma: 0.5}
	if lr := LearningRate(c, 10); lr != 0.05 {
		t.Fatalf("exponential %v", lr)
	}
}

func TestPerVertexOverride(t *testing.T) {
	x, y := coreBlobs(4, 32, 8, 4)
	g := coreMLP(t, ir.UpdSGD, 0)
	g.Train.LearningRate = 0.1
	g.Vertex("l0").Train = &ir.TrainConfig{LearningRate: 1e-30}
	before := g.Vertex("l0").Params["W"].Clone()
	net, _ := Compile(g)
	it, _ := NewArrayIterator(x, y, 32, false, 0)
	net.Fit(it, FitConfig{Epochs: 1})
	w := g.Vertex("l0").Params["W"]
	for i, v := range w.Data {
		if d := v - before.Data[i]; d > 1e-20 || d < -1e-20 {
			t.Fatalf("override ignored: %v -> %v", before.Data[i], v)
		}
	}
}

func TestPredictVertices(t *testing.T) {
	x, _ := coreBlobs(6, 10, 8, 4)
	g := coreMLP(t, ir.UpdSGD, 0.5)
	net, _ := Compile(g)
	feats, err := net.PredictVertices([]string{"l1", "input"}, x)
	if err != nil {
		t.Fatal(err)
	}
	if !ir.SameShape(feats[0].Shape, []int{10, 32}) || !feats[1].Equal(x) {
		t.Fatalf("shapes %v %v", feats[0].Shape, feats[1].Shape)
	}
	if _, err := net.PredictVertices([]string{"nope"}, x); err == nil {
		t.Fatal("unknown vertex accepted")
	}
}
