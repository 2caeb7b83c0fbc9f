package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/exporters/native"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
	"github.com/retarget-dev/retarget/npy"
)

// run executes the CLI in-process.
func run(args ...string) (stdout, stderr string, err error) {
	var o, e bytes.Buffer
	c := newRootCmd(&o, &e)
	c.SetArgs(args)
	err = c.Execute()
	return o.String(), e.String(), err
}

// twoHeads has two inputs and two outputs, one frozen vertex, and weights
// from nn.InitGraph.
func twoHeads(t *testing.T) *ir.Graph {
	t.Helper()
	g := &ir.Graph{
		Inputs: []ir.Input{{Name: "a", Shape: []int{3}}, {Name: "b", Shape: []int{2}}},
		Vertices: []*ir.Vertex{
			{Name: "ha", Layer: &ir.Dense{Units: 4, Activation: ir.Act(ir.ActTanh)}, Inputs: []string{"a"}, Frozen: true},
			{Name: "pa", Layer: &ir.Output{Units: 2, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, Inputs: []string{"ha"}},
			{Name: "pb", Layer: &ir.Dense{Units: 1}, Inputs: []string{"b"}},
		},
		Outputs: []ir.GraphOutput{{Name: "probs", Vertex: "pa"}, {Name: "score/0", Vertex: "pb"}},
	}
	if err := nn.InitGraph(g, ir.InitXavierUniform, 7); err != nil {
		t.Fatal(err)
	}
	return g
}

func saved(t *testing.T, g *ir.Graph) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m.rtm")
	if err := native.Export(path, g); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeNPY(t *testing.T, dir, name string, shape []int, data []float32) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := npy.WriteFile(p, shape, data); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInspectText(t *testing.T) {
	out, _, err := run("inspect", saved(t, twoHeads(t)))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"VERTEX", "ha", "Dense", "(?, 4)", "yes", "probs", "parameters: 29 total, 13 trainable"} {
		if !strings.Contains(out, w) {
			t.Errorf("inspect output lacks %q:\n%s", w, out)
		}
	}
}

func TestInspectJSONContract(t *testing.T) {
	out, _, err := run("inspect", "--json", saved(t, twoHeads(t)))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	keys := func(v any) []string {
		var ks []string
		for k := range v.(map[string]any) {
			ks = append(ks, k)
		}
		return sorted(ks)
	}
	if got := keys(m); !reflect.DeepEqual(got, []string{"inputs", "outputs", "params_total", "params_trainable", "vertices"}) {
		t.Fatal(got)
	}
	if got := keys(m["inputs"].([]any)[0]); !reflect.DeepEqual(got, []string{"layout", "name", "shape"}) {
		t.Fatal(got)
	}
	if got := keys(m["vertices"].([]any)[0]); !reflect.DeepEqual(got, []string{"frozen", "inputs", "name", "output_shape", "params", "type"}) {
		t.Fatal(got)
	}
	var s struct {
		Inputs []struct {
			Name  string
			Shape []int
		}
		Vertices []struct {
			Name        string
			Type        string
			Inputs      []string
			OutputShape []int `json:"output_shape"`
			Params      int
			Frozen      bool
		}
		ParamsTotal     int `json:"params_total"`
		ParamsTrainable int `json:"params_trainable"`
	}
	json.Unmarshal([]byte(out), &s)
	if s.ParamsTotal != 3*4+4+4*2+2+2+1 || s.ParamsTrainable != 4*2+2+2+1 {
		t.Fatalf("totals %d %d", s.ParamsTotal, s.ParamsTrainable)
	}
	if !reflect.DeepEqual(s.Inputs[1].Shape, []int{-1, 2}) || s.Vertices[0].Type != "Dense" || !s.Vertices[0].Frozen ||
		!reflect.DeepEqual(s.Vertices[1].OutputShape, []int{-1, 2}) || s.Vertices[1].Params != 10 {
		t.Fatalf("%+v", s)
	}
}

