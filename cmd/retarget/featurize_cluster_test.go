package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/modelio"
	"github.com/retarget-dev/retarget/nn"
	"github.com/retarget-dev/retarget/npy"
	"github.com/retarget-dev/retarget/retarget"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// builtBinary builds the CLI once per test run.
func builtBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "retarget-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "retarget")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// frozenMLP is a model whose frozen part (two wide Dense layers) costs
// enough that featurizing takes a moment, with npy data of n examples.
func frozenMLP(t *testing.T, n, in, width int) (model, data string) {
	t.Helper()
	g := &ir.Graph{
		Inputs: []ir.Input{{Name: "x", Shape: []int{in}}},
		Vertices: []*ir.Vertex{
			{Name: "f1", Layer: &ir.Dense{Units: width, Activation: ir.Act(ir.ActReLU)}, Inputs: []string{"x"}, Frozen: true},
			{Name: "f2", Layer: &ir.Dense{Units: width, Activation: ir.Act(ir.ActTanh)}, Inputs: []string{"f1"}, Frozen: true},
			{Name: "out", Layer: &ir.Output{Units: 3, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, Inputs: []string{"f2"}},
		},
		Outputs: []ir.GraphOutput{{Name: "probs", Vertex: "out"}},
	}
	if err := nn.InitGraph(g, ir.InitXavierUniform, 3); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	model = filepath.Join(dir, "m.rtm")
	if err := modelio.Save(model, g, modelio.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(1))
	x := make([]float32, n*in)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	y := make([]float32, n)
	for i := range y {
		y[i] = float32(i % 3)
	}
	xp := writeNPY(t, dir, "x.npy", []int{n, in}, x)
	yp := writeNPY(t, dir, "y.npy", []int{n}, y)
	return model, "type=npy,features=" + xp + ",labels=" + yp
}

func sameFeatures(t *testing.T, a, b string) {
	t.Helper()
	_, ai, al, err := retarget.LoadShards(a)
	if err != nil {
		t.Fatal(err)
	}
	_, bi, bl, err := retarget.LoadShards(b)
	if err != nil {
		t.Fatal(err)
	}
	for k, pair := range [][2]*ir.Tensor{{ai[0], bi[0]}, {al[0], bl[0]}} {
		x, y := pair[0], pair[1]
		if !ir.SameShape(x.Shape, y.Shape) {
			t.Fatalf("array %d: shapes %v and %v", k, x.Shape, y.Shape)
		}
		for i := range x.Data {
			if math.Float32bits(x.Data[i]) != math.Float32bits(y.Data[i]) {
				t.Fatalf("array %d differs at %d: %g vs %g", k, i, x.Data[i], y.Data[i])
			}
		}
	}
}

// N processes featurize their parts into one folder at the same time; the
// union is a single-process featurize, and the fit takes the folder.
func TestConcurrentPartProcesses(t *testing.T) {
	bin := builtBinary(t)
	model, data := frozenMLP(t, 1003, 32, 128)
	out := filepath.Join(t.TempDir(), "feats")
	const n = 4
	cmds := make([]*exec.Cmd, n)
	outs := make([]strings.Builder, n)
	for i := range cmds {
		cmds[i] = exec.Command(bin, "featurize", model, "--data", data, "--out", out, "--shard", "auto", "--shard-size", "64", "--batch-size", "16")
		cmds[i].Env = append(os.Environ(), fmt.Sprintf("JOB_COMPLETION_INDEX=%d", i), fmt.Sprintf("JOB_COMPLETIONS=%d", n))
		cmds[i].Stdout, cmds[i].Stderr = &outs[i], &outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("part %d: %v\n%s", i, err, outs[i].String())
		}
		if s := outs[i].String(); !strings.Contains(s, fmt.Sprintf("featurized part %d/%d", i, n)) || !strings.Contains(s, "of 1003") {
			t.Fatalf("part %d said %q", i, s)
		}
	}
	st, _, err := run("featurize", "--status", out)
	if err != nil || !strings.Contains(st, "4 of 4 parts, 1003 examples") || !strings.Contains(st, ": complete") {
		t.Fatalf("status: %v\n%s", err, st)
	}
	whole := filepath.Join(t.TempDir(), "whole")
	if _, stderr, err := run("featurize", model, "--data", data, "--out", whole, "--shard-size", "64", "--batch-size", "16"); err != nil {
		t.Fatalf("%v %s", err, stderr)
	}
	sameFeatures(t, out, whole)
	if _, stderr, err := run("fit", model, "--featurized", out, "-o", filepath.Join(t.TempDir(), "m.rtm"), "--epochs", "1"); err != nil {
		t.Fatalf("fit: %v %s", err, stderr)
	}
}

