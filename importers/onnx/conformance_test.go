package onnx

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/retarget-dev/retarget/internal/onnxpb"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// conformanceRoot holds ONNX's backend test models (Debian's
// libonnx-testdata package).
const conformanceRoot = "/usr/share/libonnx-testdata/data"

// Pass counts today; the test fails when fewer pass (raise them as the
// importer grows, never lower them).
var conformanceRatchet = map[string]int{
	"pytorch-converted": 82,
	"pytorch-operator":  35,
}

// ONNX's backend test tolerances (onnx/backend/test/case/test_case.py).
const conformanceRtol, conformanceAtol = 1e-3, 1e-7

func TestConformancePyTorch(t *testing.T) {
	if _, err := os.Stat(conformanceRoot); err != nil {
		t.Skipf("%s absent (apt-get install libonnx-testdata)", conformanceRoot)
	}
	for _, set := range []string{"pytorch-converted", "pytorch-operator"} {
		dirs, _ := filepath.Glob(filepath.Join(conformanceRoot, set, "test_*"))
		sort.Strings(dirs)
		if len(dirs) == 0 {
			continue
		}
		pass := 0
		var report []string
		for _, d := range dirs {
			err := runConformanceModel(d)
			status := "pass"
			if err != nil {
				status = "FAIL: " + err.Error()
			} else {
				pass++
			}
			report = append(report, fmt.Sprintf("%-50s %s", filepath.Base(d), status))
		}
		t.Logf("%s: %d of %d pass\n%s", set, pass, len(dirs), strings.Join(report, "\n"))
		if pass < conformanceRatchet[set] {
			t.Errorf("%s: %d of %d pass, fewer than the %d that passed before", set, pass, len(dirs), conformanceRatchet[set])
		} else if pass > conformanceRatchet[set] {
			t.Logf("%s: %d pass, more than the ratchet's %d: raise conformanceRatchet", set, pass, conformanceRatchet[set])
		}
	}
}

// runConformanceModel imports dir/model.onnx, runs every test_data_set_*
// and compares the outputs with ONNX's tolerances.
func runConformanceModel(dir string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	g, err := Import(filepath.Join(dir, "model.onnx"), Options{KeepDense: true})
	if err != nil {
		return fmt.Errorf("import: %s", strings.ReplaceAll(oneLine(err), filepath.Join(dir, "model.onnx")+": ", ""))
	}
	net, err := nn.Compile(g)
	if err != nil {
		return fmt.Errorf("compile: %s", oneLine(err))
	}
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	if len(sets) == 0 {
		return fmt.Errorf("no test_data_set_*")
	}
	for _, s := range sets {
		ins, err := readPBs(s, "input")
		if err != nil {
			return err
		}
		wants, err := readPBs(s, "output")
		if err != nil {
			return err
		}
		var mats []*nn.Mat[float32]
		for _, in := range ins {
			mats = append(mats, nn.MatFromTensor[float32](in))
		}
		if len(mats) != len(g.Inputs) {
			return fmt.Errorf("%d inputs in the data, %d in the graph", len(mats), len(g.Inputs))
		}
		outs, err := net.Forward(mats, false)
		if err != nil {
			return fmt.Errorf("predict: %s", oneLine(err))
		}
		if len(outs) != len(wants) {
			return fmt.Errorf("%d outputs, want %d", len(outs), len(wants))
		}
		for k, w := range wants {
			if err := conformanceClose(outs[k], w); err != nil {
				return fmt.Errorf("%s output %d: %v", filepath.Base(s), k, err)
			}
		}
	}
	return nil
}

