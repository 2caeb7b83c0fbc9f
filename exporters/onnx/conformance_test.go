package onnx_test

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	exponnx "github.com/retarget-dev/retarget/exporters/onnx"
	imponnx "github.com/retarget-dev/retarget/importers/onnx"
)

// TestConformanceCasesExportORT imports every PyTorch-exported conformance
// case (testdata/onnx/conformance) that imports, exports it at opsets 13
// and 17, and requires ONNX Runtime on the export to give PyTorch's outputs
// (ONNX's tolerances: rtol 1e-3, atol 1e-7, plus 1e-6 for the float32
// rounding the two runtimes do in a different order).
func TestConformanceCasesExportORT(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ONNX Runtime; not in -short")
	}
	paths, _ := filepath.Glob("../../testdata/onnx/conformance/*.onnx")
	if len(paths) < 100 {
		t.Fatalf("%d cases in testdata/onnx/conformance", len(paths))
	}
	dir := t.TempDir()
	var jobs []*ortJob
	var want [][]array
	var labels, check []string
	skipped := 0
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".onnx")
		g, err := imponnx.Import(p, imponnx.Options{KeepDense: true})
		if err != nil {
			skipped++ // importers/onnx TestConformanceTorchCases lists these
			continue
		}
		fx := loadFixture(t, p)
		for _, opset := range []int{13, 17} {
			out := filepath.Join(dir, fmt.Sprintf("%s_op%d.onnx", name, opset))
			if err := exponnx.Export(out, g, exponnx.Options{Opset: opset}); err != nil {
				t.Errorf("%s: export opset %d: %v", name, opset, err)
				continue
			}
			check = append(check, out)
			jobs = append(jobs, &ortJob{Model: out, arrays: fx.Inputs})
			want = append(want, fx.Outputs)
			labels = append(labels, fmt.Sprintf("%s opset %d", name, opset))
		}
	}
	if len(paths)-skipped < 110 {
		t.Errorf("only %d of %d cases import", len(paths)-skipped, len(paths))
	}
	checkModels(t, check)
	for k, got := range ortBatch(t, dir, jobs) {
		if len(got) != len(want[k]) {
			t.Errorf("%s: %d outputs, want %d", labels[k], len(got), len(want[k]))
			continue
		}
		for i, w := range want[k] {
			g := got[i]
			if len(g.Data) != len(w.Data) {
				t.Errorf("%s: output %q shape %v, want %v", labels[k], w.Name, g.Shape, w.Shape)
				continue
			}
			for j, v := range w.Data {
				if d := math.Abs(g.Data[j] - v); !(d <= 1e-6+1e-7+1e-3*math.Abs(v)) && !(math.IsNaN(v) && math.IsNaN(g.Data[j])) {
					t.Errorf("%s: output %q element %d: ONNX Runtime %g, PyTorch %g", labels[k], w.Name, j, g.Data[j], v)
					break
				}
			}
		}
	}
	t.Logf("%d cases exported and run in ONNX Runtime at opsets 13 and 17 (%d do not import)", len(paths)-skipped, skipped)
}
