package retarget

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPlanEditsAsMappingSaysList(t *testing.T) {
	src := "model: m.rtm\nedits:\n  freeze_through: [fc2]\noutput: [o.rtm]\n"
	_, err := ParsePlan([]byte(src), "p.yaml")
	var pe *PlanError
	if !errors.As(err, &pe) || len(pe.Problems) != 1 {
		t.Fatalf("want one problem, got %v", err)
	}
	got := pe.Problems[0]
	if got.Line != 3 || !strings.Contains(got.Msg, "edits must be a list of one-key mappings, e.g. - freeze_through: [fc2]") ||
		strings.Contains(got.Msg, "yaml.Node") {
		t.Fatalf("got %v", got)
	}
	// an empty edits: is no edit, not a problem
	if _, err := ParsePlan([]byte("model: m.rtm\nedits:\noutput: [o.rtm]\n"), "p.yaml"); err != nil {
		t.Fatal(err)
	}
}

func TestPlanBuildProblemsUsePlanKeys(t *testing.T) {
	dir := t.TempDir()
	writePlanFixture(t, dir)
	path := filepath.Join(dir, "plan.yaml")
	os.WriteFile(path, []byte("model: base.rtm\nedits:\n  - remove_outputs: 1\noutput: [o.rtm]\n"), 0o644)
	p, err := LoadPlan(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Check(nativeEnv())
	var pe *PlanError
	if !errors.As(err, &pe) {
		t.Fatalf("removing the only output passed: %v", err)
	}
	msg := pe.Problems[0].Error()
	if pe.Problems[0].Line != 3 || !strings.Contains(msg, "set_outputs") || strings.Contains(msg, "SetOutputs") {
		t.Fatalf("want the plan key set_outputs on line 3, got %q", msg)
	}
	// the Go API keeps its own names
	_, err = New(mlp(t)).RemoveOutputs(1).Build()
	if err == nil || !strings.Contains(err.Error(), "SetOutputs") {
		t.Fatalf("builder error %v", err)
	}
}

// Every output is checked by env.CheckSave with its own line before any
// work: nothing is written when one output is bad.
func TestPlanChecksEveryOutputBeforeWork(t *testing.T) {
	dir := t.TempDir()
	writePlanFixture(t, dir)
	plan := fmt.Sprintf(`model: base.rtm
data:
  train: {type: npy, features: x.npy, labels: y.npy}
fit: {epochs: 1, featurize: false, cache_dir: %s}
output:
  - out/ok.rtm
  - out/x.txt
`, filepath.Join(dir, "cache"))
	path := filepath.Join(dir, "plan.yaml")
	os.WriteFile(path, []byte(plan), 0o644)
	env := nativeEnv()
	var checked []string
	env.CheckSave = func(p, source string) error {
		checked = append(checked, filepath.Base(p))
		if source != filepath.Join(dir, "base.rtm") {
			t.Errorf("CheckSave source %q", source)
		}
		if filepath.Ext(p) != ".rtm" {
			return fmt.Errorf("%s: cannot write model files with extension %s", p, filepath.Ext(p))
		}
		return nil
	}
	fits := 0
	env.Progress = func(string, int, int) { fits++ }
	p, err := LoadPlan(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range []func() error{
		func() error { _, err := p.Check(env); return err },
		func() error { _, err := p.Run(env); return err },
	} {
		checked = nil
		var pe *PlanError
		if err := run(); !errors.As(err, &pe) || len(pe.Problems) != 1 || pe.Problems[0].Line != 7 ||
			!strings.Contains(pe.Problems[0].Msg, `output "out/x.txt"`) {
			t.Fatalf("want one problem on line 7 naming out/x.txt, got %v", err)
		}
		if strings.Join(checked, ",") != "ok.rtm,x.txt" {
			t.Errorf("checked %v", checked)
		}
	}
	if fits != 0 {
		t.Error("work was done before the output problem was reported")
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
		t.Error("something was written")
	}
}

func TestParseDataSpecNamesTheFlagOnce(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"type=npy,features=x.npy", "--data: a npy source needs labels"},
		{"type=npy,features=x.npy,labels=y.npy,size=3x3", "--data: a npy source takes features, labels, not size"},
		{"type=parquet,path=a", `--data: type "parquet": use images, csv, npy or csv-sequences`},
	} {
		_, err := ParseDataSpec(c.in, "--data")
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: got %v, want %q", c.in, err, c.want)
		}
	}
	if s, err := ParseDataSpec("type=npy,features=x.npy,labels=y.npy", "--data"); err != nil || s.Labels != "y.npy" {
		t.Fatalf("%+v %v", s, err)
	}
}
