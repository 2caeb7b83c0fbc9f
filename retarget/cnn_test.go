package retarget

import (
	"math/rand"
	"path/filepath"
	"testing"

	"github.com/retarget-dev/retarget/exporters/native"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// vggSmall is conv-bn-relu-pool twice, flatten, dense, 10-class output.
func vggSmall(t testing.TB) *ir.Graph {
	conv := func(f int) *ir.Conv {
		return &ir.Conv{Rank: 2, Filters: f, Kernel: []int{3, 3}, Padding: ir.PadSame}
	}
	pool := func() *ir.Pool { return &ir.Pool{Rank: 2, Op: ir.PoolMax, Kernel: []int{2, 2}} }
	g := graphOf(t, []ir.Input{{Name: "x", Shape: []int{1, 12, 12}}}, []*ir.Vertex{
		vx("conv1", conv(4), "x"),
		vx("bn1", &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.9}, "conv1"),
		vx("relu1", &ir.ActivationLayer{Activation: ir.Act(ir.ActReLU)}, "bn1"),
		vx("pool1", pool(), "relu1"),
		vx("conv2", conv(8), "pool1"),
		vx("bn2", &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.9}, "conv2"),
		vx("relu2", &ir.ActivationLayer{Activation: ir.Act(ir.ActReLU)}, "bn2"),
		vx("pool2", pool(), "relu2"),
		vx("flat", &ir.Flatten{}, "pool2"),
		vx("fc", &ir.Dense{Units: 16, Activation: ir.Act(ir.ActReLU)}, "flat"),
		vx("out", &ir.Output{Units: 10, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, "fc"),
	}, "out")
	g.Train = &ir.TrainConfig{Updater: ir.UpdSGD, LearningRate: 0.05, Seed: 1}
	return g
}

// blobs makes n 12x12 images with a bright 3x3 blob whose column band
// (k bands) is the class; one-hot labels.
func blobs(seed int64, n, k int) (*ir.Tensor, *ir.Tensor) {
	r := rand.New(rand.NewSource(seed))
	x, y := ir.NewTensor(n, 1, 12, 12), ir.NewTensor(n, k)
	for i := 0; i < n; i++ {
		c := r.Intn(k)
		y.Data[i*k+c] = 1
		img := x.Data[i*144 : (i+1)*144]
		for j := range img {
			img[j] = float32(r.NormFloat64() * 0.3)
		}
		band := 12 / k
		col := c*band + r.Intn(max(band-2, 1))
		row := r.Intn(10)
		for dr := 0; dr < 3; dr++ {
			for dc := 0; dc < 3 && col+dc < 12; dc++ {
				img[(row+dr)*12+col+dc] += 2
			}
		}
	}
	return x, y
}

func accuracy(t testing.TB, g *ir.Graph, x, y *ir.Tensor) float64 {
	net, err := nn.Compile(g.Clone())
	if err != nil {
		t.Fatal(err)
	}
	it, _ := nn.NewArrayIterator(x, y, 64, false, 0)
	ev, err := net.Evaluate(it)
	if err != nil {
		t.Fatal(err)
	}
	return ev.Accuracy()
}

func TestScenarioA_RetargetVGGTo3Classes(t *testing.T) {
	src := vggSmall(t)
	x10, y10 := blobs(1, 200, 10)
	net, err := nn.Compile(src)
	if err != nil {
		t.Fatal(err)
	}
	it, _ := nn.NewArrayIterator(x10, y10, 32, true, 1)
	if _, err := net.Fit(it, nn.FitConfig{Epochs: 2}); err != nil {
		t.Fatal(err)
	}
	keep := src.Clone()

	g := mustBuild(t, New(src).
		FreezeThrough("pool2").
		ReplaceNOut("out", 3, ir.InitXavierUniform, ir.InitXavierUniform).
		FineTune(ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 1e-3, Seed: 2}))
	if !sameGraph(t, src, keep) {
		t.Fatal("the source graph changed")
	}
	if !ir.SameShape(shapeOf(g, "out", "W"), []int{16, 3}) || !ir.SameShape(shapeOf(g, "fc", "W"), []int{8 * 3 * 3, 16}) {
		t.Fatal("consumer sizes", shapeOf(g, "out", "W"), shapeOf(g, "fc", "W"))
	}
	for _, v := range g.Vertices {
		want := map[string]bool{"conv1": true, "bn1": true, "relu1": true, "pool1": true, "conv2": true, "bn2": true, "relu2": true, "pool2": true}[v.Name]
		if v.Frozen != want {
			t.Fatalf("%s frozen=%v", v.Name, v.Frozen)
		}
	}
	frozen := g.Clone()

	x3, y3 := blobs(2, 300, 3)
	tx, ty := blobs(3, 150, 3)
	net3, err := nn.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	it3, _ := nn.NewArrayIterator(x3, y3, 32, true, 2)
	if _, err := net3.Fit(it3, nn.FitConfig{Epochs: 25}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"conv1", "bn1", "conv2", "bn2"} {
		for k, p := range frozen.Vertex(name).Params {
			if !p.Equal(g.Vertex(name).Params[k]) {
				t.Fatalf("frozen %s/%s changed during the fit", name, k)
			}
		}
	}
	if g.Vertex("fc").Params["W"].Equal(frozen.Vertex("fc").Params["W"]) {
		t.Fatal("the head did not train")
	}
	acc := accuracy(t, g, tx, ty)
	t.Logf("held-out accuracy on the 3-class task: %.3f", acc)
	if acc < 0.9 {
		t.Fatalf("accuracy %.3f", acc)
	}

	path := filepath.Join(t.TempDir(), "a.rtm")
	if err := native.Export(path, g); err != nil {
		t.Fatal(err)
	}
	back, err := native.Import(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range g.Vertices {
		if back.Vertex(v.Name).Frozen != v.Frozen {
			t.Fatalf("%s: frozen flag lost on save", v.Name)
		}
	}
}

func TestScenarioB_WidenThroughBatchNormFlattenMergeConcat(t *testing.T) {
	type c struct {
		name, target string
		g            *ir.Graph
		x            *ir.Tensor
	}
	for _, tc := range []c{
		{"conv_bn_pool_flatten", "c1", cnnBN(t), randTensor(1, 4, 3, 8, 8)},
		{"merge_add_and_concat", "a", branches(t), randTensor(2, 6, 8)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := predict(t, tc.g, tc.x)
			for _, mode := range []WidenMode{WidenPreserve, WidenNet2Net, WidenRandom} {
				g := mustBuild(t, New(tc.g).Widen(tc.target, 3, mode))
				after := predict(t, g, tc.x)
				d := 0.0
				for i := range before {
					d = max(d, maxDiff(before[i], after[i]))
				}
				t.Logf("%s: max diff %.3g", mode, d)
				if mode == WidenRandom && d < 1e-4 || mode != WidenRandom && d > 2e-6 {
					t.Errorf("%s: outputs changed by %g", mode, d)
				}
			}
		})
	}
	// ReplaceNOut through the same graphs gives runnable networks
	for _, g := range []*ir.Graph{mustBuild(t, New(cnnBN(t)).ReplaceNOut("c1", 7, "", "")), mustBuild(t, New(branches(t)).ReplaceNOut("a", 2, "", ""))} {
		x := randTensor(3, append([]int{2}, g.Inputs[0].Shape...)...)
		predict(t, g, x)
	}
}
