package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// apply --check and apply check the data sources against the edited model
// before any work, and list their problems as PLAN:LINE with the others.
func TestApplyChecksDataAgainstModel(t *testing.T) {
	dir := t.TempDir()
	mlpFixture(t, dir) // base.rtm: 8 inputs, out has 4 classes
	writeNPY(t, dir, "x20.npy", []int{20, 8}, make([]float32, 20*8))
	writeNPY(t, dir, "x20w6.npy", []int{20, 6}, make([]float32, 20*6))
	writeNPY(t, dir, "y20x2.npy", []int{20, 2}, make([]float32, 20*2))
	writeNPY(t, dir, "y20x3.npy", []int{20, 3}, make([]float32, 20*3))
	writeFile(t, filepath.Join(dir, "narrow.csv"), "label,a,b,c\n0,1,2,3\n")
	head := "model: base.rtm\nedits:\n  - replace_nout: {vertex: out, nout: 3}\n  - set_outputs: [out]\ndata:\n"
	plan := filepath.Join(dir, "plan.yaml")

	writeFile(t, plan, head+"  train: {type: npy, features: x20.npy, labels: y20x3.npy}\n  test: {type: csv, path: data/test.csv, label_column: 0}\noutput: [ok.rtm]\n")
	if out, stderr, err := run("apply", plan, "--check"); err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("a good plan: %v\n%s%s", err, out, stderr)
	}

	writeFile(t, plan, head+`  train:
    type: npy
    features: x20w6.npy
    labels: y20x2.npy
  test: {type: csv, path: narrow.csv, label_column: 0}
fit: {epochs: 1, cache_dir: cache}
output: [bad.rtm]
`)
	want := []string{
		"plan.yaml:8: data.train: x20w6.npy has examples of shape [6], but the model input \"x\" takes [8]",
		"plan.yaml:9: data.train: y20x2.npy has labels of shape [20 2] (2 wide) for an output of 3 classes",
		"plan.yaml:10: data.test: narrow.csv has 3 feature columns",
	}
	for _, args := range [][]string{{"apply", plan, "--check"}, {"apply", plan}} {
		out, stderr, err := run(args...)
		if err == nil || out != "" {
			t.Fatalf("%v: want a failure and no stdout, got %v\n%s", args, err, out)
		}
		for _, w := range want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: %q missing from stderr:\n%s", args, w, stderr)
			}
		}
		for _, p := range []string{"bad.rtm", "cache"} {
			if _, err := os.Stat(filepath.Join(dir, p)); !os.IsNotExist(err) {
				t.Fatalf("%s exists: work was done", p)
			}
		}
	}
}
