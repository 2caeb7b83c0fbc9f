package nn

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// 3-D (volumetric, NCDHW) layers and dilated max pooling.

func TestGradConv3D(t *testing.T) {
	cases := []ir.Conv{
		{Kernel: []int{2, 3, 3}, Padding: ir.PadValid},
		{Kernel: []int{3, 2, 3}, Padding: ir.PadSame, Strides: []int{2, 1, 2}},
		{Kernel: []int{2, 2, 2}, Padding: ir.PadExplicit, Pads: []int{1, 0, 1, 0, 1, 1}, Dilations: []int{2, 1, 2}},
		{Kernel: []int{3, 3, 1}, Padding: ir.PadSame, Groups: 2, Filters: 4, NoBias: true, Activation: ir.Act(ir.ActTanh)},
		{Kernel: []int{2, 2, 2}, Padding: ir.PadValid, Groups: 4, Filters: 4}, // depthwise
	}
	for i, c := range cases {
		c := c
		c.Rank = 3
		if c.Filters == 0 {
			c.Filters = 3
		}
		t.Run(fmt.Sprintf("case%d", i), func(t *testing.T) {
			coreCheckLayer(t, fmt.Sprintf("conv3d_%d", i), []int{4, 5, 4, 6}, &c, -1, 1)
		})
	}
}

func TestGradConvTranspose3D(t *testing.T) {
	cases := []ir.ConvTranspose2D{
		{Kernel: []int{2, 3, 3}, Padding: ir.PadValid},
		{Kernel: []int{3, 3, 2}, Strides: []int{2, 1, 2}, Padding: ir.PadSame},
		{Kernel: []int{2, 2, 3}, Strides: []int{2, 2, 1}, Padding: ir.PadExplicit, Pads: []int{1, 0, 0, 0, 1, 1}, OutputPadding: []int{1, 0, 0}},
		{Kernel: []int{2, 2, 2}, Dilations: []int{2, 1, 1}, Groups: 2, Filters: 4, NoBias: true, Activation: ir.Act(ir.ActSigmoid)},
	}
	for i, c := range cases {
		c := c
		c.Rank = 3
		if c.Filters == 0 {
			c.Filters = 3
		}
		t.Run(fmt.Sprintf("case%d", i), func(t *testing.T) {
			coreCheckLayer(t, fmt.Sprintf("convt3d_%d", i), []int{2, 3, 4, 3}, &c, -1, 1)
		})
	}
}

func TestGradPool3D(t *testing.T) {
	cases := []ir.Pool{
		{Rank: 3, Op: ir.PoolMax, Kernel: []int{2, 2, 2}},
		{Rank: 3, Op: ir.PoolMax, Kernel: []int{3, 2, 3}, Strides: []int{2, 1, 2}, Padding: ir.PadExplicit, Pads: []int{1, 0, 1, 1, 1, 0}},
		{Rank: 3, Op: ir.PoolMax, Kernel: []int{2, 3, 2}, Strides: []int{2, 2, 2}, CeilMode: true},
		{Rank: 3, Op: ir.PoolAvg, Kernel: []int{2, 2, 2}},
		{Rank: 3, Op: ir.PoolAvg, Kernel: []int{3, 3, 3}, Strides: []int{2, 2, 1}, Padding: ir.PadSame},
		{Rank: 3, Op: ir.PoolAvg, Kernel: []int{3, 2, 3}, Strides: []int{2, 2, 2}, Padding: ir.PadExplicit, Pads: []int{1, 1, 0, 1, 0, 1}, CountIncludePad: true, CeilMode: true},
	}
	for i, c := range cases {
		c := c
		t.Run(fmt.Sprintf("%s_%d", c.Kind(), i), func(t *testing.T) {
			coreCheckLayer(t, fmt.Sprintf("pool3d_%d", i), []int{2, 5, 6, 5}, &c, -1, 1)
		})
	}
	for _, c := range []ir.GlobalPool{{Rank: 3, Op: ir.PoolMax}, {Rank: 3, Op: ir.PoolAvg, KeepDims: true}} {
		c := c
		t.Run(c.Kind(), func(t *testing.T) { coreCheckLayer(t, c.Kind(), []int{3, 2, 4, 3}, &c, -1, 1) })
	}
}

func TestGradPoolDilated(t *testing.T) {
	cases := []struct {
		in []int
		p  ir.Pool
	}{
		{[]int{2, 11}, ir.Pool{Rank: 1, Op: ir.PoolMax, Kernel: []int{3}, Strides: []int{2}, Dilations: []int{2}, Padding: ir.PadExplicit, Pads: []int{1, 1}}},
		{[]int{2, 8, 9}, ir.Pool{Rank: 2, Op: ir.PoolMax, Kernel: []int{3, 2}, Strides: []int{2, 1}, Dilations: []int{2, 3}, Padding: ir.PadExplicit, Pads: []int{1, 0, 1, 1}}},
		{[]int{2, 8, 9}, ir.Pool{Rank: 2, Op: ir.PoolMax, Kernel: []int{2, 2}, Strides: []int{2, 2}, Dilations: []int{2, 2}, CeilMode: true}},
		{[]int{1, 6, 5, 7}, ir.Pool{Rank: 3, Op: ir.PoolMax, Kernel: []int{2, 2, 2}, Dilations: []int{2, 1, 3}}},
	}
	for i, c := range cases {
		c := c
		t.Run(fmt.Sprintf("%s_%d", c.p.Kind(), i), func(t *testing.T) {
			coreCheckLayer(t, fmt.Sprintf("dilpool_%d", i), c.in, &c.p, -1, 1)
		})
	}
	if _, err := (&ir.Pool{Rank: 2, Op: ir.PoolAvg, Kernel: []int{2, 2}, Dilations: []int{2, 2}}).OutputShape([][]int{{1, 6, 6}}); err == nil {
		t.Error("a dilated average pool was accepted")
	}
}

