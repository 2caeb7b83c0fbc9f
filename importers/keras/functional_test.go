package keras

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/internal/hdf5"
	"github.com/retarget-dev/retarget/ir"
)

// A Keras 2 functional model: two inputs, a Dense shared by both, a
// nested Sequential, a Keras-1-style Merge, two outputs with a per-output
// loss dict.
const functionalJSON = `{"class_name": "Model", "keras_version": "2.2.4", "backend": "tensorflow", "config": {
 "name": "two_towers",
 "layers": [
  {"class_name": "InputLayer", "name": "a", "config": {"name": "a", "batch_input_shape": [null, 4]}, "inbound_nodes": []},
  {"class_name": "InputLayer", "name": "b", "config": {"name": "b", "batch_input_shape": [null, 4]}, "inbound_nodes": []},
  {"class_name": "Dense", "name": "shared", "config": {"name": "shared", "units": 3, "activation": "relu", "use_bias": true},
   "inbound_nodes": [[["a", 0, 0, {}]], [["b", 0, 0, {}]]]},
  {"class_name": "Sequential", "name": "tower", "config": {"name": "tower", "layers": [
     {"class_name": "Dense", "config": {"name": "inner", "units": 3, "activation": "tanh", "use_bias": false, "batch_input_shape": [null, 3]}}]},
   "inbound_nodes": [[["shared", 1, 0, {}]]]},
  {"class_name": "Merge", "name": "sum", "config": {"name": "sum", "mode": "sum"},
   "inbound_nodes": [[["shared", 0, 0, {}], ["tower", 0, 0, {}]]]},
  {"class_name": "Concatenate", "name": "cat", "config": {"name": "cat", "axis": -1},
   "inbound_nodes": [[["sum", 0, 0, {}], ["shared", 1, 0, {}]]]},
  {"class_name": "Dense", "name": "probs", "config": {"name": "probs", "units": 2, "activation": "softmax"},
   "inbound_nodes": [[["cat", 0, 0, {}]]]},
  {"class_name": "Dense", "name": "value", "config": {"name": "value", "units": 1, "activation": "linear"},
   "inbound_nodes": [[["sum", 0, 0, {}]]]}
 ],
 "input_layers": [["a", 0, 0], ["b", 0, 0]],
 "output_layers": [["probs", 0, 0], ["value", 0, 0]]}}`

type wspec struct {
	layer string
	names []string
	data  [][]float32
	shape [][]int
}

// writeKeras2Weights writes a save_weights-style file with our writer.
func writeKeras2Weights(t *testing.T, path string, specs []wspec) {
	t.Helper()
	w, err := hdf5.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var layers []string
	for _, s := range specs {
		layers = append(layers, s.layer)
		g := w.Root().CreateGroup(s.layer)
		for i, n := range s.names {
			dir, base := filepath.Split(n)
			sh := make([]uint64, len(s.shape[i]))
			for k, d := range s.shape[i] {
				sh[k] = uint64(d)
			}
			if _, err := g.CreateGroup(strings.TrimSuffix(dir, "/")).CreateDataset(base, sh, s.data[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := g.SetAttr("weight_names", s.names); err != nil {
			t.Fatal(err)
		}
	}
	w.Root().SetAttr("layer_names", layers)
	w.Root().SetAttr("keras_version", "2.2.4")
	w.Root().SetAttr("backend", "tensorflow")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func seq(n int, scale float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(math.Sin(float64(i)*1.7+0.3)) * scale
	}
	return out
}

func TestFunctionalSharedNestedMerge(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "model.json")
	os.WriteFile(cfg, []byte(functionalJSON), 0o644)
	Ws, bs := seq(12, 0.8), seq(3, 0.2)
	Wi := seq(9, 0.5)
	Wp, bp := seq(12, 0.6), seq(2, 0.1)
	Wv, bv := seq(3, 0.9), seq(1, 0.3)
	wp := filepath.Join(dir, "weights.h5")
	writeKeras2Weights(t, wp, []wspec{
		{"shared", []string{"shared/kernel:0", "shared/bias:0"}, [][]float32{Ws, bs}, [][]int{{4, 3}, {3}}},
		{"tower", []string{"inner/kernel:0"}, [][]float32{Wi}, [][]int{{3, 3}}},
		{"probs", []string{"probs/kernel:0", "probs/bias:0"}, [][]float32{Wp, bp}, [][]int{{6, 2}, {2}}},
		{"value", []string{"value/kernel:0", "value/bias:0"}, [][]float32{Wv, bv}, [][]int{{3, 1}, {1}}},
	})
	g, err := Import(cfg, Options{Weights: wp})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"shared", "shared_1", "tower.inner", "sum", "cat", "probs", "value"} {
		if g.Vertex(n) == nil {
			t.Errorf("no vertex %q", n)
		}
	}
	if a, b := g.Vertex("shared").Params["W"].Data, g.Vertex("shared_1").Params["W"].Data; &a[0] == &b[0] {
		t.Error("the shared layer's two vertices share their weights' storage")
	}
	if !strings.Contains(g.Meta["keras_shared_layers"], "shared -> shared, shared_1") {
		t.Errorf("shared layers not recorded: %q", g.Meta["keras_shared_layers"])
	}
	if k := g.Vertex("probs").Layer.Kind(); k != "Output" {
		t.Errorf("probs is %s, want Output", k)
	}
	if o, ok := g.Vertex("probs").Layer.(*ir.Output); !ok || o.Loss != ir.LossMCXENT {
		t.Errorf("probs loss: %+v", g.Vertex("probs").Layer)
	}
	// expected outputs by hand
	dense := func(x, W, b []float32, in, out int, act func(float64) float64) []float32 {
		y := make([]float32, out)
		for j := 0; j < out; j++ {
			s := 0.0
			if b != nil {
				s = float64(b[j])
			}
			for i := 0; i < in; i++ {
				s += float64(x[i]) * float64(W[i*out+j])
			}
			y[j] = float32(act(s))
		}
		return y
	}
	relu := func(v float64) float64 { return math.Max(v, 0) }
	id := func(v float64) float64 { return v }
	xa, xb := []float32{0.5, -1, 2, 0.1}, []float32{-0.3, 0.8, 0.2, -1.5}
	sa, sb := dense(xa, Ws, bs, 4, 3, relu), dense(xb, Ws, bs, 4, 3, relu)
	tw := dense(sb, Wi, nil, 3, 3, math.Tanh)
	sum := []float32{sa[0] + tw[0], sa[1] + tw[1], sa[2] + tw[2]}
	cat := append(append([]float32(nil), sum...), sb...)
	logits := dense(cat, Wp, bp, 6, 2, id)
	e0, e1 := math.Exp(float64(logits[0])), math.Exp(float64(logits[1]))
	wantP := []float32{float32(e0 / (e0 + e1)), float32(e1 / (e0 + e1))}
	wantV := dense(sum, Wv, bv, 3, 1, id)
	got := predict(t, g, map[string]*ir.Tensor{"a": ir.FromData(xa, 1, 4), "b": ir.FromData(xb, 1, 4)})
	for name, want := range map[string][]float32{"probs": wantP, "value": wantV} {
		for i, w := range want {
			if d := math.Abs(float64(got[name].Data[i] - w)); !(d <= 1e-5) {
				t.Errorf("%s[%d] = %g, want %g", name, i, got[name].Data[i], w)
			}
		}
	}
}

func TestWeightShapeMismatchNamesLayer(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "m.json")
	os.WriteFile(cfg, []byte(`{"class_name": "Sequential", "config": [
	 {"class_name": "Dense", "config": {"name": "d", "units": 3, "batch_input_shape": [null, 4]}}]}`), 0o644)
	wp := filepath.Join(dir, "w.h5")
	// 12 values either way, but [3, 4] is not the [4, 3] the layer needs
	writeKeras2Weights(t, wp, []wspec{{"d", []string{"d/kernel:0", "d/bias:0"},
		[][]float32{seq(12, 1), seq(3, 1)}, [][]int{{3, 4}, {3}}}})
	_, err := Import(cfg, Options{Weights: wp})
	if err == nil || !strings.Contains(err.Error(), `"d"`) || !strings.Contains(err.Error(), "[3 4]") || !strings.Contains(err.Error(), "[4 3]") {
		t.Fatalf("want an error naming layer d and both shapes, got %v", err)
	}
}

