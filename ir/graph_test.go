package ir

import (
	"strings"
	"testing"
)

func smallCNN() *Graph {
	g := &Graph{Inputs: []Input{{Name: "x", Shape: []int{1, 8, 8}, Layout: LayoutNHWC}}}
	conv := &Conv{Rank: 2, Filters: 4, Kernel: []int{3, 3}, Padding: PadSame, Activation: Act(ActReLU)}
	g.Vertices = []*Vertex{
		{Name: "conv", Layer: conv, Inputs: []string{"x"}},
		{Name: "pool", Layer: &Pool{Rank: 2, Op: PoolMax, Kernel: []int{2, 2}}, Inputs: []string{"conv"}},
		{Name: "flat", Layer: &Flatten{}, Inputs: []string{"pool"}},
		{Name: "out", Layer: &Output{Units: 3, Activation: Act(ActSoftmax), Loss: LossMCXENT}, Inputs: []string{"flat"}},
	}
	g.Outputs = []GraphOutput{{Name: "out", Vertex: "out"}}
	shapes, _ := g.Shapes()
	for _, v := range g.Vertices {
		v.Params = map[string]*Tensor{}
		for _, p := range v.Layer.Params(v.InputShapes(shapes)) {
			v.Params[p.Name] = NewTensor(p.Shape...)
		}
	}
	return g
}

func TestShapesAndValidate(t *testing.T) {
	g := smallCNN()
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := g.Shapes()
	if err != nil {
		t.Fatal(err)
	}
	if !SameShape(s["pool"], []int{4, 4, 4}) || !SameShape(s["flat"], []int{64}) || !SameShape(s["out"], []int{3}) {
		t.Fatalf("shapes: %v", s)
	}
	if !SameShape(g.Vertex("conv").Params["W"].Shape, []int{4, 1, 3, 3}) {
		t.Fatal(g.Vertex("conv").Params["W"].Shape)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	g := smallCNN()
	g.Vertex("out").Params["W"] = NewTensor(10, 3)
	g.Vertex("conv").Params["b"] = NewTensor(5)
	g.Vertices = append(g.Vertices, &Vertex{Name: "dangling", Layer: &Flatten{}, Inputs: []string{"nope"}})
	err := g.Validate()
	if err == nil {
		t.Fatal("expected errors")
	}
	// unknown input is structural: reported before shape checks
	if !strings.Contains(err.Error(), "nope") {
		t.Fatal(err)
	}
	g.Vertices = g.Vertices[:len(g.Vertices)-1]
	probs := Problems(g.Validate())
	if len(probs) != 2 {
		t.Fatalf("want 2 problems, got %v", probs)
	}
}

func TestCloneIsDeep(t *testing.T) {
	g := smallCNN()
	c := g.Clone()
	c.Vertex("conv").Params["W"].Data[0] = 42
	c.Vertex("conv").Layer.(*Conv).Filters = 9
	c.Vertex("conv").Inputs[0] = "y"
	if g.Vertex("conv").Params["W"].Data[0] == 42 || g.Vertex("conv").Layer.(*Conv).Filters != 4 || g.Vertex("conv").Inputs[0] != "x" {
		t.Fatal("clone shares state with the source")
	}
}

func TestLayerJSONRoundTripEveryKind(t *testing.T) {
	for _, k := range Kinds() {
		l, err := NewLayer(k)
		if err != nil {
			t.Fatal(err)
		}
		if b, ok := l.(*Bidirectional); ok {
			b.Layer = &LSTM{Units: 3, ReturnSequences: true}
		}
		c := CloneLayer(l)
		if c.Kind() != k {
			t.Fatalf("%s came back as %s", k, c.Kind())
		}
	}
}

func TestSpatialOut(t *testing.T) {
	cases := []struct {
		in, k, s int
		p        Padding
		ceil     bool
		want     int
	}{
		{224, 3, 1, PadSame, false, 224}, {224, 3, 2, PadSame, false, 112}, {7, 3, 2, PadValid, false, 3},
		{6, 3, 2, PadValid, true, 3}, {5, 2, 2, PadValid, true, 3}, {10, 3, 1, PadCausal, false, 10},
	}
	for _, c := range cases {
		got, err := SpatialOut("t", []int{c.in}, []int{c.k}, []int{c.s}, nil, c.p, nil, c.ceil)
		if err != nil || got[0] != c.want {
			t.Errorf("%+v: got %v %v", c, got, err)
		}
	}
	if _, err := SpatialOut("t", []int{2}, []int{5}, nil, nil, PadValid, nil, false); err == nil {
		t.Error("kernel larger than input must fail")
	}
}

func TestLossWeight(t *testing.T) {
	o := &Output{Units: 2, Activation: Act(ActSoftmax), Loss: LossMCXENT}
	if LossWeightOf(o) != 1 || LossWeightOf(&Dense{Units: 2}) != 0 {
		t.Fatal("default loss weights")
	}
	if !SetLossWeight(o, 0.25) || LossWeightOf(o) != 0.25 || !SetLossWeight(o, 1) || o.LossWeight != 0 {
		t.Fatalf("SetLossWeight: %+v", o)
	}
	o.LossWeight = -1
	if _, err := o.OutputShape([][]int{{3}}); err == nil {
		t.Fatal("a negative loss weight validates")
	}
}
