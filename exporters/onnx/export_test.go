package onnx_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	exponnx "github.com/retarget-dev/retarget/exporters/onnx"
	imponnx "github.com/retarget-dev/retarget/importers/onnx"
	"github.com/retarget-dev/retarget/internal/testenv"
	"github.com/retarget-dev/retarget/ir"
)

func fixtures(t *testing.T) []string {
	paths, _ := filepath.Glob("../../testdata/onnx/*.onnx")
	ext, _ := filepath.Glob("../../testdata/onnx/external/*.onnx")
	var out []string
	for _, p := range append(paths, ext...) {
		if !strings.Contains(p, "onnxpb_fixture") {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		t.Fatal("no fixtures; run python3 testdata/gen/onnx_fixtures.py")
	}
	return out
}

func loadFixture(t *testing.T, path string) *fixture {
	b, err := os.ReadFile(strings.TrimSuffix(path, ".onnx") + ".json")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{}
	if err := json.Unmarshal(b, f); err != nil {
		t.Fatal(err)
	}
	return f
}

func compare(t *testing.T, what string, got, want []array, atol float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d outputs, want %d", what, len(got), len(want))
	}
	worst := 0.0
	for k := range want {
		if got[k].Name != want[k].Name {
			t.Errorf("%s: output %d named %q, want %q", what, k, got[k].Name, want[k].Name)
		}
		d, err := maxDiff(got[k], want[k])
		if err != nil {
			t.Fatalf("%s: output %q: %v", what, want[k].Name, err)
		}
		if d > atol {
			t.Errorf("%s: output %q: max abs diff %g > %g", what, want[k].Name, d, atol)
		}
		worst = math.Max(worst, d)
	}
	return worst
}

// TestInteropFixturesORT imports each PyTorch fixture, exports it at
// opsets 11, 13, 17 and 21 and runs every export in ONNX Runtime against
// PyTorch's outputs (and nn's, where the engine runs every layer).
func TestInteropFixturesORT(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ONNX Runtime and python; not in -short")
	}
	maxPy := pythonOnnxMaxOpset(t)
	dir := t.TempDir()
	var jobs []*ortJob
	var want [][]array
	var labels []string
	var check []string
	for _, p := range fixtures(t) {
		name := strings.TrimSuffix(filepath.Base(p), ".onnx")
		fx := loadFixture(t, p)
		g, err := imponnx.Import(p, imponnx.Options{})
		if err != nil {
			t.Errorf("%s: import: %v", name, err)
			continue
		}
		for _, opset := range []int{11, 13, 17, 21} {
			out := filepath.Join(dir, fmt.Sprintf("%s_op%d.onnx", name, opset))
			if err := exponnx.Export(out, g, exponnx.Options{Opset: opset}); err != nil {
				t.Errorf("%s: export opset %d: %v", name, opset, err)
				continue
			}
			if opset <= maxPy {
				check = append(check, out)
			}
			if len(fx.Outputs) > 0 {
				jobs = append(jobs, &ortJob{Model: out, arrays: fx.Inputs})
				want = append(want, fx.Outputs)
				labels = append(labels, fmt.Sprintf("%s opset %d", name, opset))
			}
		}
		if nnOut, ok := nnPredict(t, g, fx.Inputs); ok && len(fx.Outputs) > 0 {
			t.Logf("%s: nn vs PyTorch max abs diff %.3g", name, compare(t, name+" nn", nnOut, fx.Outputs, 1e-4))
		}
	}
	checkModels(t, check)
	for k, got := range ortBatch(t, dir, jobs) {
		d := compare(t, labels[k]+": ORT(export)", got, want[k], 1e-4)
		t.Logf("%s: ORT(export) vs PyTorch max abs diff %.3g", labels[k], d)
	}
}

func randTensor(rng *rand.Rand, scale float32, shape ...int) *ir.Tensor {
	t := ir.NewTensor(shape...)
	for k := range t.Data {
		t.Data[k] = (rng.Float32()*2 - 1) * scale
	}
	return t
}

// fillParams gives every vertex random parameters (positive variances).
func fillParams(t *testing.T, g *ir.Graph, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	shapes, err := g.Shapes()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range g.Vertices {
		v.Params = map[string]*ir.Tensor{}
		for _, ps := range v.Layer.Params(v.InputShapes(shapes)) {
			x := randTensor(rng, 0.5, ps.Shape...)
			if strings.HasSuffix(ps.Name, "var") {
				for k := range x.Data {
					x.Data[k] = 0.5 + float32(math.Abs(float64(x.Data[k])))
				}
			}
			v.Params[ps.Name] = x
		}
	}
}

