package modelio_test

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	kexp "github.com/retarget-dev/retarget/exporters/keras"
	exponnx "github.com/retarget-dev/retarget/exporters/onnx"
	"github.com/retarget-dev/retarget/internal/numtest"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/modelio"
	"github.com/retarget-dev/retarget/nn"
	"github.com/retarget-dev/retarget/zoo"
)

// matrixSource is a model every conversion chain starts from.
type matrixSource struct {
	name string
	load func(t *testing.T) *ir.Graph
	// noKeras says why the model cannot be written as Keras: every chain
	// through .h5 must then fail with the exporter's listing error.
	noKeras string
}

func loadFile(path string) func(t *testing.T) *ir.Graph {
	return func(t *testing.T) *ir.Graph {
		t.Helper()
		if _, err := os.Stat(path); err != nil {
			t.Skipf("%s not found: %v", path, err)
		}
		g, err := modelio.Load(path, modelio.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
}

func matrixSources() []matrixSource {
	return []matrixSource{
		{"onnx-cnn", loadFile("../testdata/onnx/cnn_op13.onnx"), ""},
		{"onnx-lstm", loadFile("../testdata/onnx/lstm_op13.onnx"), ""},
		{"keras-real-cnn", loadFile("../../shared/fixtures/keras-real/fullconfigs/cnn/cnn_batch_norm.h5"), ""},
		{"keras-real-lstm", loadFile("../../shared/fixtures/keras-real/examples/functional_lstm/lstm_functional_tf_keras_2.h5"), ""},
		{name: "onnx-shapes", load: loadFile("../testdata/onnx/shapes_op11.onnx"),
			noKeras: "Slice, reflect padding and constant padding with 0.5 have no Keras layer"},
		{"zoo-lenet", func(t *testing.T) *ir.Graph {
			g, err := zoo.LeNet(zoo.Options{IncludeTop: true, InputShape: []int{16, 16, 1}, Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range g.Vertices { // non-zero biases
				if b := v.Params["b"]; b != nil {
					for i := range b.Data {
						b.Data[i] = 0.05 * float32(i%5-2)
					}
				}
			}
			return g
		}, ""},
	}
}

var matrixExts = []string{".onnx", ".h5", ".rtm"}

// TestConversionMatrix converts each source through every chain A -> B -> C
// of the three formats and requires the predictions of the last graph to
// equal the source's (< 1e-5) and the names of the vertices with
// parameters to survive (as Keras spells them after a Keras hop).
func TestConversionMatrix(t *testing.T) {
	for _, src := range matrixSources() {
		t.Run(src.name, func(t *testing.T) {
			g0 := src.load(t)
			x := matrixInput(g0, 3, 11)
			want := matrixPredict(t, g0, x, g0)
			if numtest.MaxAbsDiff(want, make([]float32, len(want))) == 0 || allSame(want) {
				t.Fatal("the source's predictions are constant: the comparison would prove nothing")
			}
			dir := t.TempDir()
			var report []string
			for _, a := range matrixExts {
				for _, b := range matrixExts {
					for _, c := range matrixExts {
						chain := a + ">" + b + ">" + c
						g := g0
						var err error
						viaKeras := false
						for i, ext := range []string{a, b, c} {
							p := filepath.Join(dir, fmt.Sprintf("%s_%d%s", strings.ReplaceAll(chain, ">", "_"), i, ext))
							if err = modelio.Save(p, g, modelio.SaveOptions{}); err != nil {
								break
							}
							viaKeras = viaKeras || ext == ".h5"
							if g, err = modelio.Load(p, modelio.LoadOptions{}); err != nil {
								break
							}
						}
						throughKeras := strings.Contains(chain, ".h5")
						if err == nil && src.noKeras != "" && throughKeras {
							t.Errorf("%s: converted a model Keras cannot hold (%s)", chain, src.noKeras)
						}
						if err != nil {
							if src.noKeras == "" || !throughKeras {
								t.Errorf("%s: %v", chain, err)
							} else if !isListingError(err) {
								t.Errorf("%s: failed without a typed listing error: %v", chain, err)
							}
							report = append(report, fmt.Sprintf("%s: cannot work: %v", chain, firstLine(err)))
							continue
						}
						got := matrixPredict(t, g, x, g0)
						d := numtest.MaxAbsDiff(want, got)
						if d > 1e-5 {
							t.Errorf("%s: predictions differ by %g", chain, d)
						}
						for _, v := range g0.Vertices {
							if len(v.Params) == 0 {
								continue
							}
							n := v.Name
							if viaKeras {
								n = kexp.LayerName(n)
							}
							if g.Vertex(n) == nil {
								t.Errorf("%s: vertex %q (%s) lost its name", chain, v.Name, n)
							}
						}
						report = append(report, fmt.Sprintf("%s: ok, max diff %.2g", chain, d))
					}
				}
			}
			t.Log("\n" + strings.Join(report, "\n"))
		})
	}
}

// isListingError reports the typed errors exporters use to list every
// vertex they cannot write.
func isListingError(err error) bool {
	var ke *kexp.UnsupportedError
	var oe *exponnx.ExportError
	var oe1 *exponnx.Error
	return errors.As(err, &ke) || errors.As(err, &oe) || errors.As(err, &oe1)
}

func allSame(x []float32) bool {
	for _, v := range x {
		if v != x[0] {
			return false
		}
	}
	return true
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.Index(s, "\n"); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// matrixInput is a random batch laid out as g's first input takes it.
func matrixInput(g *ir.Graph, n int, seed int64) *ir.Tensor {
	in := g.Inputs[0]
	shape := append([]int{n}, in.Shape...)
	if in.Layout == ir.LayoutNHWC && len(in.Shape) == 3 {
		shape = []int{n, in.Shape[1], in.Shape[2], in.Shape[0]}
	}
	for i, d := range shape {
		if d < 0 {
			shape[i] = 5
		}
	}
	x := ir.NewTensor(shape...)
	r := rand.New(rand.NewSource(seed))
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	return x
}

// matrixPredict feeds x (laid out for g0's input) to g, converting between
// NHWC and NCHW when g's input takes the other layout.
func matrixPredict(t *testing.T, g *ir.Graph, x *ir.Tensor, g0 *ir.Graph) []float32 {
	t.Helper()
	l0, l := g0.Inputs[0].Layout, g.Inputs[0].Layout
	cl0 := l0 == ir.LayoutNHWC
	cl := l == ir.LayoutNHWC
	if len(x.Shape) == 4 && cl0 != cl {
		x = transpose4(x, cl0)
	}
	net, err := nn.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	ys, err := modelio.Predict(net, []*ir.Tensor{x}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ys[0].Data
}

// transpose4 turns NHWC into NCHW (fromCL) or back.
func transpose4(x *ir.Tensor, fromCL bool) *ir.Tensor {
	n := x.Shape[0]
	if fromCL {
		h, w, c := x.Shape[1], x.Shape[2], x.Shape[3]
		out := ir.NewTensor(n, c, h, w)
		for b := 0; b < n; b++ {
			for i := 0; i < h; i++ {
				for j := 0; j < w; j++ {
					for k := 0; k < c; k++ {
						out.Data[((b*c+k)*h+i)*w+j] = x.Data[((b*h+i)*w+j)*c+k]
					}
				}
			}
		}
		return out
	}
	c, h, w := x.Shape[1], x.Shape[2], x.Shape[3]
	out := ir.NewTensor(n, h, w, c)
	for b := 0; b < n; b++ {
		for k := 0; k < c; k++ {
			for i := 0; i < h; i++ {
				for j := 0; j < w; j++ {
					out.Data[((b*h+i)*w+j)*c+k] = x.Data[((b*c+k)*h+i)*w+j]
				}
			}
		}
	}
	return out
}
