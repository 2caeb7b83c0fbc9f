package keras

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	kimp "github.com/retarget-dev/retarget/importers/keras"
	"github.com/retarget-dev/retarget/internal/numtest"
	"github.com/retarget-dev/retarget/internal/testenv"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

const realDir = "../../../shared/fixtures/keras-real"

func realFiles(t *testing.T) []string {
	if _, err := os.Stat(realDir); err != nil {
		t.Skipf("real Keras fixtures not found at %s (module-root ../shared/fixtures/keras-real)", realDir)
	}
	var out []string
	filepath.Walk(realDir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		n := info.Name()
		if strings.HasSuffix(n, "_inputs_and_outputs.h5") || strings.HasSuffix(n, "_weights.h5") || strings.Contains(p, "lambda") {
			return nil
		}
		if strings.HasSuffix(n, ".h5") || strings.HasSuffix(n, ".hdf5") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// randomInputs makes deterministic inputs in the graph's source layout;
// Embedding inputs get valid indices.
func randomInputs(g *ir.Graph) []*ir.Tensor {
	var out []*ir.Tensor
	seed := uint32(7)
	next := func() float32 {
		seed = seed*1664525 + 1013904223
		return float32(seed>>8)/float32(1<<24)*2 - 1
	}
	for _, in := range g.Inputs {
		shape := append([]int(nil), in.Shape...)
		for i, d := range shape {
			if d < 0 {
				shape[i] = 3
			}
		}
		if in.Layout == ir.LayoutNHWC || in.Layout == ir.LayoutNWC {
			shape = append(shape[1:], shape[0])
		}
		x := ir.NewTensor(append([]int{2}, shape...)...)
		emb := 0
		for _, v := range g.Consumers(in.Name) {
			if e, ok := v.Layer.(*ir.Embedding); ok {
				emb = e.InputDim
			}
		}
		for i := range x.Data {
			if emb > 0 {
				x.Data[i] = float32(int((next() + 1) / 2 * float32(emb-1)))
			} else {
				x.Data[i] = next()
			}
		}
		out = append(out, x)
	}
	return out
}

func TestRoundTripRealModels(t *testing.T) {
	dir := t.TempDir()
	want := map[string]int{}
	defer func() { checkH5py(t, want) }()
	for _, p := range realFiles(t) {
		g, err := kimp.Import(p, kimp.Options{})
		if err != nil {
			if strings.Contains(err.Error(), "unsupported Keras layer") {
				continue
			}
			t.Errorf("%s: import: %v", p, err)
			continue
		}
		name := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(dir, name+".h5")
			if err := Export(out, g); err != nil {
				t.Fatalf("export: %v", err)
			}
			n := 0
			for _, v := range g.Vertices {
				n += v.ParamCount()
			}
			want[out] = n
			g2, err := kimp.Import(out, kimp.Options{Strict: true})
			if err != nil {
				t.Fatalf("re-import: %v", err)
			}
			if len(g2.Outputs) != len(g.Outputs) || len(g2.Inputs) != len(g.Inputs) {
				t.Fatalf("re-import has %d inputs / %d outputs, want %d / %d", len(g2.Inputs), len(g2.Outputs), len(g.Inputs), len(g.Outputs))
			}
			for _, v := range g.Vertices {
				if v2 := g2.Vertex(v.Name); v2 != nil {
					for pn, pt := range v.Params {
						if q := v2.Params[pn]; q == nil || !q.Equal(pt) {
							t.Errorf("vertex %s parameter %s differs after the round trip", v.Name, pn)
						}
					}
				}
			}
			comparePredictions(t, g, g2)
		})
	}
}

func comparePredictions(t *testing.T, g, g2 *ir.Graph) {
	t.Helper()
	n1, err := nn.Compile(g)
	if err != nil {
		if strings.Contains(err.Error(), "cannot run layer kind") {
			t.Logf("predictions not compared (engine): %v", err)
			return
		}
		t.Fatal(err)
	}
	n2, err := nn.Compile(g2)
	if err != nil {
		t.Fatal(err)
	}
	x := randomInputs(g)
	y1, err := n1.Predict(x...)
	if err != nil {
		t.Fatal(err)
	}
	y2, err := n2.Predict(x...)
	if err != nil {
		t.Fatal(err)
	}
	for i := range y1 {
		if !ir.SameShape(y1[i].Shape, y2[i].Shape) {
			t.Fatalf("output %d shape %v vs %v", i, y1[i].Shape, y2[i].Shape)
		}
		if m := numtest.MaxAbsDiff(y1[i].Data, y2[i].Data); m > 1e-5 {
			t.Errorf("output %d differs by %g after the round trip", i, m)
		}
	}
}

// checkH5py opens the exports with h5py (when available; one Python run
// for all files) and checks the structure Keras reads: attributes,
// layer_names matching the config, and the weight values per file.
func checkH5py(t *testing.T, want map[string]int) {
	t.Helper()
	if len(want) == 0 {
		return
	}
	py, err := testenv.Python("h5py")
	if err != nil {
		t.Logf("h5py structure check skipped: %v", err)
		return
	}
	script := `
import sys
try:
    import h5py
except ImportError:
    print("NOH5PY"); sys.exit(0)
import json
for path in sys.argv[1:]:
    f = h5py.File(path, "r")
    assert f.attrs["backend"] in ("tensorflow", b"tensorflow")
    cfg = json.loads(f.attrs["model_config"])
    assert cfg["class_name"] == "Model"
    names = [n.decode() for n in f["model_weights"].attrs["layer_names"]]
    assert names == [l["name"] for l in cfg["config"]["layers"]], (names,)
    n = 0
    for ln in names:
        g = f["model_weights"][ln]
        for wn in g.attrs["weight_names"]:
            ds = g[wn.decode()]
            assert ds.dtype == "float32"
            n += ds.size
    print(path, n)
`
	var paths []string
	for p := range want {
		paths = append(paths, p)
	}
	out, err := exec.Command(py, append([]string{"-c", script}, paths...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("h5py check: %v\n%s", err, out)
	}
	if strings.TrimSpace(string(out)) == "NOH5PY" {
		t.Log("h5py not installed: structure check skipped")
		return
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 {
			got[f[0]] = f[1]
		}
	}
	for p, n := range want {
		if got[p] != itoa(n) {
			t.Errorf("%s: h5py counts %q weight values, the graph has %d", p, got[p], n)
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}

func TestExportListsUnsupported(t *testing.T) {
	g := &ir.Graph{Inputs: []ir.Input{{Name: "x", Shape: []int{4}}},
		Vertices: []*ir.Vertex{
			{Name: "sq", Layer: &ir.Unary{Op: ir.UnarySquare}, Inputs: []string{"x"}},
			{Name: "div", Layer: &ir.Merge{Op: ir.MergeDivide}, Inputs: []string{"x", "sq"}},
		},
		Outputs: []ir.GraphOutput{{Name: "div", Vertex: "div"}}}
	p := filepath.Join(t.TempDir(), "m.h5")
	err := Export(p, g)
	ue, ok := err.(*UnsupportedError)
	if !ok || len(ue.Vertices) != 2 {
		t.Fatalf("want both vertices listed, got %v", err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("a failed export left %s behind", p)
	}
}
