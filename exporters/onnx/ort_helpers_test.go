package onnx_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/internal/numtest"
	"github.com/retarget-dev/retarget/internal/testenv"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
	"github.com/retarget-dev/retarget/npy"
)

// array is a named float tensor with its full shape (batch included).
type array struct {
	Name  string    `json:"name"`
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

type fixture struct {
	Opset   int     `json:"opset"`
	Atol    float64 `json:"atol"`
	Inputs  []array `json:"inputs"`
	Outputs []array `json:"outputs"`
}

func writeNpy(path string, a array) error {
	d := make([]float32, len(a.Data))
	for i, v := range a.Data {
		d[i] = float32(v)
	}
	return npy.WriteFile(path, a.Shape, d)
}

// ortJob is one model run of a batch.
type ortJob struct {
	Model  string   `json:"model"`
	Inputs []string `json:"inputs"`
	arrays []array
}

// ortBatch runs every job in one node process (ONNX Runtime loads once).
func ortBatch(t *testing.T, dir string, jobs []*ortJob) [][]array {
	t.Helper()
	if why := testenv.ORTMissing(); why != "" {
		t.Skip(why)
	}
	for j, job := range jobs {
		for k, in := range job.arrays {
			p := filepath.Join(dir, fmt.Sprintf("job%d_in%d.npy", j, k))
			if err := writeNpy(p, in); err != nil {
				t.Fatal(err)
			}
			job.Inputs = append(job.Inputs, p)
		}
	}
	spec := filepath.Join(dir, "jobs.json")
	b, _ := json.Marshal(jobs)
	if err := os.WriteFile(spec, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := testenv.RunORT("--batch", spec)
	if err != nil {
		t.Fatalf("onnxruntime batch: %v", err)
	}
	var res []struct {
		Outputs []array `json:"outputs"`
		Error   string  `json:"error"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	outs := make([][]array, len(jobs))
	for k, r := range res {
		if r.Error != "" {
			t.Errorf("onnxruntime on %s: %s", filepath.Base(jobs[k].Model), r.Error)
		}
		outs[k] = r.Outputs
	}
	return outs
}

// checkModels runs onnx.checker.check_model(full_check) on every path in one
// python process; without python3 and onnx it logs that and returns (the
// caller's other checks still run).
func checkModels(t *testing.T, paths []string) {
	t.Helper()
	if len(paths) == 0 {
		return
	}
	script := `
import sys, onnx
bad = 0
for p in sys.argv[1:]:
    try:
        onnx.checker.check_model(onnx.load(p), full_check=True)
    except Exception as e:
        bad += 1
        print(p, e)
sys.exit(1 if bad else 0)
`
	py, err := testenv.Python("onnx")
	if err != nil {
		t.Logf("onnx.checker skipped: %v", err)
		return
	}
	out, err := exec.Command(py, append([]string{"-c", script}, paths...)...).CombinedOutput()
	if err != nil {
		t.Errorf("onnx.checker: %v\n%s", err, out)
		return
	}
	t.Logf("onnx.checker (full_check): %d models pass", len(paths))
}

func maxDiff(a, b array) (float64, error) {
	if !ir.SameShape(a.Shape, b.Shape) {
		return 0, fmt.Errorf("shapes %v and %v", a.Shape, b.Shape)
	}
	return numtest.MaxAbsDiff(a.Data, b.Data), nil
}

func engineMissing(err error) bool {
	return err != nil && strings.Contains(err.Error(), "cannot run layer kind")
}

// nnPredict runs g with the engine; ok=false when nn cannot run it yet.
func nnPredict(t *testing.T, g *ir.Graph, inputs []array) ([]array, bool) {
	t.Helper()
	net, err := nn.Compile(g)
	if engineMissing(err) {
		t.Logf("nn parity skipped: %v", strings.SplitN(err.Error(), "\n", 3)[0:2])
		return nil, false
	}
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	var mats []*nn.Mat[float32]
	for _, in := range inputs {
		m := nn.NewMat[float32](in.Shape...)
		for k, v := range in.Data {
			m.Data[k] = float32(v)
		}
		mats = append(mats, m)
	}
	outs, err := net.Forward(mats, false)
	if err != nil {
		t.Fatalf("forward: %v", err)
	}
	var res []array
	for k, o := range outs {
		a := array{Name: g.Outputs[k].Name, Shape: append([]int{}, o.Shape...)}
		for _, v := range o.Data {
			a.Data = append(a.Data, float64(v))
		}
		res = append(res, a)
	}
	return res, true
}

// pythonOnnxMaxOpset is the highest opset the installed python onnx knows
// (0 without python3 or onnx: checks are skipped).
func pythonOnnxMaxOpset(t *testing.T) int {
	t.Helper()
	py, err := testenv.Python("onnx")
	if err != nil {
		return 0
	}
	out, err := exec.Command(py, "-c", "import onnx.defs; print(onnx.defs.onnx_opset_version())").Output()
	if err != nil {
		return 0
	}
	var v int
	fmt.Sscan(string(out), &v)
	return v
}
