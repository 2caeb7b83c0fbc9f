package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	// MobileNetV2 has no published hash: the file is registered and pinned
	out, err := runZoo(t, "pull", "mobilenet_v2", "--file", src, "--cache-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	p := strings.TrimSpace(out)
	if b, _ := os.ReadFile(p); string(b) != "not the published file" {
		t.Fatalf("cached copy at %q", p)
	}
	if _, err := runZoo(t, "pull", "lenet", "--cache-dir", dir); err == nil {
		t.Fatal("lenet has no weights to pull")
	}
}
