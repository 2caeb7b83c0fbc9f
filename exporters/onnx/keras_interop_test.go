package onnx_test

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	exponnx "github.com/retarget-dev/retarget/exporters/onnx"
	"github.com/retarget-dev/retarget/importers/keras"
	"github.com/retarget-dev/retarget/internal/hdf5"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
	"github.com/retarget-dev/retarget/npy"
)

// kerasRealDir holds files written by real Keras (module-root-relative
// ../shared/fixtures/keras-real; see its README).
const kerasRealDir = "../../../shared/fixtures/keras-real"

// kerasCase is one real Keras model with inputs and the outputs Keras
// computed for them (source layout, batch first), by name.
type kerasCase struct {
	name    string
	model   string
	inputs  map[string]*ir.Tensor
	outputs map[string]*ir.Tensor
}

func readH5Group(t *testing.T, f *hdf5.File, group string) map[string]*ir.Tensor {
	t.Helper()
	g, err := f.Root().Group(group)
	if err != nil {
		return nil
	}
	names, err := g.Members()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*ir.Tensor{}
	for _, n := range names {
		ds, err := g.Dataset(n)
		if err != nil {
			t.Fatalf("%s/%s: %v", group, n, err)
		}
		var shape []int
		for _, d := range ds.Shape() {
			shape = append(shape, int(d))
		}
		data, err := ds.ReadFloat32()
		if err != nil {
			t.Fatalf("%s/%s: %v", group, n, err)
		}
		out[n] = ir.FromData(data, shape...)
	}
	return out
}

// kerasCases lists examples/*/*_inputs_and_outputs.h5 and fullconfigs/cnn.
func kerasCases(t *testing.T) []kerasCase {
	t.Helper()
	if _, err := os.Stat(kerasRealDir); err != nil {
		t.Skipf("real Keras fixtures not found at %s (module-root ../shared/fixtures/keras-real)", kerasRealDir)
	}
	ios, _ := filepath.Glob(filepath.Join(kerasRealDir, "examples", "*", "*_inputs_and_outputs.h5"))
	var cases []kerasCase
	for _, io := range ios {
		base := strings.TrimSuffix(io, "_inputs_and_outputs.h5")
		f, err := hdf5.Open(io)
		if err != nil {
			t.Fatalf("%s: %v", io, err)
		}
		// "predictions" holds what Keras computed; where it is missing,
		// "outputs" does (in the recurrent examples "outputs" are targets).
		outs := readH5Group(t, f, "predictions")
		if outs == nil {
			outs = readH5Group(t, f, "outputs")
		}
		cases = append(cases, kerasCase{name: filepath.Base(base), model: base + "_model.h5",
			inputs: readH5Group(t, f, "inputs"), outputs: outs})
		f.Close()
	}
	cnn := filepath.Join(kerasRealDir, "fullconfigs", "cnn")
	if x, err := npy.ReadFile(filepath.Join(cnn, "input.npy")); err == nil {
		y, err := npy.ReadFile(filepath.Join(cnn, "predictions.npy"))
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, kerasCase{name: "cnn_batch_norm", model: filepath.Join(cnn, "cnn_batch_norm.h5"),
			inputs:  map[string]*ir.Tensor{"": ir.FromData(x.Data, x.Shape...)},
			outputs: map[string]*ir.Tensor{"": ir.FromData(y.Data, y.Shape...)}})
	}
	if len(cases) == 0 {
		t.Fatalf("no *_inputs_and_outputs.h5 under %s", kerasRealDir)
	}
	// volumetric layers over NDHWC (testdata/gen/keras_conv3d_fixture.py;
	// its predictions are PyTorch's, reading the file as Keras would)
	vol := "../../testdata/keras/conv3d"
	x, err := npy.ReadFile(filepath.Join(vol, "input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	y, err := npy.ReadFile(filepath.Join(vol, "predictions.npy"))
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, kerasCase{name: "conv3d", model: filepath.Join(vol, "model.h5"),
		inputs:  map[string]*ir.Tensor{"": ir.FromData(x.Data, x.Shape...)},
		outputs: map[string]*ir.Tensor{"": ir.FromData(y.Data, y.Shape...)}})
	// attention: the real tf.keras file (across the batch) with numpy's
	// outputs for it, and the Keras 3 fixtures over sequences (attention;
	// LayerNormalization over features, time and both; mask_zero into
	// MultiHeadAttention, Attention and average pooling; position
	// embeddings)
	// (testdata/gen/keras_real_attention.py, keras3_fixture.py)
	for name, files := range map[string][2]string{
		"keras_attention":     {filepath.Join(kerasRealDir, "weights", "keras-attention.h5"), "../../testdata/keras/real/keras_attention_io.h5"},
		"k3_attention":        {"../../testdata/keras/k3_attention.keras", "../../testdata/keras/k3_attention_io.h5"},
		"k3_layernorm":        {"../../testdata/keras/k3_layernorm.keras", "../../testdata/keras/k3_layernorm_io.h5"},
		"k3_masked_attention": {"../../testdata/keras/k3_masked_attention.keras", "../../testdata/keras/k3_masked_attention_io.h5"},
		"k3_positions":        {"../../testdata/keras/k3_positions.keras", "../../testdata/keras/k3_positions_io.h5"},
	} {
		f, err := hdf5.Open(files[1])
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, kerasCase{name: name, model: files[0], inputs: readH5Group(t, f, "inputs"), outputs: readH5Group(t, f, "predictions")})
		f.Close()
	}
	return cases
}