func vx(name string, l ir.Layer, inputs ...string) *ir.Vertex {
	return &ir.Vertex{Name: name, Layer: l, Inputs: inputs}
}

// irGraphs are graphs built through the ir API.
func irGraphs() map[string]*ir.Graph {
	seq := func(l ir.Layer) *ir.Graph {
		return &ir.Graph{Inputs: []ir.Input{{Name: "seq", Shape: []int{5, 4}}},
			Vertices: []*ir.Vertex{vx("rnn", l, "seq"), vx("head", &ir.Output{Units: 3, Activation: ir.Activation{Kind: ir.ActSoftmax, Axis: -1}, Loss: ir.LossMCXENT}, "flat"),
				vx("flat", &ir.Flatten{}, "rnn")},
			Outputs: []ir.GraphOutput{{Name: "probs", Vertex: "head"}}}
	}
	lstm := &ir.LSTM{Units: 6, Activation: ir.Act(ir.ActTanh), RecurrentActivation: ir.Act(ir.ActSigmoid), ReturnSequences: true}
	gru := &ir.GRU{Units: 5, Activation: ir.Act(ir.ActTanh), RecurrentActivation: ir.Act(ir.ActSigmoid), ResetAfter: true}
	gru0 := &ir.GRU{Units: 5, Activation: ir.Act(ir.ActTanh), RecurrentActivation: ir.Act(ir.ActSigmoid), ResetAfter: false, ReturnSequences: true, GoBackwards: true}
	rnn := &ir.SimpleRNN{Units: 4, Activation: ir.Act(ir.ActTanh), ReturnSequences: true}
	return map[string]*ir.Graph{
		"cnn": {Inputs: []ir.Input{{Name: "img", Shape: []int{3, 8, 8}, Layout: ir.LayoutNCHW}},
			Vertices: []*ir.Vertex{
				vx("conv", &ir.Conv{Rank: 2, Filters: 4, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: ir.Act(ir.ActReLU)}, "img"),
				vx("bn", &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.99}, "conv"),
				vx("pool", &ir.Pool{Rank: 2, Op: ir.PoolMax, Kernel: []int{2, 2}}, "bn"),
				vx("flat", &ir.Flatten{}, "pool"),
				vx("fc", &ir.Dense{Units: 8, Activation: ir.Act(ir.ActTanh)}, "flat"),
				vx("out", &ir.Output{Units: 3, Activation: ir.Activation{Kind: ir.ActSoftmax, Axis: -1}, Loss: ir.LossMCXENT}, "fc"),
			},
			Outputs: []ir.GraphOutput{{Name: "probs", Vertex: "out"}}},
		// the activations the ONNX importer fuses, written as ops or decomposed by opset
		"acts": {Inputs: []ir.Input{{Name: "x", Shape: []int{6}}},
			Vertices: []*ir.Vertex{
				vx("fc", &ir.Dense{Units: 6, Activation: ir.Act(ir.ActGELU)}, "x"),
				vx("swish", &ir.ActivationLayer{Activation: ir.Act(ir.ActSwish)}, "fc"),
				vx("hswish", &ir.ActivationLayer{Activation: ir.Act(ir.ActHardSwish)}, "x"),
				vx("sum", &ir.Merge{Op: ir.MergeAdd}, "swish", "hswish"),
				vx("gelu", &ir.ActivationLayer{Activation: ir.Act(ir.ActGELU)}, "sum"),
				vx("mish", &ir.ActivationLayer{Activation: ir.Act(ir.ActMish)}, "gelu"),
				vx("fc2", &ir.Dense{Units: 6, Activation: ir.Act(ir.ActGELUTanh)}, "mish"),
				vx("gelu_tanh", &ir.ActivationLayer{Activation: ir.Act(ir.ActGELUTanh)}, "fc2"),
			},
			Outputs: []ir.GraphOutput{{Name: "y", Vertex: "gelu_tanh"}}},
		// volumetric (NCDHW) layers and dilated max pooling
		"vol": {Inputs: []ir.Input{{Name: "vol", Shape: []int{2, 6, 7, 6}, Layout: ir.LayoutNCHW}},
			Vertices: []*ir.Vertex{
				vx("conv3d", &ir.Conv{Rank: 3, Filters: 4, Kernel: []int{3, 2, 3}, Strides: []int{1, 2, 1}, Dilations: []int{2, 1, 1}, Padding: ir.PadExplicit, Pads: []int{1, 0, 1, 1, 1, 0}, Activation: ir.Act(ir.ActReLU)}, "vol"),
				vx("bn3d", &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.99}, "conv3d"),
				vx("dw3d", &ir.Conv{Rank: 3, Filters: 4, Groups: 4, Kernel: []int{2, 2, 2}, Padding: ir.PadSame}, "bn3d"),
				vx("maxpool3d", &ir.Pool{Rank: 3, Op: ir.PoolMax, Kernel: []int{2, 2, 2}, Strides: []int{1, 1, 1}, Dilations: []int{1, 2, 2}, CeilMode: true}, "dw3d"),
				vx("convt3d", &ir.ConvTranspose2D{Rank: 3, Filters: 3, Kernel: []int{2, 3, 2}, Strides: []int{2, 1, 2}, Padding: ir.PadExplicit, Pads: []int{0, 1, 0, 1, 1, 0}, OutputPadding: []int{1, 0, 0}, Activation: ir.Act(ir.ActIdentity)}, "maxpool3d"),
				vx("avgpool3d", &ir.Pool{Rank: 3, Op: ir.PoolAvg, Kernel: []int{3, 2, 3}, Strides: []int{2, 2, 2}, Padding: ir.PadExplicit, Pads: []int{1, 1, 1, 1, 0, 1}}, "convt3d"),
				vx("gap3d", &ir.GlobalPool{Rank: 3, Op: ir.PoolAvg}, "avgpool3d"),
				vx("out", &ir.Output{Units: 2, Activation: ir.Activation{Kind: ir.ActSoftmax, Axis: -1}, Loss: ir.LossMCXENT}, "gap3d"),
			},
			Outputs: []ir.GraphOutput{{Name: "probs", Vertex: "out"}}},
		"dilpool": {Inputs: []ir.Input{{Name: "img", Shape: []int{3, 9, 10}, Layout: ir.LayoutNCHW}},
			Vertices: []*ir.Vertex{
				vx("pool2d", &ir.Pool{Rank: 2, Op: ir.PoolMax, Kernel: []int{3, 2}, Strides: []int{2, 1}, Dilations: []int{2, 3}, Padding: ir.PadExplicit, Pads: []int{1, 0, 1, 1}}, "img"),
				vx("rows", &ir.Reshape{Shape: []int{3, -1}}, "pool2d"),
				vx("pool1d", &ir.Pool{Rank: 1, Op: ir.PoolMax, Kernel: []int{3}, Strides: []int{2}, Dilations: []int{2}, CeilMode: true}, "rows"),
				vx("gmp", &ir.GlobalPool{Rank: 1, Op: ir.PoolMax}, "pool1d"),
			},
			Outputs: []ir.GraphOutput{{Name: "y", Vertex: "gmp"}}},
		"lnorm":  lnGraph(),
		"lstm":   seq(lstm),
		"gru":    seq(gru),
		"gru_bw": seq(gru0),
		"rnn":    seq(rnn),
		"bilstm": seq(&ir.Bidirectional{Layer: &ir.LSTM{Units: 3, Activation: ir.Act(ir.ActTanh), RecurrentActivation: ir.Act(ir.ActSigmoid), ReturnSequences: true}, Merge: ir.BiConcat}),
		"bigru":  seq(&ir.Bidirectional{Layer: &ir.GRU{Units: 3, Activation: ir.Act(ir.ActTanh), RecurrentActivation: ir.Act(ir.ActSigmoid), ResetAfter: true}, Merge: ir.BiSum}),
	}
}

