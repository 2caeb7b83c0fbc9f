package native

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

func TestSaveLoadBitIdentical(t *testing.T) {
	g := richGraph(t)
	src := g.Clone()
	path := filepath.Join(t.TempDir(), "m.rtm")
	if err := Export(path, g); err != nil {
		t.Fatal(err)
	}
	requireSameGraph(t, src, g) // Save must not touch the graph
	got, err := Import(path)
	if err != nil {
		t.Fatal(err)
	}
	requireSameGraph(t, g, got)
	// and again: a loaded graph re-encodes to the same bytes
	a, b := encode(t, g), encode(t, got)
	if !bytes.Equal(a, b) {
		t.Fatal("re-encoding a loaded graph changed the bytes")
	}
}

func TestMetaAndEntries(t *testing.T) {
	es := entries(t, encode(t, richGraph(t)))
	for _, n := range []string{entryMeta, entryGraph, entryWeights, entryState} {
		if _, ok := es[n]; !ok {
			t.Fatalf("missing %s", n)
		}
	}
	for _, want := range []string{`"format": "retarget.rtm"`, `"format_version": 1`, `"source_format": "keras"`, `"name": "retarget"`} {
		if !bytes.Contains(es[entryMeta], []byte(want)) {
			t.Errorf("meta.json lacks %s:\n%s", want, es[entryMeta])
		}
	}
	w, _, err := readSafetensors(bytes.NewReader(es[entryWeights]), int64(len(es[entryWeights])))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := w["bigru/fw/W"]; !ok {
		t.Fatalf("weights keys: %v", sortedKeys(w))
	}
	s, _, err := readSafetensors(bytes.NewReader(es[entryState]), int64(len(es[entryState])))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s["dense/W/m"]; !ok {
		t.Fatalf("state keys: %v", sortedKeys(s))
	}
}

func TestSaveIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.rtm")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := richGraph(t)
	bad.Vertex("dense").Params["W"] = ir.NewTensor(1, 1)
	if err := Export(path, bad); err == nil {
		t.Fatal("saving an invalid graph must fail")
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Fatal("a failed save changed the existing file")
	}
	if err := Export(path, richGraph(t)); err != nil {
		t.Fatal(err)
	}
	ls, _ := os.ReadDir(dir)
	if len(ls) != 1 {
		t.Fatalf("temporary files left: %v", ls)
	}
	if err := Export(filepath.Join(dir, "no", "such", "m.rtm"), richGraph(t)); err == nil {
		t.Fatal("saving into a missing folder must fail")
	}
}

func TestEmptyStateAndNoParams(t *testing.T) {
	g := &ir.Graph{Inputs: []ir.Input{{Name: "x", Shape: []int{4}}},
		Vertices: []*ir.Vertex{{Name: "a", Layer: &ir.ActivationLayer{Activation: ir.Act(ir.ActReLU)}, Inputs: []string{"x"}}},
		Outputs:  []ir.GraphOutput{{Name: "a", Vertex: "a"}}}
	got, err := readBytes(encode(t, g))
	if err != nil {
		t.Fatal(err)
	}
	requireSameGraph(t, g, got)
}