func readPBs(dir, kind string) ([]*ir.Tensor, error) {
	var out []*ir.Tensor
	for i := 0; ; i++ {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%s_%d.pb", kind, i)))
		if os.IsNotExist(err) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		tp := &onnxpb.TensorProto{}
		if err := proto.Unmarshal(b, tp); err != nil {
			return nil, err
		}
		v, err := (&tensorReader{file: dir, limit: 1 << 30}).decode(tp)
		if err != nil {
			return nil, err
		}
		shape := v.shape
		if len(shape) == 0 {
			shape = []int{1}
		}
		f := make([]float32, v.size())
		for k, x := range v.floats() {
			f[k] = float32(x)
		}
		out = append(out, ir.FromData(f, shape...))
	}
}

func conformanceClose(got *nn.Mat[float32], want *ir.Tensor) error {
	if !ir.SameShape(got.Shape, want.Shape) {
		return fmt.Errorf("shape %v, want %v", got.Shape, want.Shape)
	}
	for k, w := range want.Data {
		g := float64(got.Data[k])
		// numpy's assert_allclose: NaNs and equal infinities match
		if g == float64(w) || math.IsNaN(g) && math.IsNaN(float64(w)) {
			continue
		}
		if d := math.Abs(g - float64(w)); !(d <= conformanceAtol+conformanceRtol*math.Abs(float64(w))) {
			return fmt.Errorf("element %d: %g, want %g", k, g, w)
		}
	}
	return nil
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// conformanceTorchFailing lists the cases of testdata/onnx/conformance
// (testdata/gen/onnx_conformance_torch.py) that do not import or run yet,
// with the reason. The test fails when one of them starts to pass (remove
// it here) or when any other case fails.
var conformanceTorchFailing = map[string]string{
	"operator_chunk": "PyTorch 1.13 computes the Slice bounds from the batch size at run time (Shape, Add, Div)",
	// ops the ir has no kind for
	"operator_repeat_dim_overflow": "repeats the input's axis 0, the batch (PyTorch 1.13 writes Unsqueeze + Expand + Tile): the batch size would change",
}

func TestConformanceTorchCases(t *testing.T) {
	paths, _ := filepath.Glob("../../testdata/onnx/conformance/*.onnx")
	if len(paths) < 100 {
		t.Fatalf("%d cases in testdata/onnx/conformance; run /usr/bin/python3 testdata/gen/onnx_conformance_torch.py", len(paths))
	}
	pass := 0
	var report []string
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".onnx")
		err := runTorchCase(t, p)
		why, known := conformanceTorchFailing[name]
		switch {
		case err == nil && known:
			t.Errorf("%s passes now; remove it from conformanceTorchFailing (%s)", name, why)
		case err != nil && !known:
			t.Errorf("%s: %v", name, err)
		}
		status := "pass"
		if err != nil {
			status = "FAIL: " + err.Error()
		} else {
			pass++
		}
		report = append(report, fmt.Sprintf("%-45s %s", name, status))
	}
	t.Logf("%d of %d pass\n%s", pass, len(paths), strings.Join(report, "\n"))
}

func runTorchCase(t *testing.T, path string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	fx := loadFixture(t, path)
	g, err := Import(path, Options{KeepDense: true})
	if err != nil {
		return fmt.Errorf("import: %s", strings.ReplaceAll(oneLine(err), path+": ", ""))
	}
	net, err := nn.Compile(g)
	if err != nil {
		return fmt.Errorf("compile: %s", oneLine(err))
	}
	var mats []*nn.Mat[float32]
	for _, in := range fx.Inputs {
		mats = append(mats, in.mat())
	}
	if len(mats) != len(g.Inputs) {
		return fmt.Errorf("%d inputs in the data, %d in the graph", len(mats), len(g.Inputs))
	}
	outs, err := net.Forward(mats, false)
	if err != nil {
		return fmt.Errorf("predict: %s", oneLine(err))
	}
	for k, o := range fx.Outputs {
		want := ir.NewTensor(o.Shape...)
		for i, v := range o.Data {
			want.Data[i] = float32(v)
		}
		if err := conformanceClose(outs[k], want); err != nil {
			return fmt.Errorf("output %q: %v", o.Name, err)
		}
	}
	return nil
}
