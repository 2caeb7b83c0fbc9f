package retarget

import (
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/exporters/native"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// vgg16Tiny has VGG16's vertex names and structure (13 convs in 5 blocks,
// flatten, fc1, fc2, predictions) with few channels and 32x32 inputs.
func vgg16Tiny(t testing.TB) *ir.Graph {
	var vs []*ir.Vertex
	x := "input_1"
	for b, n := range []int{2, 2, 3, 3, 3} {
		f := []int{4, 4, 8, 8, 8}[b]
		for i := 1; i <= n; i++ {
			name := fmt.Sprintf("block%d_conv%d", b+1, i)
			vs = append(vs, vx(name, &ir.Conv{Rank: 2, Filters: f, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: ir.Act(ir.ActReLU)}, x))
			x = name
		}
		name := fmt.Sprintf("block%d_pool", b+1)
		vs = append(vs, vx(name, &ir.Pool{Rank: 2, Op: ir.PoolMax, Kernel: []int{2, 2}}, x))
		x = name
	}
	vs = append(vs,
		vx("flatten", &ir.Flatten{}, x),
		vx("fc1", &ir.Dense{Units: 16, Activation: ir.Act(ir.ActReLU)}, "flatten"),
		vx("fc2", &ir.Dense{Units: 16, Activation: ir.Act(ir.ActReLU)}, "fc1"),
		vx("predictions", &ir.Output{Units: 10, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, "fc2"))
	g := &ir.Graph{Inputs: []ir.Input{{Name: "input_1", Shape: []int{3, 32, 32}}}, Vertices: vs,
		Outputs: []ir.GraphOutput{{Name: "predictions", Vertex: "predictions"}}}
	// He init (DL4J RELU) keeps the signal alive through 13 relu convs
	if err := nn.InitGraph(g, ir.InitHeNormal, 7); err != nil {
		t.Fatal(err)
	}
	g.Train = &ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 0.01, Seed: 1}
	return g
}

var pretrained *ir.Graph

// vgg16Trained is vgg16Tiny trained on the 10-colour task (the "trained
// network" a user brings); the 5-class tasks use 5 of its colours.
func vgg16Trained(t testing.TB) *ir.Graph {
	if pretrained == nil {
		g := vgg16Tiny(t)
		x, y := colours(100, 240, 10)
		res := fit(t, g, x, y, 6, 1)
		t.Logf("pretraining loss %.3f -> %.3f", res.History[0].Loss, res.History[len(res.History)-1].Loss)
		pretrained = g
	}
	return pretrained.Clone()
}

// colours is a k-class image task: each class is a colour (RGB levels)
// under noise; one-hot labels.
func colours(seed int64, n, k int) (*ir.Tensor, *ir.Tensor) {
	r := rand.New(rand.NewSource(seed))
	palette := rand.New(rand.NewSource(99))
	cols := make([][3]float32, k)
	for c := range cols {
		for j := range cols[c] {
			cols[c][j] = float32(palette.Float64()*2 - 0.5)
		}
	}
	x, y := ir.NewTensor(n, 3, 32, 32), ir.NewTensor(n, k)
	for i := 0; i < n; i++ {
		c := r.Intn(k)
		y.Data[i*k+c] = 1
		for ch := 0; ch < 3; ch++ {
			plane := x.Data[(i*3+ch)*1024 : (i*3+ch+1)*1024]
			for j := range plane {
				plane[j] = cols[c][ch] + float32(r.NormFloat64()*0.2)
			}
		}
	}
	return x, y
}

func fit(t testing.TB, g *ir.Graph, x, y *ir.Tensor, epochs int, seed int64) *nn.FitResult {
	t.Helper()
	net, err := nn.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	it, _ := nn.NewArrayIterator(x, y, 32, true, seed)
	res, err := net.Fit(it, nn.FitConfig{Epochs: epochs})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func sameParams(t testing.TB, a, b *ir.Graph, names ...string) {
	t.Helper()
	for _, n := range names {
		for k, p := range a.Vertex(n).Params {
			if !p.Equal(b.Vertex(n).Params[k]) {
				t.Fatalf("%s/%s changed", n, k)
			}
		}
	}
}

func frozenNames(g *ir.Graph) []string {
	var out []string
	for _, v := range g.Vertices {
		if v.Frozen {
			out = append(out, v.Name)
		}
	}
	return out
}

// Scenario A: freeze through fc2, 5-class output; frozen tensors stay
// bit-identical and the head learns the task.
func TestAcceptanceScenarioA(t *testing.T) {
	src := vgg16Trained(t)
	keep := src.Clone()
	g := mustBuild(t, New(src).FreezeThrough("fc2").
		ReplaceNOut("predictions", 5, ir.InitXavierUniform, ir.InitXavierUniform).
		FineTune(ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 0.02, Seed: 2}))
	if !sameGraph(t, src, keep) {
		t.Fatal("the source graph changed")
	}
	if len(frozenNames(g)) != len(g.Vertices)-1 || g.Vertex("predictions").Frozen {
		t.Fatalf("frozen: %v", frozenNames(g))
	}
	x, y := colours(1, 200, 5)
	tx, ty := colours(2, 100, 5)
	before := g.Clone()
	fit(t, g, x, y, 15, 3)
	sameParams(t, before, g, frozenNames(g)...)
	sameParams(t, src, g, frozenNames(g)...)
	acc := accuracy(t, g, tx, ty)
	t.Logf("held-out accuracy %.3f (chance 0.2)", acc)
	if acc < 0.6 {
		t.Fatalf("accuracy %.3f", acc)
	}
}

// scenarioB is the second edit list on the tiny VGG.
func scenarioB(t testing.TB) *ir.Graph {
	return mustBuild(t, New(vgg16Trained(t)).
		FineTune(ir.TrainConfig{Updater: ir.UpdNesterov, LearningRate: 0.02, Momentum: 0.9, Seed: 42, L2: 1e-4}).
		FreezeThrough("fc2").
		ReplaceNOut("fc2", 32, ir.InitXavierNormal, ir.InitXavierNormal).
		Remove("predictions", false).
		Add("fc3", &ir.Dense{Units: 12, Activation: ir.Act(ir.ActReLU)}, "fc2").
		Add("newpredictions", &ir.Output{Units: 5, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, "fc3").
		SetOutputs("newpredictions"))
}

func TestAcceptanceScenarioBAndC(t *testing.T) {
	g := scenarioB(t)
	want := map[string][]int{"fc2": {16, 32}, "fc3": {32, 12}, "newpredictions": {12, 5}}
	for v, s := range want {
		if !ir.SameShape(g.Vertex(v).Params["W"].Shape, s) {
			t.Fatalf("%s W %v, want %v", v, g.Vertex(v).Params["W"].Shape, s)
		}
	}
	if g.Vertex("predictions") != nil || len(g.Outputs) != 1 || g.Outputs[0].Vertex != "newpredictions" {
		t.Fatal("outputs", g.Outputs)
	}
	// conv params: 3*3*(3*4+4*4+4*8+8*8+8*8+8*8+8*8+8*8+8*8+8*8)... counted from the layers
	convs := 0
	in := 3
	for b, n := range []int{2, 2, 3, 3, 3} {
		f := []int{4, 4, 8, 8, 8}[b]
		for i := 0; i < n; i++ {
			convs += 9*in*f + f
			in = f
		}
	}
	head := 32*12 + 12 + 12*5 + 5
	total, trainable, err := ParamCounts(g)
	if err != nil {
		t.Fatal(err)
	}
	if wantT := convs + 8*16 + 16 + 16*32 + 32 + head; total != wantT || trainable != head {
		t.Fatalf("params %d/%d, want %d/%d", total, trainable, wantT, head)
	}
	x, y := colours(3, 160, 5)
	res := fit(t, g, x, y, 12, 4)
	first, last := res.History[0].Loss, res.History[len(res.History)-1].Loss
	t.Logf("scenario B loss %.4f -> %.4f", first, last)
	if !(last < first*0.8) {
		t.Fatalf("scenario B does not train: %.4f -> %.4f", first, last)
	}

	// Scenario C: save, reload, unfreeze block5_*, train.
	path := filepath.Join(t.TempDir(), "b.rtm")
	if err := native.Export(path, g); err != nil {
		t.Fatal(err)
	}
	back, err := native.Import(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range g.Vertices {
		if back.Vertex(v.Name).Frozen != v.Frozen {
			t.Fatalf("%s: frozen flag lost in the .rtm file", v.Name)
		}
	}
	sameParams(t, g, back, vertexNames(g)...)
	c := mustBuild(t, New(back).Unfreeze("block5_conv1"))
	for _, v := range c.Vertices {
		wantFrozen := !strings.HasPrefix(v.Name, "block5_") && v.Name != "flatten" && !strings.HasPrefix(v.Name, "fc") && v.Name != "newpredictions"
		if v.Frozen != wantFrozen {
			t.Fatalf("%s frozen=%v", v.Name, v.Frozen)
		}
	}
	before := c.Clone()
	fit(t, c, x, y, 3, 5)
	sameParams(t, before, c, frozenNames(c)...)
	if c.Vertex("block5_conv3").Params["W"].Equal(before.Vertex("block5_conv3").Params["W"]) {
		t.Fatal("block5_conv3 did not train after Unfreeze")
	}
}

// Helper: featurize at fc2, FitFeaturized, then the full network equals
// OutputFromFeaturized on the same inputs; a second Featurize reuses.
func TestAcceptanceHelper(t *testing.T) {
	g := mustBuild(t, New(vgg16Trained(t)).FreezeThrough("fc2").
		ReplaceNOut("predictions", 5, "", "").FineTune(ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 0.01, Seed: 2}))
	x, y := colours(4, 120, 5)
	dir := t.TempDir()
	it, _ := nn.NewArrayIterator(x, y, 50, false, 0)
	idx, err := Featurize(g, it, dir, FeaturizeOptions{DataID: "colours-4", ShardSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	if idx.Reused || idx.Count != 120 || len(idx.Shards) != 3 || idx.Boundary[0] != "fc2" {
		t.Fatalf("%+v", idx)
	}
	again, err := Featurize(g, it, dir, FeaturizeOptions{DataID: "colours-4", ShardSize: 50})
	if err != nil || !again.Reused || again.Key != idx.Key {
		t.Fatalf("second featurize not reused: %+v %v", again, err)
	}
	// a different head keeps the key; different data or frozen weights do not
	other := mustBuild(t, New(g).ReplaceNOut("predictions", 7, "", ""))
	k1, _ := FeaturizeKey(other, nil, "colours-4")
	k2, _ := FeaturizeKey(g, nil, "colours-5")
	moved := g.Clone()
	moved.Vertex("block1_conv1").Params["W"].Data[0] += 1e-6
	k3, _ := FeaturizeKey(moved, nil, "colours-4")
	if k1 != idx.Key || k2 == idx.Key || k3 == idx.Key {
		t.Fatal("featurize key does not follow the frozen part and the data")
	}

	head, err := Trainable(g)
	if err != nil {
		t.Fatal(err)
	}
	if len(head.Vertices) != 1 || head.Inputs[0].Name != "fc2" {
		t.Fatalf("trainable: %v %v", vertexNames(head), head.Inputs)
	}
	if _, err := FitFeaturized(head, dir, FitFeaturizedOptions{BatchSize: 16, Shuffle: true, Seed: 1, Fit: nn.FitConfig{Epochs: 3}}); err != nil {
		t.Fatal(err)
	}
	if err := MergeHead(g, head); err != nil {
		t.Fatal(err)
	}
	_, feats, _, err := LoadShards(dir)
	if err != nil {
		t.Fatal(err)
	}
	fromFeats, err := OutputFromFeaturized(head, feats[0])
	if err != nil {
		t.Fatal(err)
	}
	full := predict(t, g, x)[0]
	if d := maxDiff(full, fromFeats[0]); d > 1e-6 {
		t.Fatalf("full network and OutputFromFeaturized differ by %g", d)
	}
}

// seqTask: label at step t is the argmax of the input at step t-1 (at step
// 0, of step 0): the network needs memory.
func seqTask(seed int64, n, steps int) (*ir.Tensor, *ir.Tensor) {
	r := rand.New(rand.NewSource(seed))
	x, y := ir.NewTensor(n, steps, 3), ir.NewTensor(n, steps, 3)
	for i := 0; i < n; i++ {
		for s := 0; s < steps; s++ {
			for f := 0; f < 3; f++ {
				x.Data[(i*steps+s)*3+f] = float32(r.NormFloat64())
			}
		}
		for s := 0; s < steps; s++ {
			src := max(s-1, 0)
			row := x.Data[(i*steps+src)*3 : (i*steps+src+1)*3]
			c := 0
			for f := 1; f < 3; f++ {
				if row[f] > row[c] {
					c = f
				}
			}
			y.Data[(i*steps+s)*3+c] = 1
		}
	}
	return x, y
}

// The seed's question: widen a trained LSTM by 10 keeping its predictions;
// it still converges after. An identity Dense insert changes nothing.
func TestAcceptanceWidenTrainedLSTM(t *testing.T) {
	src := graphOf(t, []ir.Input{{Name: "x", Shape: []int{6, 3}}}, []*ir.Vertex{
		vx("lstm_1", &ir.LSTM{Units: 8, Activation: ir.Act(ir.ActTanh), RecurrentActivation: ir.Act(ir.ActSigmoid), ReturnSequences: true, UnitForgetBias: true}, "x"),
		vx("out", &ir.RnnOutput{Units: 3, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, "lstm_1"),
	}, "out")
	src.Train = &ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 0.02, Seed: 1}
	x, y := seqTask(1, 256, 6)
	trained := fit(t, src, x, y, 15, 1)
	base := trained.History[len(trained.History)-1].Loss
	before := predict(t, src, x)[0]
	for _, mode := range []WidenMode{WidenPreserve, WidenNet2Net} {
		t.Run(string(mode), func(t *testing.T) {
			g := mustBuild(t, New(src).Widen("lstm_1", 10, mode))
			if u := g.Vertex("lstm_1").Layer.(*ir.LSTM).Units; u != 18 {
				t.Fatalf("units %d", u)
			}
			if d := maxDiff(before, predict(t, g, x)[0]); d > 1e-6 {
				t.Fatalf("predictions moved by %g", d)
			}
			res := fit(t, g, x, y, 10, 2)
			last := res.History[len(res.History)-1].Loss
			t.Logf("%s: loss %.4f before widening, %.4f after 10 more epochs", mode, base, last)
			if !(last < base) || math.IsNaN(last) {
				t.Fatalf("does not converge after widening: %.4f -> %.4f", base, last)
			}
		})
	}
	g := mustBuild(t, New(src).Insert("extra", &ir.Dense{}, "lstm_1", ir.InitIdentity))
	if u := g.Vertex("extra").Layer.(*ir.Dense).Units; u != 8 {
		t.Fatalf("inserted Dense has %d units, want 8 (inferred)", u)
	}
	if d := maxDiff(before, predict(t, g, x)[0]); d > 1e-6 {
		t.Fatalf("identity insert moved predictions by %g", d)
	}
}