func sorted(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

func TestPredictMatchesEngine(t *testing.T) {
	g := twoHeads(t)
	model := saved(t, g)
	dir := t.TempDir()
	const n = 5
	a, b := ir.NewTensor(n, 3), ir.NewTensor(n, 2)
	for i := range a.Data {
		a.Data[i] = float32(math.Sin(float64(i)))
	}
	for i := range b.Data {
		b.Data[i] = float32(i) / 3
	}
	fa := writeNPY(t, dir, "a.npy", a.Shape, a.Data)
	fb := writeNPY(t, dir, "b=weird.npy", b.Shape, b.Data) // '=' in a file name
	out := filepath.Join(dir, "out")
	stdout, _, err := run("predict", model, "--input", "a="+fa, "--input", "b="+fb, "--out", out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "probs [5 2]") {
		t.Fatal(stdout)
	}
	net, err := nn.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	want, err := net.Predict(a, b)
	if err != nil {
		t.Fatal(err)
	}
	for k, name := range []string{"probs.npy", "score_0.npy"} {
		got, err := npy.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if !(&ir.Tensor{Shape: got.Shape, Data: got.Data}).Equal(want[k]) || got.Descr != "<f4" {
			t.Fatalf("%s: %v %v, want %v", name, got.Shape, got.Data, want[k].Data)
		}
	}
	// the dense head by hand: score = b·W + bias
	pb := g.Vertex("pb").Params
	got, _ := npy.ReadFile(filepath.Join(out, "score_0.npy"))
	for i := 0; i < n; i++ {
		s := pb["b"].Data[0] + b.Data[2*i]*pb["W"].Data[0] + b.Data[2*i+1]*pb["W"].Data[1]
		if math.Abs(float64(got.Data[i]-s)) > 1e-6 {
			t.Fatalf("score %d: %v, want %v", i, got.Data[i], s)
		}
	}
}

func TestPredictSingleInputShortForm(t *testing.T) {
	g := &ir.Graph{Inputs: []ir.Input{{Name: "x", Shape: []int{2}}},
		Vertices: []*ir.Vertex{{Name: "d", Layer: &ir.Dense{Units: 1}, Inputs: []string{"x"},
			Params: map[string]*ir.Tensor{"W": ir.FromData([]float32{2, -1}, 2, 1), "b": ir.FromData([]float32{0.5}, 1)}}},
		Outputs: []ir.GraphOutput{{Name: "y", Vertex: "d"}}}
	dir := t.TempDir()
	// float64, big-endian input: converted on read
	raw := []byte(npy.Magic + "\x01\x00")
	dict := "{'descr': '>f8', 'fortran_order': False, 'shape': (2, 2), }\n"
	raw = append(raw, byte(len(dict)), 0)
	raw = append(raw, dict...)
	for _, v := range []float64{1, 2, 3, -4} {
		bits := math.Float64bits(v)
		for s := 56; s >= 0; s -= 8 {
			raw = append(raw, byte(bits>>s))
		}
	}
	in := filepath.Join(dir, "x.npy")
	os.WriteFile(in, raw, 0o644)
	if _, _, err := run("predict", saved(t, g), "--input", in, "--out", dir); err != nil {
		t.Fatal(err)
	}
	y, err := npy.ReadFile(filepath.Join(dir, "y.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(y.Shape, []int{2, 1}) || !reflect.DeepEqual(y.Data, []float32{0.5, 10.5}) {
		t.Fatalf("%v %v", y.Shape, y.Data)
	}
}

func TestPredictErrors(t *testing.T) {
	model := saved(t, twoHeads(t))
	dir := t.TempDir()
	a := writeNPY(t, dir, "a.npy", []int{2, 3}, make([]float32, 6))
	b := writeNPY(t, dir, "b.npy", []int{2, 2}, make([]float32, 4))
	bad := writeNPY(t, dir, "bad.npy", []int{2, 5}, make([]float32, 10))
	fortran := filepath.Join(dir, "f.npy")
	os.WriteFile(fortran, []byte(npy.Magic+"\x01\x00\x3a\x00{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }\n"+strings.Repeat("\x00", 24)), 0o644)
	out := filepath.Join(dir, "out")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"predict", model, "--input", "a=" + a, "--input", "b=" + b}, "--out"},
		{[]string{"predict", model, "--out", out}, "--input is required"},
		{[]string{"predict", model, "--input", a, "--out", out}, "NAME=FILE.npy"},
		{[]string{"predict", model, "--input", "a=" + a, "--out", out}, `no --input for model input "b"`},
		{[]string{"predict", model, "--input", "a=" + a, "--input", "a=" + a, "--out", out}, "given twice"},
		{[]string{"predict", model, "--input", "a=" + bad, "--input", "b=" + b, "--out", out}, `input "a"`},
		{[]string{"predict", model, "--input", "a=" + fortran, "--input", "b=" + b, "--out", out}, "Fortran"},
		{[]string{"predict", model, "--input", "a=" + filepath.Join(dir, "none.npy"), "--input", "b=" + b, "--out", out}, "none.npy"},
		{[]string{"predict", filepath.Join(dir, "none.rtm"), "--input", a, "--out", out}, "none.rtm"},
	}
	for _, c := range cases {
		_, _, err := run(c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args[2:], err, c.want)
		}
	}
}

