package retarget

import (
	"math"
	"math/rand"
	"reflect"
	"testing"

	"github.com/retarget-dev/retarget/internal/numtest"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// graphOf builds a graph and initialises its parameters with a seed.
func graphOf(t testing.TB, inputs []ir.Input, vs []*ir.Vertex, outs ...string) *ir.Graph {
	t.Helper()
	g := &ir.Graph{Inputs: inputs, Vertices: vs}
	for _, o := range outs {
		g.Outputs = append(g.Outputs, ir.GraphOutput{Name: o, Vertex: o})
	}
	if err := nn.InitGraph(g, ir.InitXavierUniform, 7); err != nil {
		t.Fatal(err)
	}
	// non-zero biases so that tests see them
	r := rand.New(rand.NewSource(3))
	for _, v := range g.Vertices {
		for _, k := range v.ParamNames() {
			if k == "b" || k == "fw/b" || k == "bw/b" {
				for i := range v.Params[k].Data {
					v.Params[k].Data[i] = float32(r.NormFloat64() * 0.1)
				}
			}
		}
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	return g
}

func vx(name string, l ir.Layer, inputs ...string) *ir.Vertex {
	return &ir.Vertex{Name: name, Layer: l, Inputs: inputs}
}

func randTensor(seed int64, shape ...int) *ir.Tensor {
	r := rand.New(rand.NewSource(seed))
	t := ir.NewTensor(shape...)
	for i := range t.Data {
		t.Data[i] = float32(r.NormFloat64())
	}
	return t
}

func predict(t testing.TB, g *ir.Graph, x ...*ir.Tensor) []*ir.Tensor {
	t.Helper()
	net, err := nn.Compile(g.Clone())
	if err != nil {
		t.Fatal(err)
	}
	out, err := net.Predict(x...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func maxDiff(a, b *ir.Tensor) float64 {
	if !ir.SameShape(a.Shape, b.Shape) {
		return math.Inf(1)
	}
	return numtest.MaxAbsDiff(a.Data, b.Data)
}

func mustBuild(t testing.TB, b *Builder) *ir.Graph {
	t.Helper()
	g, notes, err := b.BuildNotes()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range notes {
		t.Log("note:", n)
	}
	return g
}

// sameGraph deep-compares two graphs, layers by their JSON form.
func sameGraph(t testing.TB, a, b *ir.Graph) bool {
	t.Helper()
	if len(a.Vertices) != len(b.Vertices) {
		return false
	}
	for i := range a.Vertices {
		va, vb := a.Vertices[i], b.Vertices[i]
		la, _ := ir.MarshalLayer(va.Layer)
		lb, _ := ir.MarshalLayer(vb.Layer)
		if string(la) != string(lb) || va.Name != vb.Name || va.Frozen != vb.Frozen ||
			!reflect.DeepEqual(va.Inputs, vb.Inputs) || !reflect.DeepEqual(va.Train, vb.Train) ||
			!reflect.DeepEqual(va.Params, vb.Params) || !reflect.DeepEqual(va.State, vb.State) {
			t.Logf("vertex %d differs: %s / %s", i, va.Name, vb.Name)
			return false
		}
	}
	return reflect.DeepEqual(a.Inputs, b.Inputs) && reflect.DeepEqual(a.Outputs, b.Outputs) &&
		reflect.DeepEqual(a.Train, b.Train) && a.Step == b.Step && reflect.DeepEqual(a.Meta, b.Meta)
}
