package keras

import (
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// TestLambdaRefused: models with Lambda layers fail with one error listing
// every Lambda, never running the marshalled code.
func TestLambdaRefused(t *testing.T) {
	dir := filepath.Join(needReal(t), "examples", "lambda")
	for file, want := range map[string][]string{
		"model_lambda.h5":      {"lambda_3", "lambda_4"},
		"sequential_lambda.h5": {"lambda_1", "lambda_2"},
	} {
		_, err := Import(filepath.Join(dir, file), Options{})
		var ue *UnsupportedError
		if !errors.As(err, &ue) {
			t.Fatalf("%s: want an UnsupportedError, got %v", file, err)
		}
		if len(ue.Layers) != len(want) {
			t.Errorf("%s: listed %v, want %v", file, ue.Layers, want)
		}
		for _, n := range want {
			if !strings.Contains(err.Error(), n+" (Lambda)") {
				t.Errorf("%s: error does not name %s: %v", file, n, err)
			}
		}
		if !strings.Contains(err.Error(), "hint:") || !strings.Contains(err.Error(), file) {
			t.Errorf("%s: error lacks the file or the hint: %v", file, err)
		}
	}
}

// TestRealWeightFiles imports every model under weights/ (Keras 1 and 2,
// TensorFlow and Theano): every weight must land with the shape the layer
// needs, and the graph must run to finite outputs. These files have no
// Keras outputs to compare with (keras-attention.h5 is compared in
// TestRealKerasAttention); the unsupported ones (space_to_depth's Lambda)
// must fail listing the layer.
func TestRealWeightFiles(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(needReal(t), "weights", "*"))
	imported := 0
	for _, f := range files {
		name := filepath.Base(f)
		g, err := Import(f, Options{})
		if err != nil {
			var ue *UnsupportedError
			if errors.As(err, &ue) && strings.Contains(name, "space_to_depth") {
				continue
			}
			t.Errorf("%s: %v", name, err)
			continue
		}
		imported++
		if err := g.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		n := 0
		for _, v := range g.Vertices {
			n += v.ParamCount()
		}
		if n == 0 {
			t.Errorf("%s: no parameters imported", name)
		}
		net, err := nn.Compile(g)
		if err != nil {
			t.Logf("%s: not run: %v", name, err)
			continue
		}
		ys, err := net.Predict(testInputs(g)...)
		if err != nil {
			t.Errorf("%s: predict: %v", name, err)
			continue
		}
		for _, y := range ys {
			for _, v := range y.Data {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Errorf("%s: non-finite output", name)
					break
				}
			}
		}
	}
	if imported < 40 {
		t.Errorf("only %d weight files imported", imported)
	}
}

func testInputs(g *ir.Graph) []*ir.Tensor {
	var out []*ir.Tensor
	for _, in := range g.Inputs {
		shape := append([]int(nil), in.Shape...)
		for i, d := range shape {
			if d < 0 {
				shape[i] = 3
			}
		}
		if in.Layout != "" {
			shape = append(shape[1:], shape[0])
		}
		x := ir.NewTensor(append([]int{2}, shape...)...)
		emb := false
		for _, v := range g.Consumers(in.Name) {
			_, emb = v.Layer.(*ir.Embedding)
		}
		for i := range x.Data {
			if emb {
				x.Data[i] = float32(i % 3)
			} else {
				x.Data[i] = float32(math.Sin(float64(i)))
			}
		}
		out = append(out, x)
	}
	return out
}

// TestTheanoKernelsFlipped: the Theano and TensorFlow variants of a
// Keras 2 convolution read the same stored kernel, flipped for Theano.
func TestTheanoKernelsFlipped(t *testing.T) {
	dir := filepath.Join(needReal(t), "weights")
	g, err := Import(filepath.Join(dir, "conv2d_theano_2.h5"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	g2, err := Import(filepath.Join(dir, "conv2d_theano_2.h5"), Options{Backend: "tensorflow"})
	if err != nil {
		t.Fatal(err)
	}
	a, b := g.Vertex("conv2d_1").Params["W"], g2.Vertex("conv2d_1").Params["W"]
	// W [6, 5, 3, 3]: element (o, i, y, x) of one is (o, i, 2-y, 2-x) of the other
	for o := 0; o < 6; o++ {
		for i := 0; i < 5; i++ {
			for y := 0; y < 3; y++ {
				for x := 0; x < 3; x++ {
					if a.Data[((o*5+i)*3+y)*3+x] != b.Data[((o*5+i)*3+2-y)*3+2-x] {
						t.Fatalf("kernel not flipped at %d %d %d %d", o, i, y, x)
					}
				}
			}
		}
	}
	if g.Meta["keras_backend"] != "theano" {
		t.Errorf("backend meta %q", g.Meta["keras_backend"])
	}
}
