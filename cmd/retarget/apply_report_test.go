package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// An output no format writes is reported with its line by --check and by
// apply, before any fitting or writing.
func TestApplyChecksOutputPathsFirst(t *testing.T) {
	dir := t.TempDir()
	mlpFixture(t, dir)
	plan := filepath.Join(dir, "plan.yaml")
	writeFile(t, plan, `model: base.rtm
edits:
  - replace_nout: {vertex: out, nout: 3}
data:
  train: {type: npy, features: train_x.npy, labels: train_y.npy}
fit: {epochs: 1, featurize: false}
output:
  - out/ok.rtm
  - out/x.txt
`)
	for _, args := range [][]string{{"apply", "--check", plan}, {"apply", plan}} {
		out, stderr, err := run(args...)
		if err == nil || !strings.Contains(stderr, "plan.yaml:9:") || !strings.Contains(stderr, "extension .txt") || strings.Contains(out, "ok") {
			t.Fatalf("%v: want the .txt output refused on line 9, got %v\nstdout: %s\nstderr: %s", args, err, out, stderr)
		}
		if strings.Contains(stderr, "epoch") {
			t.Fatalf("%v: it fitted before refusing the output:\n%s", args, stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
			t.Fatalf("%v: out/ was created", args)
		}
	}
	// a missing folder is not a problem: apply creates it
	writeFile(t, plan, "model: base.rtm\noutput: [new/dir/ok.rtm]\n")
	if out, stderr, err := run("apply", "--check", plan); err != nil {
		t.Fatalf("%v\n%s%s", err, out, stderr)
	}
	// but a file where a folder must go is
	writeFile(t, filepath.Join(dir, "afile"), "x")
	writeFile(t, plan, "model: base.rtm\noutput: [afile/sub/ok.rtm]\n")
	if _, stderr, err := run("apply", "--check", plan); err == nil || !strings.Contains(stderr, "plan.yaml:2:") || !strings.Contains(stderr, "is a file") {
		t.Fatalf("want a refusal on line 2, got %v\n%s", err, stderr)
	}
}

// With --json, stdout holds one JSON document, also on failure.
func TestApplyJSONFailureIsJSON(t *testing.T) {
	dir := t.TempDir()
	mlpFixture(t, dir)
	plan := filepath.Join(dir, "plan.yaml")
	writeFile(t, plan, "model: base.rtm\nedits:\n  - freeze_through: [nope]\noutput: [o.txt]\n")
	for _, args := range [][]string{{"apply", "--json", plan}, {"apply", "--check", "--json", plan}} {
		out, stderr, err := run(args...)
		if err == nil {
			t.Fatalf("%v: a bad plan passed", args)
		}
		var rep struct {
			Error    string `json:"error"`
			Problems []struct {
				File    string `json:"file"`
				Line    int    `json:"line"`
				Message string `json:"message"`
			} `json:"problems"`
		}
		if jerr := json.Unmarshal([]byte(out), &rep); jerr != nil {
			t.Fatalf("%v: stdout is not JSON (%v):\n%s", args, jerr, out)
		}
		lines := map[int]bool{}
		for _, p := range rep.Problems {
			lines[p.Line] = p.File == plan && p.Message != ""
		}
		if !strings.Contains(rep.Error, "2 problem(s)") || !lines[3] || !lines[4] {
			t.Fatalf("%v: report %+v", args, rep)
		}
		if strings.Contains(stderr, "plan.yaml:3:") {
			t.Errorf("%v: problems printed twice (stderr too):\n%s", args, stderr)
		}
	}
	writeFile(t, plan, "model: base.rtm\noutput: [o.rtm]\n")
	out, _, err := run("apply", "--check", "--json", plan)
	var ok struct{ OK bool }
	if err != nil || json.Unmarshal([]byte(out), &ok) != nil || !ok.OK {
		t.Fatalf("check --json: %v\n%s", err, out)
	}
}

func TestApplyEditsMappingAndPlanKeys(t *testing.T) {
	dir := t.TempDir()
	mlpFixture(t, dir)
	plan := filepath.Join(dir, "plan.yaml")
	writeFile(t, plan, "model: base.rtm\nedits:\n  freeze_through: [d1]\noutput: [o.rtm]\n")
	_, stderr, err := run("apply", "--check", plan)
	if err == nil || !strings.Contains(stderr, "plan.yaml:3: edits must be a list of one-key mappings, e.g. - freeze_through: [fc2]") {
		t.Fatalf("got %v\n%s", err, stderr)
	}
	writeFile(t, plan, "model: base.rtm\nedits:\n  - remove_outputs: 3\noutput: [o.rtm]\n")
	_, stderr, err = run("apply", "--check", plan)
	if err == nil || !strings.Contains(stderr, "use set_outputs") || strings.Contains(stderr, "SetOutputs") {
		t.Fatalf("got %v\n%s", err, stderr)
	}
}

// fit prints loss and accuracy every epoch, and the test metrics with --test.
func TestFitEpochLinesShowAccuracy(t *testing.T) {
	dir := t.TempDir()
	mlpFixture(t, dir)
	data := "type=npy,features=" + filepath.Join(dir, "train_x.npy") + ",labels=" + filepath.Join(dir, "train_y.npy")
	test := fmt.Sprintf("{type: csv, path: %s, label_column: 0, header: true}", filepath.Join(dir, "data", "test.csv"))
	num := `[0-9.e+-]+`
	_, stderr, err := run("fit", filepath.Join(dir, "base.rtm"), "--data", data, "-o", filepath.Join(dir, "a.rtm"), "--epochs", "2")
	if err != nil || !regexp.MustCompile(`epoch 2/2: loss `+num+`, accuracy 0\.\d{4}\n`).MatchString(stderr) {
		t.Fatalf("%v\n%s", err, stderr)
	}
	_, stderr, err = run("fit", filepath.Join(dir, "base.rtm"), "--data", data, "--test", test, "-o", filepath.Join(dir, "b.rtm"), "--epochs", "2")
	if err != nil || !regexp.MustCompile(`epoch 1/2: loss `+num+`, accuracy `+num+`, test loss `+num+`, test accuracy `+num).MatchString(stderr) {
		t.Fatalf("%v\n%s", err, stderr)
	}
	// the data flag is named once in its errors
	_, _, err = run("fit", filepath.Join(dir, "base.rtm"), "--data", "type=npy,features=x.npy", "-o", filepath.Join(dir, "c.rtm"))
	if err == nil || strings.Count(err.Error(), "--data") != 1 {
		t.Fatalf("want one --data prefix, got %v", err)
	}
}
