package modelio

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

func denseGraph(t *testing.T) *ir.Graph {
	t.Helper()
	g := &ir.Graph{
		Inputs: []ir.Input{{Name: "x", Shape: []int{3}}},
		Vertices: []*ir.Vertex{
			{Name: "h", Layer: &ir.Dense{Units: 4, Activation: ir.Act(ir.ActReLU)}, Inputs: []string{"x"}, Frozen: true},
			{Name: "out", Layer: &ir.Output{Units: 2, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, Inputs: []string{"h"}},
		},
		Outputs: []ir.GraphOutput{{Name: "probs", Vertex: "out"}},
	}
	if err := nn.InitGraph(g, ir.InitXavierUniform, 3); err != nil {
		t.Fatal(err)
	}
	return g
}

func TestSaveLoadNative(t *testing.T) {
	g := denseGraph(t)
	path := filepath.Join(t.TempDir(), "m.RTM") // extensions are case-insensitive
	if err := Save(path, g, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Vertex("out").Params["W"].Equal(g.Vertex("out").Params["W"]) || !got.Vertex("h").Frozen {
		t.Fatal("round trip changed the graph")
	}
	if _, err := Load(path, LoadOptions{Weights: path}); err == nil || !strings.Contains(err.Error(), "holds its weights") {
		t.Fatalf("--weights with .rtm: %v", err)
	}
}

func TestUnknownExtension(t *testing.T) {
	for _, p := range []string{"m.onnx.bak", "m", "m.h5x"} {
		_, err := Load(p, LoadOptions{})
		var fe *FormatError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), ".rtm") {
			t.Errorf("%s: %v", p, err)
		}
		err = Save(p, denseGraph(t), SaveOptions{})
		if !errors.As(err, &fe) || !fe.Write {
			t.Errorf("save %s: %v", p, err)
		}
	}
}

func TestSameFileRefused(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "m.rtm")
	g := denseGraph(t)
	if err := Save(in, g, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.rtm")
	os.Symlink(in, link)
	for _, out := range []string{in, filepath.Join(dir, ".", "m.rtm"), link} {
		if err := Save(out, g, SaveOptions{Input: in}); !errors.Is(err, ErrSameFile) {
			t.Errorf("%s: %v", out, err)
		}
	}
	if err := Save(in, g, SaveOptions{Input: in, Force: true}); err != nil {
		t.Fatal(err)
	}
	if err := Save(filepath.Join(dir, "other.rtm"), g, SaveOptions{Input: in}); err != nil {
		t.Fatal(err)
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("expected a panic")
		}
	}()
	Register(Format{Name: "dup", Extensions: []string{".RTM"}})
}

func TestSummarize(t *testing.T) {
	g := &ir.Graph{Inputs: []ir.Input{{Name: "img", Shape: []int{1, 8, 6}, Layout: ir.LayoutNHWC}, {Name: "seq", Shape: []int{-1, 5}}}}
	add := func(name string, l ir.Layer, frozen bool, in ...string) {
		g.Vertices = append(g.Vertices, &ir.Vertex{Name: name, Layer: l, Inputs: in, Frozen: frozen})
	}
	add("conv", &ir.Conv{Rank: 2, Filters: 4, Kernel: []int{3, 3}, Padding: ir.PadSame}, true, "img")
	add("bn", &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.9}, false, "conv")
	add("map", &ir.Conv{Rank: 2, Filters: 2, Kernel: []int{1, 1}}, false, "bn")
	add("rnn", &ir.SimpleRNN{Units: 3, ReturnSequences: true}, false, "seq")
	g.Outputs = []ir.GraphOutput{{Name: "map", Vertex: "map", Layout: ir.LayoutNHWC}, {Name: "rnn", Vertex: "rnn"}}
	shapes, _ := g.Shapes()
	for _, v := range g.Vertices {
		v.Params = map[string]*ir.Tensor{}
		for _, p := range v.Layer.Params(v.InputShapes(shapes)) {
			v.Params[p.Name] = ir.NewTensor(p.Shape...)
		}
	}
	s, err := Summarize(g)
	if err != nil {
		t.Fatal(err)
	}
	want := &Summary{
		Inputs:  []TensorInfo{{"img", []int{-1, 8, 6, 1}, "NHWC"}, {"seq", []int{-1, -1, 5}, ""}},
		Outputs: []TensorInfo{{"map", []int{-1, 8, 6, 2}, "NHWC"}, {"rnn", []int{-1, -1, 3}, ""}},
		Vertices: []VertexInfo{
			{"conv", "Conv2D", []string{"img"}, []int{-1, 4, 8, 6}, 4*9 + 4, true, ""},
			{"bn", "BatchNorm", []string{"conv"}, []int{-1, 4, 8, 6}, 16, false, ""},
			{"map", "Conv2D", []string{"bn"}, []int{-1, 2, 8, 6}, 4*2 + 2, false, ""},
			{"rnn", "SimpleRNN", []string{"seq"}, []int{-1, -1, 3}, 5*3 + 3*3 + 3, false, ""},
		},
		ParamsTotal:     40 + 16 + 10 + 27,
		ParamsTrainable: 8 + 10 + 27, // conv frozen, BatchNorm statistics fixed
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("got  %+v\nwant %+v", s, want)
	}
	var b strings.Builder
	if err := s.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"(?, 8, 6, 1)", "layout NHWC", "conv", "yes", "93 total, 45 trainable"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("table lacks %q:\n%s", w, b.String())
		}
	}
}

