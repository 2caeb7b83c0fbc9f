package keras_test

import (
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	kexp "github.com/retarget-dev/retarget/exporters/keras"
	kimp "github.com/retarget-dev/retarget/importers/keras"
	"github.com/retarget-dev/retarget/importers/onnx"
	"github.com/retarget-dev/retarget/internal/numtest"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// predict runs g on a batch of n random examples (seeded) fed as g's
// first input expects them.
func predict(t *testing.T, g *ir.Graph, n int, seed int64) []float32 {
	t.Helper()
	net, err := nn.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	in := g.Inputs[0]
	shape := append([]int{n}, in.Shape...)
	if in.Layout == ir.LayoutNHWC {
		shape = []int{n, in.Shape[1], in.Shape[2], in.Shape[0]}
	}
	for i, d := range shape {
		if d < 0 {
			shape[i] = 6 // a free sequence length
		}
	}
	x := ir.NewTensor(shape...)
	r := rand.New(rand.NewSource(seed))
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	ys, err := net.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	return ys[0].Data
}

// TestONNXToKeras converts PyTorch-exported ONNX fixtures to Keras HDF5,
// reads the file back with the Keras importer and requires the same
// predictions as the ONNX import.
func TestONNXToKeras(t *testing.T) {
	for _, name := range []string{"cnn_op13", "cnn_op11", "mlp_softmax_op11", "mlp_static_op17", "lstm_op13", "gru_bi_op17", "rnn_bi_op13", "embed_lstm_op13"} {
		t.Run(name, func(t *testing.T) {
			g, err := onnx.Import(filepath.Join("..", "..", "testdata", "onnx", name+".onnx"), onnx.Options{})
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), name+".h5")
			if err := kexp.Export(out, g); err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(out)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o644 {
				t.Errorf("file mode %v, want 0644", st.Mode().Perm())
			}
			back, err := kimp.Import(out, kimp.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if name == "embed_lstm_op13" {
				return // integer indices: random normal inputs are not valid; the import is the check
			}
			want := predict(t, g, 3, 7)
			got := predict(t, back, 3, 7)
			d := numtest.MaxAbsDiff(want, got)
			t.Logf("max |onnx - keras| = %.3g over %d values", d, len(want))
			if d > 1e-5 {
				t.Fatalf("predictions differ by %g", d)
			}
			// every ONNX vertex name with parameters survives, as Keras spells it
			for _, v := range g.Vertices {
				if len(v.Params) > 0 && back.Vertex(kexp.LayerName(v.Name)) == nil {
					t.Errorf("vertex %q lost its name", v.Name)
				}
			}
		})
	}
}

// explicit-padding graph: every way the exporter writes padding.
func paddedGraph(t *testing.T, reluFirst bool, seed int64) *ir.Graph {
	t.Helper()
	g := &ir.Graph{Inputs: []ir.Input{{Name: "x", Shape: []int{2, 11, 9}}}}
	add := func(name string, l ir.Layer, in string) string {
		g.Vertices = append(g.Vertices, &ir.Vertex{Name: name, Layer: l, Inputs: []string{in}})
		return name
	}
	x := add("same_conv", &ir.Conv{Rank: 2, Filters: 3, Kernel: []int{3, 3}, Padding: ir.PadExplicit, Pads: []int{1, 1, 1, 1}}, "x")
	x = add("asym_conv", &ir.Conv{Rank: 2, Filters: 4, Kernel: []int{3, 2}, Strides: []int{2, 1}, Padding: ir.PadExplicit, Pads: []int{0, 2, 1, 0}}, x)
	if reluFirst {
		x = add("relu", &ir.ActivationLayer{Activation: ir.Act(ir.ActReLU)}, x)
	}
	x = add("ceil_pool", &ir.Pool{Rank: 2, Op: ir.PoolMax, Kernel: []int{2, 2}, Strides: []int{2, 2}, CeilMode: true}, x)
	x = add("avg_pool", &ir.Pool{Rank: 2, Op: ir.PoolAvg, Kernel: []int{3, 3}, Strides: []int{1, 1}, Padding: ir.PadExplicit, Pads: []int{1, 1, 1, 1}, CountIncludePad: true}, x)
	x = add("flatten", &ir.Flatten{}, x)
	x = add("out", &ir.Output{Units: 3, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, x)
	g.Outputs = []ir.GraphOutput{{Name: x, Vertex: x}}
	if err := nn.InitGraph(g, ir.InitXavierUniform, seed); err != nil {
		t.Fatal(err)
	}
	for _, v := range g.Vertices {
		if b := v.Params["b"]; b != nil {
			for i := range b.Data {
				b.Data[i] = 0.1 * float32(i%3-1)
			}
		}
	}
	return g
}

func TestExplicitPaddingAndCeilPool(t *testing.T) {
	g := paddedGraph(t, true, 4)
	out := filepath.Join(t.TempDir(), "pad.h5")
	if err := kexp.Export(out, g); err != nil {
		t.Fatal(err)
	}
	back, err := kimp.Import(out, kimp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// symmetric 1-pixel padding of a 3x3 stride-1 kernel is Keras "same"
	if back.Vertex("same_conv_pad") != nil {
		t.Error("same_conv got a ZeroPadding layer; it is Keras same padding")
	}
	for _, n := range []string{"asym_conv_pad", "ceil_pool_pad", "avg_pool_pad"} {
		if v := back.Vertex(n); v == nil {
			t.Errorf("no %s vertex", n)
		} else if _, ok := v.Layer.(*ir.Pad); !ok {
			t.Errorf("%s is a %s", n, v.Layer.Kind())
		}
	}
	d := numtest.MaxAbsDiff(predict(t, g, 4, 1), predict(t, back, 4, 1))
	t.Logf("max |ir - keras| = %.3g", d)
	if d > 1e-5 {
		t.Fatalf("predictions differ by %g", d)
	}

	// without the ReLU, zero padding is not -inf padding: refused, naming why
	err = kexp.Export(filepath.Join(t.TempDir(), "neg.h5"), paddedGraph(t, false, 4))
	var ue *kexp.UnsupportedError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "ceil_pool") || !strings.Contains(err.Error(), "non-negative") {
		t.Fatalf("want an UnsupportedError about ceil_pool's input, got %v", err)
	}
}

func TestDivideRefused(t *testing.T) {
	g := &ir.Graph{Inputs: []ir.Input{{Name: "a", Shape: []int{4}}, {Name: "b", Shape: []int{4}}},
		Vertices: []*ir.Vertex{{Name: "div", Layer: &ir.Merge{Op: ir.MergeDivide}, Inputs: []string{"a", "b"}}},
		Outputs:  []ir.GraphOutput{{Name: "div", Vertex: "div"}}}
	err := kexp.Export(filepath.Join(t.TempDir(), "d.h5"), g)
	var ue *kexp.UnsupportedError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "div") {
		t.Fatalf("got %v", err)
	}
}
