package integration_test

import (
	"testing"

	"github.com/retarget-dev/retarget/nn"
	"github.com/retarget-dev/retarget/retarget"
)

// TestFeaturizeRetargetedMobileNetV2 runs the helper on a retargeted zoo
// model: featurize the frozen extractor once, train the head from the
// shards, and get what training the whole network gives.
func TestFeaturizeRetargetedMobileNetV2(t *testing.T) {
	a := archs[1]
	if a.name != "mobilenetv2" {
		t.Fatal("archs[1] is", a.name)
	}
	src, x := source(t, a)
	g := transferGraph(t, a, src, x)
	c, h, w := g.Inputs[0].Shape[0], g.Inputs[0].Shape[1], g.Inputs[0].Shape[2]
	tx, ty := images(12, 40, classes, c, h, w)

	full := g.Clone()
	net, err := nn.Compile(full)
	if err != nil {
		t.Fatal(err)
	}
	it, _ := nn.NewArrayIterator(feed(g, tx), ty, 8, true, 5)
	if _, err := net.Fit(it, nn.FitConfig{Epochs: 3}); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	it2, _ := nn.NewArrayIterator(feed(g, tx), ty, 16, false, 0)
	idx, err := retarget.Featurize(g, it2, dir, retarget.FeaturizeOptions{ShardSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	if idx.Count != 40 || len(idx.Shards) != 3 || len(idx.Boundary) != 1 || idx.Boundary[0] != a.features {
		t.Fatalf("index: count %d, %d shards, boundary %v", idx.Count, len(idx.Shards), idx.Boundary)
	}
	head, err := retarget.Trainable(g)
	if err != nil {
		t.Fatal(err)
	}
	if len(head.Vertices) != 1 || head.Vertices[0].Name != a.classifier {
		t.Fatalf("head vertices: %d (%s)", len(head.Vertices), head.Vertices[0].Name)
	}
	// the head on featurized inputs predicts what the whole graph predicts
	_, feats, _, err := retarget.LoadShards(dir)
	if err != nil {
		t.Fatal(err)
	}
	out, err := retarget.OutputFromFeaturized(head, feats[0])
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(out[0], predict(t, g, tx)); d > 1e-5 {
		t.Errorf("OutputFromFeaturized differs from the whole graph by %.3g", d)
	}
	if _, err := retarget.FitFeaturized(head, dir, retarget.FitFeaturizedOptions{BatchSize: 8, Shuffle: true, Seed: 5, Fit: nn.FitConfig{Epochs: 3}}); err != nil {
		t.Fatal(err)
	}
	merged := g.Clone()
	if err := retarget.MergeHead(merged, head); err != nil {
		t.Fatal(err)
	}
	for k, p := range full.Vertex(a.classifier).Params {
		if d := maxDiff(p, merged.Vertex(a.classifier).Params[k]); d > 1e-5 {
			t.Errorf("%s/%s: featurized fit differs from the full fit by %.3g", a.classifier, k, d)
		}
	}
	if merged.Step != full.Step || merged.Step != 15 {
		t.Errorf("steps: featurized %d, full %d, want 15", merged.Step, full.Step)
	}
	if d := maxDiff(predict(t, merged, tx), predict(t, full, tx)); d > 1e-5 {
		t.Errorf("merged graph predicts differently from the fully trained one: %.3g", d)
	}
}
