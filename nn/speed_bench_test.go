package nn

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// Speed benchmarks compared against PyTorch and ONNX Runtime by
// testdata/gen/speed_compare.sh; the shapes here are repeated in
// testdata/gen/speed_torch.py, keep them in step.

// speedGemmShapes are square products and the GEMMs of the convolutions
// below (conv1/conv2 forward of the CNN, the ResNet block's 3×3 conv forward
// and its weight gradient, VGG16's fc6 on one example).
var speedGemmShapes = []struct {
	name    string
	ta, tb  bool
	m, n, k int
}{
	{"256", false, false, 256, 256, 256},
	{"512", false, false, 512, 512, 512},
	{"1024", false, false, 1024, 1024, 1024},
	{"cnn_conv1_fwd", false, false, 32, 1024, 27},
	{"cnn_conv2_fwd", false, false, 64, 256, 288},
	{"res_conv_fwd", false, false, 64, 784, 576},
	{"res_conv_dW_NT", false, true, 64, 576, 784},
	{"vgg_fc6_one_row", false, false, 1, 4096, 25088}, // predict runs VGG16 one example at a time
	{"vgg_fc6_batch8", false, false, 8, 4096, 25088},  // VGG16's first dense layer on a batch of 8
}

func benchGemm32(b *testing.B, g gemmer[float32]) {
	for _, s := range speedGemmShapes {
		b.Run(s.name, func(b *testing.B) {
			rng := rand.New(rand.NewSource(1))
			lda, ldb := s.k, s.n
			if s.ta {
				lda = s.m
			}
			if s.tb {
				ldb = s.k
			}
			a, bb, c := make([]float32, s.m*s.k), make([]float32, s.k*s.n), make([]float32, s.m*s.n)
			for i := range a {
				a[i] = rng.Float32()
			}
			for i := range bb {
				bb[i] = rng.Float32()
			}
			b.ResetTimer()
			for range b.N {
				g.Gemm(s.ta, s.tb, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
			}
			b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}

// BenchmarkSgemm runs every GEMM kernel (GemmKernels) on every shape.
func BenchmarkSgemm(b *testing.B) {
	withBackends(b, func(b *testing.B) { benchGemm32(b, gemm32) })
}

// withBackends runs f once per float32 GEMM kernel (GemmKernels), restoring
// the one in use.
func withBackends(b *testing.B, f func(b *testing.B)) {
	saved := GemmKernel()
	defer func() { _ = SetGemmKernel(saved) }()
	for _, name := range GemmKernels() {
		if err := SetGemmKernel(name); err != nil {
			b.Fatal(err)
		}
		b.Run(name, f)
	}
}

const speedBatch = 32

// speedCNN is conv3×3(32)-ReLU-maxpool2-conv3×3(64)-ReLU-maxpool2-dense(128)-
// ReLU-dense(10)-softmax on 3×32×32 images.
func speedCNN() *ir.Graph {
	relu := ir.Act(ir.ActReLU)
	g := Sequential("speedcnn", []int{3, 32, 32},
		&ir.Conv{Rank: 2, Filters: 32, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: relu},
		&ir.Pool{Rank: 2, Op: ir.PoolMax, Kernel: []int{2, 2}},
		&ir.Conv{Rank: 2, Filters: 64, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: relu},
		&ir.Pool{Rank: 2, Op: ir.PoolMax, Kernel: []int{2, 2}},
		&ir.Flatten{},
		&ir.Dense{Units: 128, Activation: relu},
		&ir.Output{Units: 10, Loss: ir.LossMCXENT, Activation: ir.Activation{Kind: ir.ActSoftmax, Axis: -1}},
	)
	g.Train = &ir.TrainConfig{Updater: ir.UpdSGD, LearningRate: 0.01, Seed: 1}
	return g
}

// speedResBlock is a ResNet basic block on 64×28×28: conv-BN-ReLU-conv-BN,
// identity shortcut, ReLU.
func speedResBlock() *ir.Graph {
	g := &ir.Graph{Name: "resblock", Inputs: []ir.Input{{Name: "input", Shape: []int{64, 28, 28}}}}
	add := func(name string, l ir.Layer, in ...string) {
		g.Vertices = append(g.Vertices, &ir.Vertex{Name: name, Layer: l, Inputs: in})
	}
	conv := func() ir.Layer {
		return &ir.Conv{Rank: 2, Filters: 64, Kernel: []int{3, 3}, Padding: ir.PadSame, NoBias: true}
	}
	add("conv1", conv(), "input")
	add("bn1", &ir.BatchNorm{Epsilon: 1e-5, Momentum: 0.9}, "conv1")
	add("relu1", &ir.ActivationLayer{Activation: ir.Act(ir.ActReLU)}, "bn1")
	add("conv2", conv(), "relu1")
	add("bn2", &ir.BatchNorm{Epsilon: 1e-5, Momentum: 0.9}, "conv2")
	add("sum", &ir.Merge{Op: ir.MergeAdd}, "bn2", "input")
	add("out", &ir.ActivationLayer{Activation: ir.Act(ir.ActReLU)}, "sum")
	g.Outputs = []ir.GraphOutput{{Name: "out", Vertex: "out"}}
	return g
}

// speedMobileBlock is a MobileNetV2 inverted residual on 32×28×28: 1×1
// expand to 192, BN, ReLU6, 3×3 depthwise, BN, ReLU6, 1×1 project to 32, BN,
// identity shortcut.
func speedMobileBlock() *ir.Graph {
	g := &ir.Graph{Name: "mobileblock", Inputs: []ir.Input{{Name: "input", Shape: []int{32, 28, 28}}}}
	add := func(name string, l ir.Layer, in ...string) {
		g.Vertices = append(g.Vertices, &ir.Vertex{Name: name, Layer: l, Inputs: in})
	}
	bn := func() ir.Layer { return &ir.BatchNorm{Epsilon: 1e-5, Momentum: 0.9} }
	relu6 := func() ir.Layer { return &ir.ActivationLayer{Activation: ir.Act(ir.ActReLU6)} }
	add("expand", &ir.Conv{Rank: 2, Filters: 192, Kernel: []int{1, 1}, NoBias: true}, "input")
	add("bn1", bn(), "expand")
	add("act1", relu6(), "bn1")
	add("dw", &ir.Conv{Rank: 2, Filters: 192, Groups: 192, Kernel: []int{3, 3}, Padding: ir.PadSame, NoBias: true}, "act1")
	add("bn2", bn(), "dw")
	add("act2", relu6(), "bn2")
	add("project", &ir.Conv{Rank: 2, Filters: 32, Kernel: []int{1, 1}, NoBias: true}, "act2")
	add("bn3", bn(), "project")
	add("sum", &ir.Merge{Op: ir.MergeAdd}, "bn3", "input")
	g.Outputs = []ir.GraphOutput{{Name: "out", Vertex: "sum"}}
	return g
}

func speedNet(b *testing.B, g *ir.Graph) *Net[float32] {
	if err := InitGraph(g, ir.InitHeUniform, 1); err != nil {
		b.Fatal(err)
	}
	net, err := CompileWith[float32](g, Options{})
	if err != nil {
		b.Fatal(err)
	}
	return net
}

func speedInput(shape ...int) *Mat[float32] {
	return MatFromTensor[float32](RandTensor(rand.New(rand.NewSource(2)), -1, 1, shape...))
}

func benchInfer(b *testing.B, g func() *ir.Graph, shape ...int) {
	withBackends(b, func(b *testing.B) {
		net := speedNet(b, g())
		in := []*Mat[float32]{speedInput(shape...)}
		if _, err := net.Forward(in, false); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for range b.N {
			if _, err := net.Forward(in, false); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSpeedCNNInfer(b *testing.B) { benchInfer(b, speedCNN, speedBatch, 3, 32, 32) }

func BenchmarkSpeedResBlockInfer(b *testing.B) { benchInfer(b, speedResBlock, speedBatch, 64, 28, 28) }

func BenchmarkSpeedMobileBlockInfer(b *testing.B) {
	benchInfer(b, speedMobileBlock, speedBatch, 32, 28, 28)
}

// BenchmarkSpeedCNNTrain is one SGD step (forward, cross entropy, backward,
// update) of speedCNN.
func BenchmarkSpeedCNNTrain(b *testing.B) {
	withBackends(b, func(b *testing.B) {
		net := speedNet(b, speedCNN())
		in := []*Mat[float32]{speedInput(speedBatch, 3, 32, 32)}
		y := NewMat[float32](speedBatch, 10)
		for i := range speedBatch {
			y.Data[i*10+i%10] = 1
		}
		b.ResetTimer()
		for range b.N {
			if _, err := net.TrainStep(in, []*Mat[float32]{y}, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSpeedLSTMStep is forward + backward (with input gradients) of an
// LSTM(128) returning sequences, on a batch of 32 sequences of 50 steps × 64
// features, seeded with a constant output gradient.
func BenchmarkSpeedLSTMStep(b *testing.B) {
	withBackends(b, func(b *testing.B) {
		g := Sequential("speedlstm", []int{50, 64}, &ir.LSTM{Units: 128, ReturnSequences: true,
			Activation: ir.Act(ir.ActTanh), RecurrentActivation: ir.Act(ir.ActSigmoid)})
		if err := InitGraph(g, ir.InitXavierUniform, 1); err != nil {
			b.Fatal(err)
		}
		net, err := CompileWith[float32](g, Options{InputGrads: true})
		if err != nil {
			b.Fatal(err)
		}
		in := []*Mat[float32]{speedInput(speedBatch, 50, 64)}
		seed := NewMat[float32](speedBatch, 50, 128)
		for i := range seed.Data {
			seed.Data[i] = 1e-3
		}
		b.ResetTimer()
		for range b.N {
			if _, err := net.Forward(in, true); err != nil {
				b.Fatal(err)
			}
			if err := net.Backward([]*Mat[float32]{seed}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

var _ = fmt.Sprint

// BenchmarkSgemmMicro is each micro-kernel alone on packed panels that stay
// in L1 (k = sgemmKC): the kernel's ceiling, without packing.
func BenchmarkSgemmMicro(b *testing.B) {
	for _, kern := range sgemmKernels() {
		b.Run(kern.name, func(b *testing.B) {
			k := sgemmKC
			a, bb, c := make([]float32, kern.mr*k), make([]float32, kern.nr*k), make([]float32, kern.mr*kern.nr)
			for i := range a {
				a[i] = float32(i%7) * 0.25
			}
			for i := range bb {
				bb[i] = float32(i%5) * 0.5
			}
			for range b.N {
				kern.fn(k, a, bb, c, kern.nr, true)
			}
			b.ReportMetric(2*float64(kern.mr*kern.nr*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}
