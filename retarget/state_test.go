package retarget

import (
	"testing"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

func fitSteps(t testing.TB, g *ir.Graph, x, y *ir.Tensor, steps int) {
	t.Helper()
	net, err := nn.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < steps; i++ {
		if _, err := net.FitBatch(&nn.Batch{Inputs: []*ir.Tensor{x}, Labels: []*ir.Tensor{y}}); err != nil {
			t.Fatal(err)
		}
	}
}

func labels(seed int64, n, k int) *ir.Tensor {
	y := ir.NewTensor(n, k)
	r := randTensor(seed, n)
	for i := 0; i < n; i++ {
		c := int(r.Data[i]*1000) % k
		if c < 0 {
			c += k
		}
		y.Data[i*k+c] = 1
	}
	return y
}

func TestUpdaterStateCarriesOver(t *testing.T) {
	src := mlp(t)
	src.Vertices = append(src.Vertices, vx("probe", &ir.Dense{Units: 3}, "d2"))
	if err := nn.InitGraph(src, ir.InitXavierUniform, 1); err != nil {
		t.Fatal(err)
	}
	src.Train = &ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 0.01, Seed: 5}
	x, y := randTensor(11, 16, 8), labels(12, 16, 4)
	fitSteps(t, src, x, y, 5)
	if len(src.Vertex("d1").State) == 0 {
		t.Fatal("the engine kept no updater state")
	}

	g := mustBuild(t, New(src).Remove("probe", false).FineTune(ir.TrainConfig{Updater: ir.UpdAdam}))
	for _, name := range []string{"d1", "d2", "out"} {
		for k, s := range src.Vertex(name).State {
			if !s.Equal(g.Vertex(name).State[k]) {
				t.Fatalf("%s state %s not carried over", name, k)
			}
		}
	}
	// a resumed fit continues exactly as an uninterrupted one
	uninterrupted := src.Clone()
	fitSteps(t, uninterrupted, x, y, 5)
	fitSteps(t, g, x, y, 5)
	for _, name := range []string{"d1", "d2", "out"} {
		for k, p := range uninterrupted.Vertex(name).Params {
			if !p.Equal(g.Vertex(name).Params[k]) {
				t.Fatalf("%s/%s differs after resuming", name, k)
			}
		}
	}
	// the check can fail: restarting the optimiser (DL4J) gives other weights
	restarted := src.Clone()
	for _, v := range restarted.Vertices {
		v.State = nil
	}
	fitSteps(t, restarted, x, y, 5)
	if restarted.Vertex("d1").Params["W"].Equal(uninterrupted.Vertex("d1").Params["W"]) {
		t.Fatal("dropping the state made no difference: the test proves nothing")
	}

	// edited vertices lose their state, untouched ones keep it
	e := mustBuild(t, New(src).ReplaceNOut("out", 3, "", "").Widen("d1", 2, WidenPreserve))
	if e.Vertex("out").State != nil {
		t.Error("re-initialised out kept its state")
	}
	for k := range e.Vertex("d2").State {
		if len(k) > 2 && k[:2] == "W/" {
			t.Error("d2's resized W kept state", k)
		}
	}
	if e.Vertex("d2").State["b/m"] == nil || !e.Vertex("d2").State["b/m"].Equal(src.Vertex("d2").State["b/m"]) {
		t.Error("d2's untouched bias lost its state")
	}
	// a different updater drops every state
	s := mustBuild(t, New(src).FineTune(ir.TrainConfig{Updater: ir.UpdSGD}))
	for _, v := range s.Vertices {
		if v.State != nil {
			t.Error(v.Name, "kept Adam state under SGD")
		}
	}
}

func TestWidenedUnitsTrain(t *testing.T) {
	src := mlp(t)
	g := mustBuild(t, New(src).FineTune(ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 0.01}).Widen("d1", 4, WidenPreserve))
	before := g.Clone()
	fitSteps(t, g, randTensor(1, 32, 8), labels(2, 32, 4), 5)
	w0, w1 := before.Vertex("d1").Params["W"], g.Vertex("d1").Params["W"]
	r0, r1 := before.Vertex("d2").Params["W"], g.Vertex("d2").Params["W"]
	moved := func(a, b *ir.Tensor, cols, from int, byRow bool) bool {
		for i := range a.Data {
			r, c := i/cols, i%cols
			if (byRow && r >= from || !byRow && c >= from) && a.Data[i] != b.Data[i] {
				return true
			}
		}
		return false
	}
	if !moved(w0, w1, 20, 16, false) {
		t.Error("new units' incoming weights did not move")
	}
	if !moved(r0, r1, 12, 16, true) {
		t.Error("new units' outgoing weights (zero at first) did not move")
	}
}