// Values without a batch axis, or with it elsewhere, show as they are.
func TestSummarizeGeneralOps(t *testing.T) {
	g := &ir.Graph{Inputs: []ir.Input{{Name: "x", Shape: []int{3}}, {Name: "w", Shape: []int{3, 2}, NoBatch: true}},
		Vertices: []*ir.Vertex{
			{Name: "xt", Layer: &ir.TensorTranspose{Perm: []int{1, 0}}, Inputs: []string{"x"}},
			{Name: "gram", Layer: &ir.TensorMatMul{}, Inputs: []string{"xt", "x"}},
			{Name: "y", Layer: &ir.TensorMatMul{}, Inputs: []string{"x", "w"}}},
		Outputs: []ir.GraphOutput{{Name: "gram", Vertex: "gram"}, {Name: "y", Vertex: "y"}}}
	s, err := Summarize(g)
	if err != nil {
		t.Fatal(err)
	}
	got := [][]int{s.Inputs[0].Shape, s.Inputs[1].Shape, s.Vertices[0].OutputShape, s.Outputs[0].Shape, s.Outputs[1].Shape}
	want := [][]int{{-1, 3}, {3, 2}, {3, -1}, {3, 3}, {-1, 2}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("shapes %v, want %v", got, want)
	}
}

func TestPredictChunksMatchOneCall(t *testing.T) {
	g := denseGraph(t)
	net, err := nn.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	x := ir.NewTensor(10, 3)
	for i := range x.Data {
		x.Data[i] = float32(i%7) - 3
	}
	whole, err := net.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	want := whole[0].Clone()
	var calls []int
	got, err := Predict(net, []*ir.Tensor{x}, 3, func(done, total int) { calls = append(calls, done) })
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(calls, []int{3, 6, 9, 10}) || !got[0].Equal(want) {
		t.Fatalf("calls %v, equal %v", calls, got[0].Equal(want))
	}
	// against a hand computation
	h, o := g.Vertex("h").Params, g.Vertex("out").Params
	for n := 0; n < 10; n++ {
		hid := make([]float64, 4)
		for j := range hid {
			s := float64(h["b"].Data[j])
			for i := 0; i < 3; i++ {
				s += float64(x.Data[n*3+i]) * float64(h["W"].Data[i*4+j])
			}
			hid[j] = math.Max(s, 0)
		}
		z := make([]float64, 2)
		for j := range z {
			z[j] = float64(o["b"].Data[j])
			for i := range hid {
				z[j] += hid[i] * float64(o["W"].Data[i*2+j])
			}
		}
		p0 := 1 / (1 + math.Exp(z[1]-z[0]))
		if math.Abs(float64(got[0].Data[n*2])-p0) > 1e-5 || math.Abs(float64(got[0].Data[n*2+1])-(1-p0)) > 1e-5 {
			t.Fatalf("example %d: %v, want %v", n, got[0].Data[n*2:n*2+2], []float64{p0, 1 - p0})
		}
	}
	if _, err := Predict(net, []*ir.Tensor{ir.NewTensor(0, 3)}, 3, nil); err == nil {
		t.Fatal("no examples must fail")
	}
}