func randInputs(g *ir.Graph, seed int64) []array {
	rng := rand.New(rand.NewSource(seed))
	var out []array
	for _, in := range g.Inputs {
		a := array{Name: in.Name, Shape: append([]int{2}, in.Shape...)}
		for k := 0; k < ir.NumElements(a.Shape); k++ {
			a.Data = append(a.Data, rng.Float64()*2-1)
		}
		out = append(out, a)
	}
	return out
}

// TestInteropIRGraphsORT exports graphs built with the ir API, checks
// ONNX Runtime against nn, and that the re-imported export keeps names,
// frozen flags and predictions.
func TestInteropIRGraphsORT(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ONNX Runtime and python; not in -short")
	}
	maxPy := pythonOnnxMaxOpset(t)
	dir := t.TempDir()
	var jobs []*ortJob
	var check, names []string
	graphs := irGraphs()
	for name, g := range graphs {
		fillParams(t, g, 1)
		if err := g.Validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		g.Vertices[0].Frozen = true
		ins := randInputs(g, 2)
		var path string
		for _, opset := range []int{11, 13, 17, 21} {
			path = filepath.Join(dir, fmt.Sprintf("%s_op%d.onnx", name, opset))
			if err := exponnx.Export(path, g, exponnx.Options{Opset: opset}); err != nil {
				t.Fatalf("%s: export: %v", name, err)
			}
			if opset <= maxPy {
				check = append(check, path)
			}
			jobs = append(jobs, &ortJob{Model: path, arrays: ins})
			names = append(names, fmt.Sprintf("%s opset %d", name, opset))
		}
		g2, err := imponnx.Import(path, imponnx.Options{})
		if err != nil {
			t.Fatalf("%s: re-import: %v", name, err)
		}
		if !g2.Vertex(g.Vertices[0].Name).Frozen {
			t.Errorf("%s: frozen flag of %q lost", name, g.Vertices[0].Name)
		}
		if g2.Outputs[0].Name != g.Outputs[0].Name {
			t.Errorf("%s: output name %q, want %q", name, g2.Outputs[0].Name, g.Outputs[0].Name)
		}
		if want, ok := nnPredict(t, g, ins); ok {
			if got, ok := nnPredict(t, g2, ins); ok {
				t.Logf("%s: nn(import(export)) vs nn max abs diff %.3g", name, compare(t, name+" round trip", got, want, 1e-5))
			}
		}
		again := filepath.Join(dir, name+"_again.onnx")
		if err := exponnx.Export(again, g2, exponnx.Options{}); err != nil {
			t.Fatalf("%s: re-export: %v", name, err)
		}
		check = append(check, again)
		jobs = append(jobs, &ortJob{Model: again, arrays: ins})
		names = append(names, name+" export(import(export))")
	}
	checkModels(t, check)
	outs := ortBatch(t, dir, jobs)
	for k := 0; k < len(jobs); k += 5 {
		name := strings.Fields(names[k])[0]
		for j := 1; j < 5; j++ {
			compare(t, names[k+j]+" vs opset 11", outs[k+j], outs[k], 1e-5)
		}
		if want, ok := nnPredict(t, graphs[name], jobs[k].arrays); ok {
			t.Logf("%s: ORT vs nn max abs diff %.3g", name, compare(t, name+" ORT vs nn", outs[k], want, 1e-4))
		}
	}
}

