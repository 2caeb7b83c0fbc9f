package keras_test

import (
	"errors"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	kexp "github.com/retarget-dev/retarget/exporters/keras"
	"github.com/retarget-dev/retarget/importers/keras"
	"github.com/retarget-dev/retarget/internal/testenv"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
	"github.com/retarget-dev/retarget/zoo"
)

// vggLike is a small VGG-shaped graph with Keras Applications names; the
// Flatten of a channels-last tensor makes fc1's rows need the permutation.
func vggLike(t *testing.T, seed int64) *ir.Graph {
	t.Helper()
	g := &ir.Graph{Name: "vgglike", Inputs: []ir.Input{{Name: "input_1", Shape: []int{3, 12, 10}, Layout: ir.LayoutNHWC}}}
	add := func(name string, l ir.Layer, in string) string {
		g.Vertices = append(g.Vertices, &ir.Vertex{Name: name, Layer: l, Inputs: []string{in}})
		return name
	}
	x := add("block1_conv1", &ir.Conv{Rank: 2, Filters: 4, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: ir.Act(ir.ActReLU)}, "input_1")
	x = add("block1_conv2", &ir.Conv{Rank: 2, Filters: 6, Kernel: []int{3, 2}, Padding: ir.PadValid, Activation: ir.Act(ir.ActReLU)}, x)
	x = add("block1_pool", &ir.Pool{Rank: 2, Op: ir.PoolMax, Kernel: []int{2, 2}, Strides: []int{2, 2}, Padding: ir.PadValid}, x)
	x = add("block2_sepconv", &ir.SeparableConv2D{Filters: 5, Kernel: []int{3, 3}, DepthMultiplier: 2, Padding: ir.PadSame}, x)
	x = add("block2_bn", &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.99, NoScale: true}, x)
	x = add("block2_prelu", &ir.PReLU{SharedAxes: []int{1, 2}}, x)
	x = add("flatten", &ir.Flatten{}, x)
	x = add("fc1", &ir.Dense{Units: 7, Activation: ir.Act(ir.ActReLU)}, x)
	x = add("dropout", &ir.Dropout{Rate: 0.5}, x)
	x = add("predictions", &ir.Output{Units: 3, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, x)
	g.Outputs = []ir.GraphOutput{{Name: x, Vertex: x}}
	g.Meta = map[string]string{}
	if err := nn.InitGraph(g, ir.InitXavierUniform, seed); err != nil {
		t.Fatal(err)
	}
	randomize(g, seed)
	return g
}

