package integration_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	kerasexp "github.com/retarget-dev/retarget/exporters/keras"
	"github.com/retarget-dev/retarget/exporters/native"
	onnxexp "github.com/retarget-dev/retarget/exporters/onnx"
	kerasimp "github.com/retarget-dev/retarget/importers/keras"
	onnximp "github.com/retarget-dev/retarget/importers/onnx"
	"github.com/retarget-dev/retarget/internal/testenv"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/npy"
)

// format is one file format a retargeted graph is written to and read back.
type format struct {
	ext  string
	save func(path string, g *ir.Graph) error
	load func(path string) (*ir.Graph, error)
	// keepsNames: vertex names survive, so frozen flags can be compared
	// vertex by vertex (Keras names may be rewritten).
	keepsNames bool
}

var formats = []format{
	{".rtm", native.Save, native.Load, true},
	{".onnx", func(p string, g *ir.Graph) error { return onnxexp.Export(p, g, onnxexp.Options{}) },
		func(p string) (*ir.Graph, error) { return onnximp.Import(p, onnximp.Options{}) }, true},
	{".h5", kerasexp.Export, func(p string) (*ir.Graph, error) { return kerasimp.Import(p, kerasimp.Options{}) }, false},
}

// roundTrip writes g in every format, reads each file back and checks that
// it predicts what g predicts on x (< 1e-5) and keeps the frozen flags;
// the .onnx file also runs through ONNX Runtime when it is installed.
// It returns the .onnx path ("" if that export failed).
func roundTrip(t *testing.T, g *ir.Graph, x *ir.Tensor, skip map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	want := predict(t, g, x)
	frozen := frozenNames(g)
	onnxPath := ""
	for _, f := range formats {
		t.Run(strings.TrimPrefix(f.ext, "."), func(t *testing.T) {
			if why := skip[f.ext]; why != "" {
				t.Skip(why)
			}
			p := filepath.Join(dir, g.Name+f.ext)
			if err := f.save(p, g); err != nil {
				t.Fatalf("export: %v", err)
			}
			g2, err := f.load(p)
			if err != nil {
				t.Fatalf("re-import: %v", err)
			}
			if f.ext == ".onnx" {
				onnxPath = p
			}
			got := predict(t, g2, x)
			if d := maxDiff(want, got); d > 1e-5 {
				t.Errorf("re-imported %s predicts differently: max diff %.3g", f.ext, d)
			}
			got2 := frozenNames(g2)
			if f.keepsNames {
				var gone []string
				for n := range frozen {
					switch {
					case g2.Vertex(n) == nil:
						gone = append(gone, n)
					case !got2[n]:
						t.Errorf("%s lost the frozen flag of %q", f.ext, n)
					}
				}
				if len(gone) > 0 {
					t.Logf("%s: frozen vertices not in the re-imported graph (folded): %v", f.ext, gone)
				}
			} else if len(got2) < len(frozen)*9/10 {
				t.Errorf("%s: %d frozen vertices, want about %d", f.ext, len(got2), len(frozen))
			}
			t.Logf("%s: max diff %.3g, %d frozen", f.ext, maxDiff(want, got), len(got2))
		})
	}
	if onnxPath != "" {
		t.Run("onnxruntime", func(t *testing.T) {
			got := ortRun(t, onnxPath, feed(g, x)) // the export keeps the source layout at its boundary
			if d := maxDiff(want, got); d > 1e-5 {
				t.Errorf("ONNX Runtime predicts differently: max diff %.3g", d)
			}
			t.Logf("onnxruntime: max diff %.3g", maxDiff(want, got))
		})
	}
	return onnxPath
}

// ortRun runs an exported model on x, laid out as the file's input takes
// it (the source's layout: see feed), with testdata/gen/ort_run.js.
func ortRun(t *testing.T, model string, x *ir.Tensor) *ir.Tensor {
	t.Helper()
	if why := testenv.ORTMissing(); why != "" {
		t.Skip(why)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "x.npy")
	if err := npy.WriteFile(in, x.Shape, x.Data); err != nil {
		t.Fatal(err)
	}
	out, err := testenv.RunORT(model, in)
	if err != nil {
		t.Fatalf("onnxruntime: %v", err)
	}
	var res struct {
		Outputs []struct {
			Shape []int     `json:"shape"`
			Data  []float64 `json:"data"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.Outputs) == 0 {
		t.Fatalf("onnxruntime output: %v (%d outputs)", err, len(res.Outputs))
	}
	o := res.Outputs[0]
	d := make([]float32, len(o.Data))
	for i, v := range o.Data {
		d[i] = float32(v)
	}
	if ir.NumElements(o.Shape) != len(d) {
		t.Fatal(fmt.Sprintf("onnxruntime output shape %v holds %d values", o.Shape, len(d)))
	}
	return ir.FromData(d, o.Shape...)
}