func TestGradBatchNorm5D(t *testing.T) {
	coreCheckLayer(t, "bn_5d", []int{3, 2, 3, 4}, &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.9}, -1, 2)
}

// coreBars3D makes 6×6×6 single-channel volumes (NDHWC) holding a bar along
// depth (class 0), height (1) or width (2) at a random position, with noise.
func coreBars3D(seed int64, n int) (*ir.Tensor, *ir.Tensor) {
	rng := rand.New(rand.NewSource(seed))
	const s = 6
	x, y := ir.NewTensor(n, s, s, s, 1), ir.NewTensor(n, 3)
	for i := 0; i < n; i++ {
		c := rng.Intn(3)
		y.Data[i*3+c] = 1
		vol := x.Data[i*s*s*s : (i+1)*s*s*s]
		for k := range vol {
			vol[k] = float32(rng.NormFloat64() * 0.3)
		}
		p, q := rng.Intn(s), rng.Intn(s)
		for k := 0; k < s; k++ {
			idx := [3][3]int{{k, p, q}, {p, k, q}, {p, q, k}}[c]
			vol[(idx[0]*s+idx[1])*s+idx[2]] += 1
		}
	}
	return x, y
}

// A 3-D CNN (Conv3D, BatchNorm, MaxPool3D, ConvTranspose3D, global pool)
// trains to tell the bars' directions apart.
func TestFitVolumetricCNN(t *testing.T) {
	g := &ir.Graph{Name: "cnn3d", Inputs: []ir.Input{{Name: "vol", Shape: []int{1, 6, 6, 6}, Layout: ir.LayoutNDHWC}}}
	add := func(name string, l ir.Layer, in string) {
		g.Vertices = append(g.Vertices, &ir.Vertex{Name: name, Layer: l, Inputs: []string{in}})
	}
	add("conv1", &ir.Conv{Rank: 3, Filters: 6, Kernel: []int{3, 3, 3}, Padding: ir.PadSame, Activation: ir.Act(ir.ActReLU)}, "vol")
	add("bn1", &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.9}, "conv1")
	add("pool1", &ir.Pool{Rank: 3, Op: ir.PoolMax, Kernel: []int{2, 2, 2}}, "bn1")
	add("up", &ir.ConvTranspose2D{Rank: 3, Filters: 6, Kernel: []int{2, 2, 2}, Strides: []int{2, 2, 2}, Activation: ir.Act(ir.ActReLU)}, "pool1")
	add("conv2", &ir.Conv{Rank: 3, Filters: 8, Kernel: []int{3, 3, 3}, Padding: ir.PadSame, Activation: ir.Act(ir.ActReLU)}, "up")
	add("gap", &ir.GlobalPool{Rank: 3, Op: ir.PoolAvg}, "conv2")
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
	x, y := coreBars3D(1, 384)
	it, _ := NewArrayIterator(x, y, 32, true, 1)
	if _, err := net.Fit(it, FitConfig{Epochs: 20}); err != nil {
		t.Fatal(err)
	}
	xt, yt := coreBars3D(2, 150)
	test, _ := NewArrayIterator(xt, yt, 50, false, 0)
	ev, err := net.Evaluate(test)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("3-D CNN test accuracy %.3f", ev.Accuracy())
	if ev.Accuracy() < 0.9 {
		t.Fatalf("3-D CNN test accuracy %.3f\n%s", ev.Accuracy(), ev)
	}
}

func TestGradConvTranspose1D(t *testing.T) {
	cases := []ir.ConvTranspose2D{
		{Kernel: []int{3}, Padding: ir.PadValid},
		{Kernel: []int{4}, Strides: []int{2}, Padding: ir.PadSame},
		{Kernel: []int{3}, Strides: []int{3}, Dilations: []int{2}, Padding: ir.PadExplicit, Pads: []int{1, 2}, OutputPadding: []int{1}},
		{Kernel: []int{2}, Groups: 2, Filters: 4, NoBias: true, Activation: ir.Act(ir.ActTanh)},
	}
	for i, c := range cases {
		c := c
		c.Rank = 1
		if c.Filters == 0 {
			c.Filters = 3
		}
		t.Run(fmt.Sprintf("case%d", i), func(t *testing.T) {
			coreCheckLayer(t, fmt.Sprintf("convt1d_%d", i), []int{4, 7}, &c, -1, 1)
		})
	}
}