// A part killed while writing shards counts as missing; fit refuses the
// folder; rerunning only that part completes it.
func TestKilledPartProcessIsRedone(t *testing.T) {
	bin := builtBinary(t)
	model, data := frozenMLP(t, 6000, 64, 512)
	out := filepath.Join(t.TempDir(), "feats")
	args := func(part string) []string {
		return []string{"featurize", model, "--data", data, "--out", out, "--shard", part, "--shard-size", "8", "--batch-size", "8"}
	}
	for _, p := range []string{"0/3", "2/3"} {
		if _, stderr, err := run(args(p)...); err != nil {
			t.Fatalf("%v %s", err, stderr)
		}
	}
	cmd := exec.Command(bin, args("1/3")...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	partDir := filepath.Join(out, "part-00001-of-00003")
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m, _ := filepath.Glob(filepath.Join(partDir, "shard-*.npy")); len(m) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("part 1 wrote no shard in 60 s")
		}
		time.Sleep(2 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if _, err := os.Stat(filepath.Join(partDir, "index.json")); err == nil {
		t.Fatal("part 1 finished before it was killed: make the test's data larger")
	}
	st, _, err := run("featurize", "--status", out)
	if err == nil || !strings.Contains(st, "2 of 3 parts") || !strings.Contains(st, "missing 1 (started, not finished)") {
		t.Fatalf("status after the kill: %v\n%s", err, st)
	}
	_, _, err = run("fit", model, "--featurized", out, "-o", filepath.Join(t.TempDir(), "m.rtm"))
	if err == nil || !strings.Contains(err.Error(), "missing 1") {
		t.Fatalf("fit of an incomplete folder: %v", err)
	}
	if _, stderr, err := run("fit", model, "--featurized", out, "--allow-incomplete", "-o", filepath.Join(t.TempDir(), "m.rtm")); err != nil {
		t.Fatalf("--allow-incomplete: %v %s", err, stderr)
	}
	stdout, _, err := run(args("0/3")...)
	if err != nil || !strings.HasPrefix(stdout, "reused part 0/3") {
		t.Fatalf("rerun of a finished part: %v %q", err, stdout)
	}
	if stdout, _, err = run(args("1/3")...); err != nil || !strings.HasPrefix(stdout, "featurized part 1/3") || !strings.Contains(stdout, "3 of 3 parts") {
		t.Fatalf("rerun of the killed part: %v %q", err, stdout)
	}
	whole := filepath.Join(t.TempDir(), "whole")
	if _, stderr, err := run("featurize", model, "--data", data, "--out", whole, "--shard-size", "8", "--batch-size", "8"); err != nil {
		t.Fatalf("%v %s", err, stderr)
	}
	sameFeatures(t, out, whole)
}

// writeLargeFolder writes a featurized folder of about bytes of features
// (2048 floats an example, 4096 examples a shard) for frozenMLP's head,
// without the model: a test of reading, not of featurizing.
func writeLargeFolder(t *testing.T, dir string, bytes int64) int {
	t.Helper()
	const per, shard = 2048, 4096
	shards := int((bytes + per*4*shard - 1) / (per * 4 * shard))
	idx := retarget.ShardIndex{Format: retarget.ShardFormat, Version: 1, Boundary: []string{"f2"},
		Inputs: []retarget.ShardArray{{Name: "f2", Shape: []int{per}, Suffix: "features"}},
		Labels: []retarget.ShardArray{{Name: "probs", Shape: []int{3}, Suffix: "labels"}}}
	x := make([]float32, shard*per)
	y := make([]float32, shard*3)
	r := rand.New(rand.NewSource(2))
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	for i := 0; i < shard; i++ {
		y[i*3+i%3] = 1
	}
	for k := 0; k < shards; k++ {
		prefix := fmt.Sprintf("shard-%05d", k)
		x[k] = float32(k) // shards differ
		for _, a := range []struct {
			suffix string
			shape  []int
			data   []float32
		}{{"features", []int{shard, per}, x}, {"labels", []int{shard, 3}, y}} {
			f, err := os.Create(filepath.Join(dir, prefix+"."+a.suffix+".npy"))
			if err != nil {
				t.Fatal(err)
			}
			w := bufio.NewWriterSize(f, 1<<20)
			if err := npy.Write(w, a.shape, a.data); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
		idx.Shards = append(idx.Shards, retarget.Shard{Prefix: prefix, Count: shard})
		idx.Count += shard
	}
	b, _ := json.Marshal(idx)
	if err := os.WriteFile(filepath.Join(dir, "index.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return idx.Count
}

// largeFitRSS is the peak resident memory the README states for fitting a
// folder of any size with 32 MiB shards and the default shuffle buffer.
const largeFitRSS = 300 << 20

// Fitting a 2 GiB featurized folder streams it: the fit process's peak
// resident memory stays under largeFitRSS.
func TestFitLargeFolderMemoryIsBounded(t *testing.T) {
	bin := builtBinary(t)
	if os.Getenv("RETARGET_SKIP_LARGE") != "" {
		t.Skip("RETARGET_SKIP_LARGE is set")
	}
	model, _ := frozenMLP(t, 3, 32, 2048)
	dir := t.TempDir()
	n := writeLargeFolder(t, dir, 2<<30)
	out := filepath.Join(t.TempDir(), "m.rtm")
	cmd := exec.Command(bin, "fit", model, "--featurized", dir, "-o", out, "--epochs", "1", "--batch-size", "256")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10 // KiB on Linux
	t.Logf("fit of %d examples (%.2f GiB of features): peak RSS %.0f MiB", n, float64(n)*2048*4/(1<<30), float64(rss)/(1<<20))
	if rss > largeFitRSS {
		t.Fatalf("peak RSS %d MiB, more than %d MiB", rss>>20, largeFitRSS>>20)
	}
	if !strings.Contains(string(b), "epoch 1/1") {
		t.Fatalf("no epoch line:\n%s", b)
	}
}

// Parts of an image folder (decoded in parallel, so the split must be in
// the file order, not the decode order) union to a single-process run.
func TestImageFolderParts(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewSource(4))
	for c, name := range []string{"a", "b", "c"} {
		for i := 0; i < 11+c; i++ {
			img := image.NewRGBA(image.Rect(0, 0, 6, 6))
			for p := 0; p < 36; p++ {
				img.Set(p%6, p/6, color.RGBA{uint8(r.Intn(256)), uint8(r.Intn(256)), uint8(40 * c), 255})
			}
			path := filepath.Join(dir, "img", name, fmt.Sprintf("%d.png", i))
			os.MkdirAll(filepath.Dir(path), 0o755)
			f, _ := os.Create(path)
			png.Encode(f, img)
			f.Close()
		}
	}
	cnn := &ir.Graph{
		Inputs: []ir.Input{{Name: "image", Shape: []int{3, 6, 6}}},
		Vertices: []*ir.Vertex{
			{Name: "conv", Layer: &ir.Conv{Rank: 2, Filters: 4, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: ir.Act(ir.ActReLU)}, Inputs: []string{"image"}, Frozen: true},
			{Name: "pool", Layer: &ir.GlobalPool{Rank: 2, Op: ir.PoolAvg}, Inputs: []string{"conv"}, Frozen: true},
			{Name: "out", Layer: &ir.Output{Units: 3, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, Inputs: []string{"pool"}},
		},
		Outputs: []ir.GraphOutput{{Name: "out", Vertex: "out"}},
	}
	model := filepath.Join(dir, "cnn.rtm")
	initSave(t, cnn, model)
	data := "type=images,path=" + filepath.Join(dir, "img") + ",size=6x6,preprocess=unit"
	parts := filepath.Join(dir, "parts")
	for i := 0; i < 3; i++ {
		if _, stderr, err := run("featurize", model, "--data", data, "--out", parts, "--shard", fmt.Sprintf("%d/3", i), "--batch-size", "4", "--shard-size", "5"); err != nil {
			t.Fatalf("%v %s", err, stderr)
		}
	}
	whole := filepath.Join(dir, "whole")
	if _, stderr, err := run("featurize", model, "--data", data, "--out", whole, "--batch-size", "4", "--shard-size", "5"); err != nil {
		t.Fatalf("%v %s", err, stderr)
	}
	sameFeatures(t, parts, whole)
	out, _, err := run("inspect", parts)
	if err != nil || !strings.Contains(out, "3 of 3 parts, 36 examples") {
		t.Fatalf("inspect: %v %s", err, out)
	}
	ev, stderr, err := run("evaluate", model, "--featurized", parts, "--json")
	if err != nil || !strings.Contains(ev, `"examples": 36`) {
		t.Fatalf("evaluate --featurized: %v %s %s", err, ev, stderr)
	}
	if direct, _, err := run("evaluate", model, "--data", data, "--json"); err != nil || direct != ev {
		t.Fatalf("evaluate --data and --featurized differ: %v\n%s\n%s", err, direct, ev)
	}
}