func TestConvert(t *testing.T) {
	g := twoHeads(t)
	in := saved(t, g)
	dir := t.TempDir()
	out := filepath.Join(dir, "copy.rtm")
	if _, _, err := run("convert", in, out); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(in)
	b, _ := os.ReadFile(out)
	if !bytes.Equal(a, b) {
		t.Fatal("an .rtm to .rtm conversion changed the bytes")
	}
	_, _, err := run("convert", in, in)
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("same path: %v", err)
	}
	if _, _, err := run("convert", in, in, "--force"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ in, out, want string }{
		{in, filepath.Join(dir, "m.xyz"), "cannot write model files with extension .xyz"},
		{filepath.Join(dir, "m.xyz"), out, "cannot read model files with extension .xyz"},
		{filepath.Join(dir, "missing.rtm"), out, "missing.rtm"},
	} {
		if _, _, err := run("convert", c.in, c.out); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("convert %s %s: %v", c.in, c.out, err)
		}
	}
	// a damaged model is refused with the file named
	os.WriteFile(out, a[:len(a)/2], 0o644)
	if _, _, err := run("inspect", out); !errors.Is(err, native.ErrCorrupt) || !strings.Contains(err.Error(), "copy.rtm") {
		t.Fatalf("damaged file: %v", err)
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, cmd := range [][]string{{"--help"}, {"inspect", "--help"}, {"predict", "--help"}, {"convert", "--help"}, {"version", "--help"}} {
		out, _, err := run(cmd...)
		if err != nil || !strings.Contains(out, "Usage:") {
			t.Errorf("%v: %v\n%s", cmd, err, out)
		}
	}
	out, _, err := run("version")
	if err != nil || !strings.HasPrefix(out, "retarget ") {
		t.Fatalf("%q %v", out, err)
	}
	if _, stderr, err := run("inspect"); err == nil || stderr != "" || !strings.Contains(err.Error(), "--help") {
		t.Fatalf("missing argument: %v, stderr %q (no usage dump)", err, stderr)
	}
}

// The built binary: exit status, one-line errors on stderr, JSON on stdout.
func TestBuiltBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "retarget")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	model := saved(t, twoHeads(t))
	out, err := exec.Command(bin, "inspect", "--json", model).Output()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil || m["params_total"] != float64(29) {
		t.Fatalf("%v %s", err, out)
	}
	cmd := exec.Command(bin, "inspect", filepath.Join(t.TempDir(), "nope.rtm"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v", err)
	}
	if lines := strings.Split(strings.TrimSpace(stderr.String()), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "retarget: ") {
		t.Fatalf("stderr: %q", stderr.String())
	}
}