// lookup finds a fixture tensor by name ("" stands for the only one).
func lookup(m map[string]*ir.Tensor, name string) *ir.Tensor {
	if t, ok := m[name]; ok {
		return t
	}
	return m[""]
}

// toLayout transposes a batch tensor between a source layout and the
// internal (channels-first) one: NHWC<->NCHW, NDHWC<->NCDHW, NWC<->NCW; want is the
// shape (without batch) the result must have, which decides the way.
func toLayout(x *ir.Tensor, want []int) *ir.Tensor {
	if ir.SameShape(x.Shape[1:], want) {
		return x
	}
	var perm []int
	switch r := len(x.Shape); {
	case r == 4 && x.Shape[3] == want[0]:
		perm = []int{0, 3, 1, 2}
	case r == 4 && x.Shape[1] == want[2]:
		perm = []int{0, 2, 3, 1}
	case r == 5 && x.Shape[4] == want[0]:
		perm = []int{0, 4, 1, 2, 3}
	case r == 5 && x.Shape[1] == want[3]:
		perm = []int{0, 2, 3, 4, 1}
	case r == 3:
		perm = []int{0, 2, 1}
	default:
		return x
	}
	shape := make([]int, len(perm))
	for k, p := range perm {
		shape[k] = x.Shape[p]
	}
	out := ir.NewTensor(shape...)
	src := make([]int, len(perm)) // strides of x
	s := 1
	for k := len(x.Shape) - 1; k >= 0; k-- {
		src[k] = s
		s *= x.Shape[k]
	}
	idx := make([]int, len(shape))
	for o := range out.Data {
		rem, off := o, 0
		for k := len(shape) - 1; k >= 0; k-- {
			idx[k] = rem % shape[k]
			rem /= shape[k]
			off += idx[k] * src[perm[k]]
		}
		out.Data[o] = x.Data[off]
	}
	return out
}

func toArray(name string, t *ir.Tensor) array {
	a := array{Name: name, Shape: append([]int{}, t.Shape...)}
	for _, v := range t.Data {
		a.Data = append(a.Data, float64(v))
	}
	return a
}

// closeTo checks got against want (both batch first, same layout) within
// rtol·|want| + atol and returns the max abs difference.
func closeTo(t *testing.T, what string, got array, want *ir.Tensor, rtol, atol float64) float64 {
	t.Helper()
	if ir.NumElements(got.Shape) != ir.NumElements(want.Shape) || len(got.Data) != len(want.Data) {
		t.Errorf("%s: shape %v, Keras %v", what, got.Shape, want.Shape)
		return math.Inf(1)
	}
	worst, bad := 0.0, 0
	for k, w := range want.Data {
		d := math.Abs(got.Data[k] - float64(w))
		if !(d <= atol+rtol*math.Abs(float64(w))) {
			bad++
		}
		worst = math.Max(worst, d)
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d values differ from Keras beyond %g relative + %g (max abs diff %g)", what, bad, len(want.Data), rtol, atol, worst)
	}
	return worst
}

