package integration_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	onnxexp "github.com/retarget-dev/retarget/exporters/onnx"
	onnximp "github.com/retarget-dev/retarget/importers/onnx"
	"github.com/retarget-dev/retarget/internal/testenv"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/retarget"
)

// TestViTB16 is the transformer proof on a model nobody here wrote:
// torchvision's vit_b_16 (random weights, 346 MB), exported by PyTorch at
// test time (testdata/gen/onnx_vit_b16.py; RETARGET_VIT_B16=PATH.onnx uses a
// file made before). It imports with its 12 attention blocks as
// MultiHeadAttention vertices, in a child process whose peak RSS must stay
// within 1.3x the file; predicts within 1e-4 of PyTorch and of ONNX Runtime
// on the same file; retargets to 5 classes with the encoder frozen and
// trains the head (loss falls, frozen tensors bit-identical); and its ONNX
// export runs in ONNX Runtime with the same outputs. Skipped with -short or
// without torch (`make test-big` runs it alone).
func TestViTB16(t *testing.T) {
	if os.Getenv("RETARGET_IMPORT_PEAK") != "" {
		return // the child of importPeak
	}
	if testing.Short() {
		t.Skip("-short: vit_b_16 is a 346 MB model (about 35 s with its export)")
	}
	path := os.Getenv("RETARGET_VIT_B16")
	if path == "" {
		py, err := testenv.Python("torch", "torchvision", "numpy")
		if err != nil {
			t.Skip(err)
		}
		path = filepath.Join(t.TempDir(), "vit_b_16.onnx")
		out, err := exec.Command(py, "../testdata/gen/onnx_vit_b16.py", path).CombinedOutput()
		if err != nil {
			t.Fatalf("export: %v\n%s", err, out)
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	peak := importPeak(t, path)
	t.Logf("import peak RSS %.0f MiB = %.2fx the %.0f MiB file", float64(peak)/(1<<20), float64(peak)/float64(st.Size()), float64(st.Size())/(1<<20))
	if float64(peak) > 1.3*float64(st.Size()) {
		t.Errorf("importing peaks at %.2fx the file (want at most 1.3x)", float64(peak)/float64(st.Size()))
	}

	start := time.Now()
	src, err := onnximp.Import(path, onnximp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("import %v", time.Since(start).Round(time.Millisecond))
	if k := countKinds(src); k["MultiHeadAttention"] != 12 {
		t.Fatalf("want 12 MultiHeadAttention vertices, got %v", k)
	}
	var fx struct {
		Inputs, Outputs []struct {
			Shape []int     `json:"shape"`
			Data  []float64 `json:"data"`
		}
	}
	b, err := os.ReadFile(strings.TrimSuffix(path, ".onnx") + ".json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	tensor := func(shape []int, d []float64) *ir.Tensor {
		f := make([]float32, len(d))
		for i, v := range d {
			f[i] = float32(v)
		}
		return ir.FromData(f, shape...)
	}
	x, want := tensor(fx.Inputs[0].Shape, fx.Inputs[0].Data), tensor(fx.Outputs[0].Shape, fx.Outputs[0].Data)
	start = time.Now()
	got := predict(t, src, x)
	t.Logf("predict batch %d: %v", x.Shape[0], time.Since(start).Round(time.Millisecond))
	if d := maxDiff(want, got); d > 1e-4 {
		t.Errorf("differs from PyTorch by %.3g", d)
	} else {
		t.Logf("max diff vs PyTorch %.3g", d)
	}
	if ort := ortRun(t, path, x); maxDiff(ort, got) > 1e-4 {
		t.Errorf("differs from ONNX Runtime on the same file by %.3g", maxDiff(ort, got))
	} else {
		t.Logf("max diff vs ONNX Runtime %.3g", maxDiff(ort, got))
	}

	g, _ := build(t, retarget.New(src).
		FineTune(ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 1e-2, Seed: 1}).
		FreezeThrough("/encoder/ln/Add_1").
		ReplaceNOut("/heads/head/Gemm", 5, "", ""))
	src = nil
	tx, ty := images(3, 4, 5, 3, 224, 224)
	first, last := fitFew(t, g, tx, ty, 2, 4)
	t.Logf("head fit: loss %.4f -> %.4f", first, last)
	exported := filepath.Join(t.TempDir(), "vit_b_16_5.onnx")
	if err := onnxexp.Export(exported, g, onnxexp.Options{}); err != nil {
		t.Fatal(err)
	}
	ours := predict(t, g, x)
	if d := maxDiff(ours, ortRun(t, exported, x)); d > 1e-4 {
		t.Errorf("exported model in ONNX Runtime differs by %.3g", d)
	} else {
		t.Logf("exported model: max diff vs ONNX Runtime %.3g", d)
	}
}

// importPeak imports path in a child process (this test binary) and
// returns that process's peak RSS.
func importPeak(t *testing.T, path string) int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestImportPeakChild$", "-test.v")
	cmd.Env = append(os.Environ(), "RETARGET_IMPORT_PEAK="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child import: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "PEAK "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err == nil {
				return n
			}
		}
	}
	t.Fatalf("child printed no peak:\n%s", out)
	return 0
}

// TestImportPeakChild is importPeak's child: it imports
// RETARGET_IMPORT_PEAK and prints its peak RSS.
func TestImportPeakChild(t *testing.T) {
	path := os.Getenv("RETARGET_IMPORT_PEAK")
	if path == "" {
		t.Skip("run by importPeak")
	}
	if _, err := onnximp.Import(path, onnximp.Options{}); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("PEAK %d\n", testenv.PeakRSS())
}
