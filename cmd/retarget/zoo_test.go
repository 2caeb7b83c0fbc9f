package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/internal/hdf5"
)

func runZoo(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	c := newZooCmd()
	c.SetOut(&out)
	c.SetErr(&errb)
	c.SetArgs(args)
	err := c.Execute()
	return out.String(), err
}

func TestZooList(t *testing.T) {
	dir := t.TempDir()
	out, err := runZoo(t, "list", "--json", "--cache-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	var entries []struct {
		Name    string `json:"name"`
		Weights []struct {
			Name, URL, Hash string
			HashAlgo        string `json:"hash_algo"`
		} `json:"weights"`
	}
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatal(err, out)
	}
	found := false
	for _, e := range entries {
		if e.Name == "vgg16" {
			found = len(e.Weights) == 2 && e.Weights[0].HashAlgo == "md5" && strings.HasPrefix(e.Weights[0].URL, "https://")
		}
	}
	if !found {
		t.Fatalf("vgg16 weights missing: %s", out)
	}
	out, err = runZoo(t, "list", "--cache-dir", dir)
	if err != nil || !strings.Contains(out, "resnet50") || !strings.Contains(out, "imagenet-notop") {
		t.Fatalf("%v\n%s", err, out)
	}
}

func TestZooPullFile(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(t.TempDir(), "vgg.h5")
	os.WriteFile(src, []byte("not the published file"), 0o644)
	_, err := runZoo(t, "pull", "vgg16", "--weights", "imagenet-notop", "--file", src, "--cache-dir", dir)
	if err == nil || !strings.Contains(err.Error(), "md5") {
		t.Fatalf("want a checksum error, got %v", err)
	}
	// MobileNetV2 has no published hash: a file that is not even HDF5 is
	// refused, an HDF5 file is registered and pinned, with a note
	if _, err := runZoo(t, "pull", "mobilenet_v2", "--file", src, "--cache-dir", dir); err == nil ||
		!strings.Contains(err.Error(), "not a readable HDF5 file") {
		t.Fatalf("want an HDF5 refusal, got %v", err)
	}
	h5 := filepath.Join(t.TempDir(), "mnv2.h5")
	hw, err := hdf5.Create(h5)
	if err != nil {
		t.Fatal(err)
	}
	hw.Root().CreateGroup("model_weights")
	if err := hw.Close(); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := run("zoo", "pull", "mobilenet_v2", "--file", h5, "--cache-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	p := strings.TrimSpace(out)
	if got, want := hashFile(t, p), hashFile(t, h5); got != want {
		t.Fatalf("cached copy at %q differs", p)
	}
	if !strings.Contains(stderr, "could not be verified against a published one") {
		t.Errorf("no note that the checksum is unverified:\n%s", stderr)
	}
	if _, err := runZoo(t, "pull", "lenet", "--cache-dir", dir); err == nil {
		t.Fatal("lenet has no weights to pull")
	}
}
