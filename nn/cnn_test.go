package nn

import (
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// coreStripes makes 8×8 single-channel images of a horizontal bar (class 0),
// a vertical bar (1) or a diagonal (2) at random positions, with noise; the
// images are NHWC as a TensorFlow model would take them.
func coreStripes(seed int64, n int) (*ir.Tensor, *ir.Tensor) {
	rng := rand.New(rand.NewSource(seed))
	x, y := ir.NewTensor(n, 8, 8, 1), ir.NewTensor(n, 3)
	for i := 0; i < n; i++ {
		c := rng.Intn(3)
		y.Data[i*3+c] = 1
		img := x.Data[i*64 : (i+1)*64]
		for k := range img {
			img[k] = float32(rng.NormFloat64() * 0.3)
		}
		p := rng.Intn(6) + 1
		for k := 0; k < 8; k++ {
			switch c {
			case 0:
				img[p*8+k] += 1
			case 1:
				img[k*8+p] += 1
			default:
				img[k*8+(k+p)%8] += 1
			}
		}
	}
	return x, y
}

func TestFitSmallCNN(t *testing.T) {
	g := &ir.Graph{Name: "cnn", Inputs: []ir.Input{{Name: "image", Shape: []int{1, 8, 8}, Layout: ir.LayoutNHWC}}}
	add := func(name string, l ir.Layer, in string) {
		g.Vertices = append(g.Vertices, &ir.Vertex{Name: name, Layer: l, Inputs: []string{in}})
	}
	add("conv1", &ir.Conv{Rank: 2, Filters: 8, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: ir.Act(ir.ActReLU)}, "image")
	add("bn1", &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.9}, "conv1")
	add("pool1", &ir.Pool{Rank: 2, Op: ir.PoolMax, Kernel: []int{2, 2}}, "bn1")
	add("conv2", &ir.Conv{Rank: 2, Filters: 8, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: ir.Act(ir.ActReLU)}, "pool1")
	add("gap", &ir.GlobalPool{Rank: 2, Op: ir.PoolAvg}, "conv2")
	add("out", &ir.Output{Units: 3, Loss: ir.LossMCXENT, Activation: ir.Activation{Kind: ir.ActSoftmax, Axis: -1}}, "gap")
	g.Outputs = []ir.GraphOutput{{Name: "probs", Vertex: "out"}}
	g.Train = &ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 0.01, Seed: 3}
	if err := InitGraph(g, ir.InitHeUniform, 7); err != nil {
		t.Fatal(err)
	}
	net, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	x, y := coreStripes(1, 480)
	it, _ := NewArrayIterator(x, y, 32, true, 1)
	if _, err := net.Fit(it, FitConfig{Epochs: 8}); err != nil {
		t.Fatal(err)
	}
	xt, yt := coreStripes(2, 150)
	test, _ := NewArrayIterator(xt, yt, 50, false, 0)
	ev, err := net.Evaluate(test)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Accuracy() < 0.95 {
		t.Fatalf("CNN test accuracy %.3f\n%s", ev.Accuracy(), ev)
	}
	// Predict takes NHWC data as the source model did
	p, err := net.Predict(xt)
	if err != nil {
		t.Fatal(err)
	}
	ok := 0
	for i := 0; i < 150; i++ {
		if argmax(p[0].Data[i*3:(i+1)*3]) == argmax(yt.Data[i*3:(i+1)*3]) {
			ok++
		}
	}
	if float64(ok)/150 != ev.Accuracy() {
		t.Fatalf("Predict accuracy %d/150, Evaluate %.3f", ok, ev.Accuracy())
	}
}

func TestLayoutRoundTrip(t *testing.T) {
	// an identity-like graph: NHWC in, NHWC out, via a 1×1 conv with identity weights
	g := &ir.Graph{Name: "layout", Inputs: []ir.Input{{Name: "x", Shape: []int{3, 2, 4}, Layout: ir.LayoutNHWC}},
		Vertices: []*ir.Vertex{{Name: "c", Layer: &ir.Conv{Rank: 2, Filters: 3, Kernel: []int{1, 1}, Padding: ir.PadValid}, Inputs: []string{"x"}}},
		Outputs:  []ir.GraphOutput{{Name: "c", Vertex: "c", Layout: ir.LayoutNHWC}}}
	if err := InitGraph(g, ir.InitIdentity, 1); err != nil {
		t.Fatal(err)
	}
	net, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	x := RandTensor(rand.New(rand.NewSource(1)), -1, 1, 2, 2, 4, 3)
	out, err := net.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	if !out[0].Equal(x) {
		t.Fatalf("NHWC round trip changed the data: shape %v", out[0].Shape)
	}
	// the internal value is channels first
	v := net.Value("x")
	if !ir.SameShape(v.Shape, []int{2, 3, 2, 4}) || v.Data[1] != x.Data[3] {
		t.Fatalf("internal input %v", v.Shape)
	}
}

