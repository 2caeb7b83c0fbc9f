package nn

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// Fixtures written by testdata/gen/nn_torch_fixtures.py (PyTorch, float64).

type coreFixTensor struct {
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

func (t coreFixTensor) tensor() *ir.Tensor {
	out := ir.NewTensor(t.Shape...)
	for i, v := range t.Data {
		out.Data[i] = float32(v)
	}
	return out
}

func coreLoadFixture(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile("../testdata/nn/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func coreClose(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*(1+math.Abs(want))
}

func TestTorchLayerFixtures(t *testing.T) {
	var f struct {
		Cases []struct {
			Name        string                   `json:"name"`
			Layer       json.RawMessage          `json:"layer"`
			Input       coreFixTensor            `json:"input"`
			Inputs      []coreFixTensor          `json:"inputs"` // layers with several inputs
			Output      coreFixTensor            `json:"output"`
			Params      map[string]coreFixTensor `json:"params"`
			ParamsAfter map[string]coreFixTensor `json:"params_after"`
			Train       bool                     `json:"train"`
		} `json:"cases"`
	}
	coreLoadFixture(t, "core_layers.json", &f)
	if len(f.Cases) < 30 {
		t.Fatalf("only %d cases", len(f.Cases))
	}
	covered := map[string]bool{}
	for _, c := range f.Cases {
		t.Run(c.Name, func(t *testing.T) {
			l, err := ir.UnmarshalLayer(c.Layer)
			if err != nil {
				t.Fatal(err)
			}
			covered[l.Kind()] = true
			inputs := c.Inputs
			if len(inputs) == 0 {
				inputs = []coreFixTensor{c.Input}
			}
			g := coreFixtureGraph(c.Name, l, inputs)
			g.Vertices[0].Params = map[string]*ir.Tensor{}
			for k, p := range c.Params {
				g.Vertices[0].Params[k] = p.tensor()
			}
			given := map[string]*ir.Tensor{}
			for k, p := range g.Vertices[0].Params {
				given[k] = p
			}
			if err := InitGraph(g, ir.InitZeros, 1); err != nil { // parameters the fixture leaves out
				t.Fatal(err)
			}
			for k, p := range given {
				if g.Vertices[0].Params[k] != p {
					t.Fatalf("fixture parameter %q has the wrong shape %v", k, p.Shape)
				}
			}
			net, err := Compile(g)
			if err != nil {
				t.Fatal(err)
			}
			xs := make([]*Mat[float32], len(inputs))
			for i, in := range inputs {
				xs[i] = MatFromTensor[float32](in.tensor())
			}
			out, err := net.Forward(xs, c.Train)
			if err != nil {
				t.Fatal(err)
			}
			y := out[0]
			if !ir.SameShape(y.Shape, c.Output.Shape) {
				t.Fatalf("shape %v, torch %v", y.Shape, c.Output.Shape)
			}
			if len(y.Data) != len(c.Output.Data) {
				t.Fatalf("%d values, torch %d", len(y.Data), len(c.Output.Data))
			}
			worst := 0.0 // largest |got-want|/(1+|want|), logged for -v
			for i, w := range c.Output.Data {
				if !coreClose(float64(y.Data[i]), w, 2e-5) {
					t.Fatalf("output[%d] = %v, torch %v", i, y.Data[i], w)
				}
				worst = max(worst, math.Abs(float64(y.Data[i])-w)/(1+math.Abs(w)))
			}
			t.Logf("max scaled difference %.2g", worst)
			for k, p := range c.ParamsAfter {
				got := g.Vertices[0].Params[k]
				for i, w := range p.Data {
					if !coreClose(float64(got.Data[i]), w, 2e-5) {
						t.Fatalf("%s[%d] after the step = %v, torch %v", k, i, got.Data[i], w)
					}
				}
			}
		})
	}
	for _, k := range coreFixtureKinds {
		if !covered[k] {
			t.Errorf("no torch fixture for layer kind %s", k)
		}
	}
}

// coreFixtureKinds must each have at least one case in core_layers.json.
var coreFixtureKinds = []string{
	"Conv1D", "Conv2D", "ConvTranspose2D", "SeparableConv2D", "MaxPool1D", "MaxPool2D", "AvgPool1D", "AvgPool2D",
	"GlobalMaxPool1D", "GlobalAvgPool1D", "GlobalMaxPool2D", "GlobalAvgPool2D", "BatchNorm", "LayerNorm",
	"UpSampling", "Activation", "Dense", "Output", "RnnOutput", "Merge", "Concat", "PReLU", "Rescaling", "Unary",
	"Flatten", "Reshape", "Permute", "Pad", "Cropping", "Slice", "DepthToSpace", "SpaceToDepth", "Reduce",
}

// coreFixtureGraph is one vertex "l0" fed by graph inputs "input"
// (one input) or "in0", "in1", ... (several), shapes from the fixture
// tensors without their batch axis.
func coreFixtureGraph(name string, l ir.Layer, inputs []coreFixTensor) *ir.Graph {
	if len(inputs) == 1 {
		return Sequential(name, inputs[0].Shape[1:], l)
	}
	v := &ir.Vertex{Name: "l0", Layer: l}
	g := &ir.Graph{Name: name, Vertices: []*ir.Vertex{v}, Outputs: []ir.GraphOutput{{Name: "l0", Vertex: "l0"}}}
	for i, in := range inputs {
		n := fmt.Sprintf("in%d", i)
		g.Inputs = append(g.Inputs, ir.Input{Name: n, Shape: append([]int(nil), in.Shape[1:]...)})
		v.Inputs = append(v.Inputs, n)
	}
	return g
}

func TestTorchLossFixtures(t *testing.T) {
	var f struct {
		Cases []struct {
			Name       string        `json:"name"`
			Loss       ir.Loss       `json:"loss"`
			Activation ir.Activation `json:"activation"`
			FromLogits bool          `json:"from_logits"`
			Z          coreFixTensor `json:"z"`
			Labels     coreFixTensor `json:"labels"`
			Value      float64       `json:"value"`
		} `json:"cases"`
	}
	coreLoadFixture(t, "core_losses.json", &f)
	covered := map[ir.Loss]bool{}
	for _, c := range f.Cases {
		covered[c.Loss] = true
		t.Run(c.Name, func(t *testing.T) {
			z := MatFromTensor[float64](c.Z.tensor())
			act, err := newActivation[float64](c.Activation)
			if err != nil {
				t.Fatal(err)
			}
			y := NewMat[float64](z.Shape...)
			act.forward(z.Data, y.Data, z.Shape)
			got, err := ComputeLoss(LossSpec{Loss: c.Loss, Activation: c.Activation, FromLogits: c.FromLogits}, z, y, MatFromTensor[float64](c.Labels.tensor()), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !coreClose(got, c.Value, 1e-6) {
				t.Fatalf("loss %v, torch %v", got, c.Value)
			}
		})
	}
	for _, l := range ir.KnownLosses {
		if !covered[l] {
			t.Errorf("no torch fixture for loss %s", l)
		}
	}
}