// TestInteropKerasToONNX imports every real Keras model that comes with
// Keras's own outputs, exports it to ONNX (keeping Keras's layout at the
// edges, and with ChannelsFirst), checks the files with onnx.checker and
// runs them in ONNX Runtime and in our engine; all must match Keras's
// outputs to 1e-4 relative (+1e-5 absolute). The default export takes
// and gives Keras's own arrays; the channels-first one takes them
// transposed to NCHW/NCW.
func TestInteropKerasToONNX(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ONNX Runtime and python; not in -short")
	}
	cases := kerasCases(t)
	dir := t.TempDir()
	var jobs []*ortJob
	var jobCase []int
	var jobCF []bool
	var graphs []*ir.Graph
	var paths []string
	for k, c := range cases {
		g, err := keras.Import(c.model, keras.Options{})
		if err != nil {
			t.Errorf("%s: keras import: %v", c.name, err)
			graphs = append(graphs, nil)
			continue
		}
		graphs = append(graphs, g)
		for _, cf := range []bool{false, true} {
			out := filepath.Join(dir, c.name+".onnx")
			if cf {
				out = filepath.Join(dir, c.name+"_cf.onnx")
			}
			if err := exponnx.Export(out, g, exponnx.Options{ChannelsFirst: cf}); err != nil {
				t.Errorf("%s: export: %v", c.name, err)
				continue
			}
			paths = append(paths, out)
			job := &ortJob{Model: out}
			for _, in := range g.Inputs {
				x := lookup(c.inputs, in.Name)
				if x == nil {
					t.Fatalf("%s: no Keras input for %q", c.name, in.Name)
				}
				if cf {
					x = toLayout(x, in.Shape)
				}
				job.arrays = append(job.arrays, toArray(in.Name, x))
			}
			jobs = append(jobs, job)
			jobCase = append(jobCase, k)
			jobCF = append(jobCF, cf)
		}

		// Our engine, fed in the source layout as Keras was.
		net, err := nn.Compile(g)
		if err != nil {
			t.Errorf("%s: compile: %v", c.name, err)
			continue
		}
		var xs []*ir.Tensor
		for _, in := range g.Inputs {
			xs = append(xs, lookup(c.inputs, in.Name))
		}
		ys, err := net.Predict(xs...)
		if err != nil {
			t.Errorf("%s: predict: %v", c.name, err)
			continue
		}
		for i, o := range g.Outputs {
			d := closeTo(t, c.name+" nn "+o.Name, toArray(o.Name, ys[i]), lookup(c.outputs, o.Name), 1e-4, 1e-5)
			t.Logf("%s: output %q: max |nn - Keras| = %.3g", c.name, o.Name, d)
		}
	}
	checkModels(t, paths)
	for j, got := range ortBatch(t, dir, jobs) {
		c, g := cases[jobCase[j]], graphs[jobCase[j]]
		what := c.name + " ORT"
		if jobCF[j] {
			what += " (channels first)"
		}
		if len(got) != len(g.Outputs) {
			t.Errorf("%s: ONNX Runtime gave %d outputs, want %d", c.name, len(got), len(g.Outputs))
			continue
		}
		for i, o := range g.Outputs {
			want := lookup(c.outputs, o.Name)
			y := ir.FromData(make([]float32, len(got[i].Data)), got[i].Shape...)
			for k, v := range got[i].Data {
				y.Data[k] = float32(v)
			}
			if jobCF[j] {
				y = toLayout(y, want.Shape[1:])
			} else if !ir.SameShape(y.Shape, want.Shape) {
				t.Errorf("%s: output %q of shape %v, Keras gives %v", what, o.Name, y.Shape, want.Shape)
				continue
			}
			d := closeTo(t, what+" "+o.Name, toArray(o.Name, y), want, 1e-4, 1e-5)
			t.Logf("%s: output %q: max |ORT(exported) - Keras| = %.3g", what, o.Name, d)
		}
	}
	t.Logf("%d Keras models exported and checked", len(jobs))
}