func TestUnsupportedListsEveryLayer(t *testing.T) {
	cfg := `{"module": "keras", "class_name": "Functional", "config": {"name": "m", "layers": [
	 {"module": "keras.layers", "class_name": "InputLayer", "name": "x", "config": {"name": "x", "batch_shape": [null, 4]}, "inbound_nodes": []},
	 {"module": "my_package", "class_name": "Dense", "registered_name": "Custom>Dense", "name": "fake", "config": {"name": "fake", "units": 2},
	  "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["x", 0, 0]}}], "kwargs": {}}]},
	 {"module": "keras.layers", "class_name": "Lambda", "name": "lam", "config": {"name": "lam"},
	  "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["fake", 0, 0]}}], "kwargs": {}}]},
	 {"module": "keras.layers", "class_name": "ConvLSTM2D", "name": "att", "config": {"name": "att"},
	  "inbound_nodes": [{"args": [[{"class_name": "__keras_tensor__", "config": {"keras_history": ["lam", 0, 0]}}]], "kwargs": {}}]}],
	 "input_layers": ["x", 0, 0], "output_layers": ["att", 0, 0]}}`
	_, err := ImportConfig([]byte(cfg), Options{})
	var ue *UnsupportedError
	if !errors.As(err, &ue) || len(ue.Layers) != 3 {
		t.Fatalf("want 3 unsupported layers in one error, got %v", err)
	}
	for _, s := range []string{"fake (Dense): custom class", "lam (Lambda)", "att (ConvLSTM2D)"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error lacks %q: %v", s, err)
		}
	}
}

// TestConfigOnly: an architecture without weights imports with no
// parameters; Keras 1 field names are read.
func TestConfigOnlyKeras1(t *testing.T) {
	cfg := `{"class_name": "Sequential", "config": [
	 {"class_name": "Convolution2D", "config": {"name": "c", "nb_filter": 4, "nb_row": 3, "nb_col": 3, "border_mode": "same",
	   "subsample": [1, 1], "dim_ordering": "tf", "activation": "relu", "batch_input_shape": [null, 8, 8, 1]}},
	 {"class_name": "MaxPooling2D", "config": {"name": "p", "pool_size": [2, 2], "border_mode": "valid", "dim_ordering": "tf"}},
	 {"class_name": "Flatten", "config": {"name": "f"}},
	 {"class_name": "Dense", "config": {"name": "o", "output_dim": 3, "activation": "sigmoid"}}]}`
	g, err := ImportConfig([]byte(cfg), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if g.Meta["keras_weights"] != "none" || g.Inputs[0].Layout != ir.LayoutNHWC || !ir.SameShape(g.Inputs[0].Shape, []int{1, 8, 8}) {
		t.Errorf("meta %v inputs %v", g.Meta, g.Inputs)
	}
	if o, ok := g.Vertex("o").Layer.(*ir.Output); !ok || o.Loss != ir.LossXENT {
		t.Errorf("o: %+v", g.Vertex("o").Layer)
	}
}