// rnnLike has recurrent layers of every kind.
func rnnLike(t *testing.T, seed int64) *ir.Graph {
	t.Helper()
	g := &ir.Graph{Name: "rnnlike", Inputs: []ir.Input{{Name: "seq", Shape: []int{5, 4}}}}
	add := func(name string, l ir.Layer, in string) string {
		g.Vertices = append(g.Vertices, &ir.Vertex{Name: name, Layer: l, Inputs: []string{in}})
		return name
	}
	tanh, sig := ir.Act(ir.ActTanh), ir.Act(ir.ActSigmoid)
	x := add("lstm", &ir.LSTM{Units: 6, Activation: tanh, RecurrentActivation: sig, ReturnSequences: true, UnitForgetBias: true}, "seq")
	x = add("bigru", &ir.Bidirectional{Layer: &ir.GRU{Units: 3, Activation: tanh, RecurrentActivation: sig, ReturnSequences: true, ResetAfter: true}, Merge: ir.BiConcat}, x)
	x = add("rnn", &ir.SimpleRNN{Units: 4, Activation: tanh, ReturnSequences: true}, x)
	x = add("ln", &ir.LayerNorm{Epsilon: 1e-3, Axis: -1}, x)
	x = add("out", &ir.RnnOutput{Units: 2, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, x)
	g.Outputs = []ir.GraphOutput{{Name: x, Vertex: x}}
	g.Meta = map[string]string{}
	if err := nn.InitGraph(g, ir.InitXavierUniform, seed); err != nil {
		t.Fatal(err)
	}
	randomize(g, seed)
	return g
}

// randomize fills every parameter with distinct values (initialisers leave
// biases zero, which would hide a misplaced bias); variances stay positive.
func randomize(g *ir.Graph, seed int64) {
	r := rand.New(rand.NewSource(seed))
	for _, v := range g.Vertices {
		for _, name := range v.ParamNames() {
			for i := range v.Params[name].Data {
				x := float32(r.NormFloat64() * 0.3)
				if name == "var" {
					x = 0.5 + float32(r.Float64())
				}
				if bn, ok := v.Layer.(*ir.BatchNorm); ok && (name == "gamma" && bn.NoScale || name == "beta" && bn.NoCenter) {
					x = map[string]float32{"gamma": 1, "beta": 0}[name] // not stored when off
				}
				v.Params[name].Data[i] = x
			}
		}
	}
}

func mobileNet(t *testing.T, seed int64) *ir.Graph {
	t.Helper()
	g, err := zoo.MobileNetV2(zoo.Options{IncludeTop: true, Alpha: 0.35, InputShape: []int{32, 32, 3}, Classes: 7, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	randomize(g, seed)
	return g
}

// weightsOnly exports g as a whole Keras model and strips the model config
// off, giving what Keras's save_weights writes.
func weightsOnly(t *testing.T, g *ir.Graph) (whole, weights string) {
	t.Helper()
	dir := t.TempDir()
	whole = filepath.Join(dir, "whole.h5")
	weights = filepath.Join(dir, "weights.h5")
	if err := kexp.Export(whole, g); err != nil {
		t.Fatal(err)
	}
	if err := keras.StripModelConfig(whole, weights); err != nil {
		t.Fatal(err)
	}
	return whole, weights
}

// sameParams requires every parameter of want to be in got, bit-identical.
func sameParams(t *testing.T, got, want *ir.Graph, what string) int {
	t.Helper()
	n := 0
	for _, wv := range want.Vertices {
		gv := got.Vertex(wv.Name)
		if gv == nil {
			if len(wv.Params) > 0 {
				t.Errorf("%s: vertex %q missing", what, wv.Name)
			}
			continue
		}
		for _, p := range wv.ParamNames() {
			if gv.Params[p] == nil || !gv.Params[p].Equal(wv.Params[p]) {
				t.Errorf("%s: vertex %q parameter %s differs", what, wv.Name, p)
				continue
			}
			n++
		}
	}
	return n
}

func TestLoadWeightsRoundTrip(t *testing.T) {
	cases := []struct {
		name  string
		build func(*testing.T, int64) *ir.Graph
	}{{"mobilenetv2", mobileNet}, {"vgglike", vggLike}, {"rnnlike", rnnLike}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.build(t, 11)
			whole, weights := weightsOnly(t, src)
			dst := tc.build(t, 99) // same structure, other values
			if err := keras.LoadWeights(dst, weights, keras.LoadWeightsOptions{}); err != nil {
				t.Fatal(err)
			}
			n := sameParams(t, dst, src, "loaded vs source")
			// the importer reading the whole-model file converts the same way
			imp, err := keras.Import(whole, keras.Options{})
			if err != nil {
				t.Fatal(err)
			}
			m := sameParams(t, dst, imp, "loaded vs importer")
			if n == 0 || m != n {
				t.Fatalf("compared %d tensors against the source and %d against the importer", n, m)
			}
			t.Logf("%d tensors landed converted", n)
			// and the graphs compute the same
			comparePredictions(t, src, dst)
		})
	}
}

func comparePredictions(t *testing.T, a, b *ir.Graph) {
	t.Helper()
	na, err := nn.Compile(a)
	if err != nil {
		t.Fatal(err)
	}
	nb, err := nn.Compile(b)
	if err != nil {
		t.Fatal(err)
	}
	in := a.Inputs[0]
	shape := append([]int{2}, in.Shape...)
	if in.Layout == ir.LayoutNHWC {
		shape = []int{2, in.Shape[1], in.Shape[2], in.Shape[0]}
	}
	x := ir.NewTensor(shape...)
	r := rand.New(rand.NewSource(3))
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	ya, err := na.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	yb, err := nb.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ya[0].Data {
		if ya[0].Data[i] != yb[0].Data[i] {
			t.Fatalf("prediction %d: %g vs %g", i, ya[0].Data[i], yb[0].Data[i])
		}
	}
}

func TestLoadWeightsKeras3Layout(t *testing.T) {
	script := filepath.Join("..", "..", "testdata", "gen", "keras_weights_k3.py")
	py, err := testenv.Python("h5py")
	if err != nil {
		t.Skip(err)
	}
	for _, build := range []func(*testing.T, int64) *ir.Graph{vggLike, rnnLike} {
		src := build(t, 5)
		_, weights := weightsOnly(t, src)
		k3 := filepath.Join(t.TempDir(), "model.weights.h5")
		if out, err := exec.Command(py, script, weights, k3).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		dst := build(t, 6)
		if err := keras.LoadWeights(dst, k3, keras.LoadWeightsOptions{}); err != nil {
			t.Fatal(err)
		}
		if n := sameParams(t, dst, src, src.Name+" keras 3 layout"); n == 0 {
			t.Fatal("nothing compared")
		}
	}
}

func TestLoadWeightsListsEveryMismatch(t *testing.T) {
	src := vggLike(t, 1)
	_, weights := weightsOnly(t, src)

	dst := vggLike(t, 2)
	before := dst.Clone()
	// a different class count, a missing layer, a renamed layer
	dst.Vertex("predictions").Layer.(*ir.Output).Units = 4
	dst.Vertex("predictions").Params = nil
	if err := nn.InitGraph(dst, ir.InitXavierUniform, 3); err != nil {
		t.Fatal(err)
	}
	dst.Vertex("block1_conv2").Name = "conv_renamed"
	dst.Vertex("block1_pool").Inputs = []string{"conv_renamed"}
	before = dst.Clone()
	err := keras.LoadWeights(dst, weights, keras.LoadWeightsOptions{})
	var we *keras.WeightsError
	if !errors.As(err, &we) {
		t.Fatalf("want a *WeightsError, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{`"predictions"`, "[7 3]", "[7 4]", `vertex "conv_renamed"`, `file layer "block1_conv2"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %s:\n%s", want, msg)
		}
	}
	if len(we.Missing) != 1 || len(we.Unused) != 1 || len(we.Mismatch) != 1 {
		t.Errorf("missing %v unused %v mismatch %v", we.Missing, we.Unused, we.Mismatch)
	}
	sameParams(t, dst, before, "graph after a failed load")

	// skipping: everything else loads, the rest stays
	if err := keras.LoadWeights(dst, weights, keras.LoadWeightsOptions{SkipMismatch: true, SkipMissing: true}); err != nil {
		t.Fatal(err)
	}
	if !dst.Vertex("fc1").Params["W"].Equal(src.Vertex("fc1").Params["W"]) {
		t.Error("fc1 not loaded with skipping on")
	}
	if !dst.Vertex("predictions").Params["W"].Equal(before.Vertex("predictions").Params["W"]) {
		t.Error("a skipped vertex changed")
	}
	if !strings.Contains(dst.Meta["keras_weights_skipped"], "predictions") {
		t.Errorf("skipped vertices not recorded: %q", dst.Meta["keras_weights_skipped"])
	}
}

func TestLoadWeightsRefusesNonWeights(t *testing.T) {
	g := vggLike(t, 1)
	p := filepath.Join(t.TempDir(), "junk.h5")
	if err := os.WriteFile(p, []byte("\x89HDF\r\n\x1a\nnot really"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := keras.LoadWeights(g, p, keras.LoadWeightsOptions{}); err == nil {
		t.Fatal("loaded garbage")
	}
}