func TestEvaluationMetrics(t *testing.T) {
	e := NewEvaluation(3)
	for _, p := range [][2]int{{0, 0}, {0, 0}, {0, 1}, {1, 1}, {1, 2}, {2, 2}, {2, 2}, {2, 0}} {
		e.Add(p[0], p[1])
	}
	if e.Accuracy() != 5.0/8 {
		t.Fatalf("accuracy %v", e.Accuracy())
	}
	if e.Precision(0) != 2.0/3 || e.Recall(0) != 2.0/3 || e.Precision(1) != 0.5 || e.Recall(2) != 2.0/3 {
		t.Fatalf("precision/recall %v %v %v %v", e.Precision(0), e.Recall(0), e.Precision(1), e.Recall(2))
	}
	f1 := 2 * 0.5 * 0.5 / 1.0
	if e.F1(1) != f1 {
		t.Fatalf("F1 %v", e.F1(1))
	}
	want := (e.F1(0) + e.F1(1) + e.F1(2)) / 3
	if e.MacroF1() != want {
		t.Fatalf("macro F1 %v", e.MacroF1())
	}
}

func TestLayoutNWCSequenceNotTransposed(t *testing.T) {
	// a (batch, time, features) input tagged NWC is already internal
	g := &ir.Graph{Name: "seq", Inputs: []ir.Input{{Name: "x", Shape: []int{-1, 3}, Layout: ir.LayoutNWC}},
		Vertices: []*ir.Vertex{{Name: "d", Layer: &ir.Dense{Units: 3}, Inputs: []string{"x"}}},
		Outputs:  []ir.GraphOutput{{Name: "d", Vertex: "d"}}}
	if err := InitGraph(g, ir.InitIdentity, 1); err != nil {
		t.Fatal(err)
	}
	net, _ := Compile(g)
	x := RandTensor(rand.New(rand.NewSource(1)), -1, 1, 2, 5, 3)
	out, err := net.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	if !out[0].Equal(x) {
		t.Fatal("sequence data was transposed")
	}
	// a Conv1D input tagged NWC is transposed
	c := &ir.Graph{Name: "c1", Inputs: []ir.Input{{Name: "x", Shape: []int{3, 5}, Layout: ir.LayoutNWC}},
		Vertices: []*ir.Vertex{{Name: "c", Layer: &ir.Conv{Rank: 1, Filters: 3, Kernel: []int{1}, Padding: ir.PadValid}, Inputs: []string{"x"}}},
		Outputs:  []ir.GraphOutput{{Name: "c", Vertex: "c", Layout: ir.LayoutNWC}}}
	InitGraph(c, ir.InitIdentity, 1)
	cn, _ := Compile(c)
	out, err = cn.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	if !out[0].Equal(x) || cn.Value("x").Shape[1] != 3 {
		t.Fatal("NWC conv input not transposed both ways")
	}
}

func TestGradSmallCNNGraph(t *testing.T) {
	g := Sequential("cnn_grad", []int{2, 6, 6},
		&ir.Conv{Rank: 2, Filters: 3, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: ir.Act(ir.ActTanh)},
		&ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.9},
		&ir.Pool{Rank: 2, Op: ir.PoolAvg, Kernel: []int{2, 2}},
		&ir.SeparableConv2D{Filters: 2, Kernel: []int{3, 3}, Padding: ir.PadSame, DepthMultiplier: 1},
		&ir.Flatten{},
		&ir.Dropout{Rate: 0.2},
		&ir.Output{Units: 3, Loss: ir.LossSparseMCXENT, Activation: ir.Act(ir.ActSoftmax)})
	coreInit(t, g, 1)
	rng := rand.New(rand.NewSource(9))
	x := RandTensor(rng, -1, 1, 3, 2, 6, 6)
	y := ir.FromData([]float32{0, 2, 1}, 3)
	GradCheck(t, g, []*ir.Tensor{x}, []*ir.Tensor{y})

	// float32 and float64 networks agree
	n32, _ := Compile(g)
	n64, _ := CompileWith[float64](g, Options{})
	a, _ := n32.Forward([]*Mat[float32]{MatFromTensor[float32](x)}, false)
	b, _ := n64.Forward([]*Mat[float64]{MatFromTensor[float64](x)}, false)
	for i, v := range b[0].Data {
		if d := float64(a[0].Data[i]) - v; d > 1e-5 || d < -1e-5 {
			t.Fatalf("float32 %v vs float64 %v", a[0].Data[i], v)
		}
	}
}