func TestExternalDataThreshold(t *testing.T) {
	g := irGraphs()["cnn"]
	fillParams(t, g, 3)
	dir := t.TempDir()
	path := filepath.Join(dir, "big.onnx")
	if err := exponnx.Export(path, g, exponnx.Options{ExternalDataThreshold: 1000}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".data"); err != nil {
		t.Fatalf("no external data file: %v", err)
	}
	g2, err := imponnx.Import(path, imponnx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range g.Vertices {
		for k, p := range v.Params {
			if q := g2.Vertex(v.Name); q == nil || q.Params[k] == nil || !q.Params[k].Equal(p) {
				t.Errorf("%s/%s differs after the external-data round trip", v.Name, k)
			}
		}
	}
	if why := testenv.ORTMissing(); why == "" && !testing.Short() {
		ins := randInputs(g, 4)
		small := filepath.Join(dir, "small.onnx")
		if err := exponnx.Export(small, g, exponnx.Options{}); err != nil {
			t.Fatal(err)
		}
		outs := ortBatch(t, t.TempDir(), []*ortJob{{Model: path, arrays: ins}, {Model: small, arrays: ins}})
		compare(t, "external vs inline", outs[0], outs[1], 0)
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

func TestExportErrors(t *testing.T) {
	g := irGraphs()["cnn"]
	fillParams(t, g, 5)
	if _, err := exponnx.ToModel(g, exponnx.Options{Opset: 9}); err == nil {
		t.Error("opset 9 accepted")
	}
	m := &ir.Graph{Inputs: []ir.Input{{Name: "x", Shape: []int{4, 2}}},
		Vertices: []*ir.Vertex{vx("mask", &ir.Masking{}, "x")}, Outputs: []ir.GraphOutput{{Name: "y", Vertex: "mask"}}}
	_, err := exponnx.ToModel(m, exponnx.Options{})
	if err == nil || !strings.Contains(err.Error(), "mask") {
		t.Errorf("Masking export: %v", err)
	}
}
