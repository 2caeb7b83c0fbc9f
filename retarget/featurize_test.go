package retarget

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

func deepMLP(t testing.TB) *ir.Graph {
	return graphOf(t, []ir.Input{{Name: "x", Shape: []int{8}}}, []*ir.Vertex{
		vx("f1", &ir.Dense{Units: 32, Activation: ir.Act(ir.ActReLU)}, "x"),
		vx("f2", &ir.Dense{Units: 24, Activation: ir.Act(ir.ActReLU)}, "f1"),
		vx("h1", &ir.Dense{Units: 10, Activation: ir.Act(ir.ActTanh)}, "f2"),
		vx("out", &ir.Output{Units: 3, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, "h1"),
	}, "out")
}

func featurizeSetup(t testing.TB, n int) (*ir.Graph, *ir.Tensor, *ir.Tensor) {
	g := mustBuild(t, New(deepMLP(t)).FreezeThrough("f2").FineTune(ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 0.01, Seed: 3}))
	return g, randTensor(21, n, 8), labels(22, n, 3)
}

func TestFeaturizeThenFitMatchesFullFit(t *testing.T) {
	g, x, y := featurizeSetup(t, 250)
	full := g.Clone()
	it, _ := nn.NewArrayIterator(x, y, 32, true, 4)
	net, err := nn.Compile(full)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := net.Fit(it, nn.FitConfig{Epochs: 3}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"f1", "f2"} {
		for k, p := range g.Vertex(f).Params {
			if !p.Equal(full.Vertex(f).Params[k]) {
				t.Fatalf("frozen %s/%s changed in the full fit", f, k)
			}
		}
	}

	dir := t.TempDir()
	it2, _ := nn.NewArrayIterator(x, y, 64, false, 0)
	idx, err := Featurize(g, it2, dir, FeaturizeOptions{ShardSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	if idx.Count != 250 || len(idx.Shards) != 3 || idx.Boundary[0] != "f2" {
		t.Fatalf("%+v", idx)
	}
	for _, f := range []string{"index.json", "shard-00000.features.npy", "shard-00000.labels.npy", "shard-00002.labels.npy"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	head, err := HeadGraph(g)
	if err != nil {
		t.Fatal(err)
	}
	if len(head.Vertices) != 2 || head.Inputs[0].Name != "f2" || !ir.SameShape(head.Inputs[0].Shape, []int{24}) {
		t.Fatalf("head: %v %v", vertexNames(head), head.Inputs)
	}
	if _, err := FitFeaturized(head, dir, FitFeaturizedOptions{BatchSize: 32, Shuffle: true, Seed: 4, Fit: nn.FitConfig{Epochs: 3}}); err != nil {
		t.Fatal(err)
	}
	merged := g.Clone()
	if err := MergeHead(merged, head); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"h1", "out"} {
		for k, p := range full.Vertex(v).Params {
			if d := maxDiff(p, merged.Vertex(v).Params[k]); d > 1e-5 {
				t.Errorf("%s/%s: featurized head differs from the full fit by %g", v, k, d)
			}
		}
	}
	if merged.Step != full.Step {
		t.Errorf("step %d vs %d", merged.Step, full.Step)
	}
}

func TestLoadShardsRejectsBadIndex(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "index.json"), []byte(`{"format":"retarget.featurized","version":1,"inputs":[{"name":"a","shape":[2],"suffix":"../x"}],"shards":[{"prefix":"s","count":1}],"count":1}`), 0o644)
	if _, _, _, err := LoadShards(dir); err == nil {
		t.Fatal("a path-escaping suffix must fail")
	}
	os.WriteFile(filepath.Join(dir, "index.json"), []byte(`{"format":"x","version":1}`), 0o644)
	if _, _, _, err := LoadShards(dir); err == nil {
		t.Fatal("a foreign format must fail")
	}
}

func benchFit(b *testing.B, featurized bool) {
	g, x, y := featurizeSetup(b, 2048)
	dir := b.TempDir()
	if featurized {
		it, _ := nn.NewArrayIterator(x, y, 256, false, 0)
		if _, err := Featurize(g, it, dir, FeaturizeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if featurized {
			head, _ := HeadGraph(g)
			if _, err := FitFeaturized(head, dir, FitFeaturizedOptions{BatchSize: 32, Fit: nn.FitConfig{Epochs: 2}}); err != nil {
				b.Fatal(err)
			}
		} else {
			net, _ := nn.Compile(g.Clone())
			it, _ := nn.NewArrayIterator(x, y, 32, false, 0)
			if _, err := net.Fit(it, nn.FitConfig{Epochs: 2}); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkFitFrozenFull trains the head through the frozen layers.
func BenchmarkFitFrozenFull(b *testing.B) { benchFit(b, false) }

// BenchmarkFitFeaturized trains the head from featurized shards.
func BenchmarkFitFeaturized(b *testing.B) { benchFit(b, true) }
