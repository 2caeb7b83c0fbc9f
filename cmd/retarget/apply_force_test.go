package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/exporters/native"
	"github.com/retarget-dev/retarget/ir"
)

func TestApplyForceOverwritesTheModel(t *testing.T) {
	dir := t.TempDir()
	mlpFixture(t, dir)
	src := filepath.Join(dir, "base.rtm")
	before := hashFile(t, src)
	plan := filepath.Join(dir, "plan.yaml")
	writeFile(t, plan, "model: base.rtm\nedits:\n  - replace_nout: {vertex: out, nout: 3}\noutput: [./base.rtm]\n")

	for _, args := range [][]string{{"apply", plan}, {"apply", "--check", plan}} {
		_, stderr, err := run(args...)
		if err == nil || !strings.Contains(stderr, "plan.yaml:4:") || !strings.Contains(stderr, "--force") {
			t.Fatalf("%v: want a refusal naming --force, got %v\n%s", args, err, stderr)
		}
	}
	if hashFile(t, src) != before {
		t.Fatal("the model was written without --force")
	}

	if out, _, err := run("apply", "--check", "--force", plan); err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("check --force: %v\n%s", err, out)
	}
	if out, stderr, err := run("apply", "--force", plan); err != nil || !strings.Contains(out, "wrote "+src) {
		t.Fatalf("apply --force: %v\n%s\n%s", err, out, stderr)
	}
	if hashFile(t, src) == before {
		t.Fatal("--force did not replace the model")
	}
	g, err := native.Import(src)
	if err != nil {
		t.Fatal(err)
	}
	if g.Vertex("out").Layer.(*ir.Output).Units != 3 {
		t.Fatal("the edit is not in the replaced model")
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp") || strings.HasPrefix(e.Name(), ".") {
			t.Fatalf("temporary file %s left", e.Name())
		}
	}
}
