// Command speed is the engine's side of `make bench` (bench/bench.py): it
// times forward passes of an imported model and training steps of the
// workloads that bench/torch_bench.py builds the same way in PyTorch, and
// prints one JSON object {"name": [ms per run, ...]}.
//
//	go run ./bench/speed forward MODEL INPUT.npy RUNS
//	go run ./bench/speed train WORKLOAD RUNS   (head, cnn, resblock, lstm, attention)
//
// forward compiles the model as retarget predict does, taking over the
// graph's convolution weights (nn.Options.TakeWeights);
// SPEED_KEEP_GRAPH=1 compiles it without, for comparing the two in one
// binary.
package main

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/modelio"
	"github.com/retarget-dev/retarget/nn"
	"github.com/retarget-dev/retarget/npy"
)

func main() {
	if path := os.Getenv("SPEED_CPUPROFILE"); path != "" { // for looking into a workload
		f, err := os.Create(path)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "speed:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 3 {
		return fmt.Errorf("usage: speed forward MODEL INPUT.npy RUNS | speed train WORKLOAD RUNS")
	}
	runs, err := strconv.Atoi(args[len(args)-1])
	if err != nil || runs < 1 {
		return fmt.Errorf("RUNS %q: want a positive integer", args[len(args)-1])
	}
	var ms []float64
	switch args[0] {
	case "forward":
		ms, err = forward(args[1], args[2], runs)
	case "train":
		ms, err = train(args[1], runs)
	default:
		err = fmt.Errorf("unknown mode %q (forward, train)", args[0])
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"ms": ms, "gemm": nn.GemmKernel()})
}

// timeRuns calls f once to warm up, then runs times, and returns each call's
// wall time in milliseconds.
func timeRuns(runs int, f func() error) ([]float64, error) {
	if err := f(); err != nil {
		return nil, err
	}
	ms := make([]float64, runs)
	for i := range ms {
		t := time.Now()
		if err := f(); err != nil {
			return nil, err
		}
		ms[i] = float64(time.Since(t).Microseconds()) / 1e3
	}
	return ms, nil
}

func forward(model, input string, runs int) ([]float64, error) {
	t := time.Now()
	g, err := modelio.Load(model, modelio.LoadOptions{})
	fmt.Fprintf(os.Stderr, "load %v\n", time.Since(t))
	if err != nil {
		return nil, err
	}
	a, err := npy.ReadFile(input)
	if err != nil {
		return nil, err
	}
	t = time.Now()
	net, err := nn.CompileWith[float32](g, nn.Options{Inference: true, TakeWeights: os.Getenv("SPEED_KEEP_GRAPH") == ""})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "compile %v\n", time.Since(t))
	x := &ir.Tensor{Shape: a.Shape, Data: a.Data}
	return timeRuns(runs, func() error {
		_, err := net.Predict(x)
		return err
	})
}

// The training workloads, batch 32 each (torch_bench.py has the same).
const batch = 32

func train(name string, runs int) ([]float64, error) {
	step, err := trainStep(name)
	if err != nil {
		return nil, err
	}
	return timeRuns(runs, step)
}

// trainStep builds a workload and returns one training step of it.
func trainStep(name string) (func() error, error) {
	relu := ir.Act(ir.ActReLU)
	softmax := ir.Activation{Kind: ir.ActSoftmax, Axis: -1}
	var g *ir.Graph
	var in []int
	classes := 5
	switch name {
	case "head": // the seed's head on VGG16 block5_pool features
		in = []int{25088}
		g = nn.Sequential("head", in,
			&ir.Dense{Units: 4096, Activation: relu},
			&ir.Dense{Units: 1024, Activation: relu},
			&ir.Dense{Units: 256, Activation: relu},
			&ir.Output{Units: classes, Loss: ir.LossMCXENT, Activation: softmax})
		g.Train = &ir.TrainConfig{Updater: ir.UpdNesterov, LearningRate: 0.01, Momentum: 0.9, Seed: 1}
	case "cnn": // as nn/speed_bench_test.go's speedCNN
		in, classes = []int{3, 32, 32}, 10
		g = nn.Sequential("cnn", in,
			&ir.Conv{Rank: 2, Filters: 32, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: relu},
			&ir.Pool{Rank: 2, Op: ir.PoolMax, Kernel: []int{2, 2}},
			&ir.Conv{Rank: 2, Filters: 64, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: relu},
			&ir.Pool{Rank: 2, Op: ir.PoolMax, Kernel: []int{2, 2}},
			&ir.Flatten{},
			&ir.Dense{Units: 128, Activation: relu},
			&ir.Output{Units: classes, Loss: ir.LossMCXENT, Activation: softmax})
		g.Train = &ir.TrainConfig{Updater: ir.UpdSGD, LearningRate: 0.01, Seed: 1}
	case "resblock": // ResNet basic block on 64×28×28, global average pool, 10 classes
		in, classes = []int{64, 28, 28}, 10
		g = resBlock(classes)
		g.Train = &ir.TrainConfig{Updater: ir.UpdSGD, LearningRate: 0.01, Seed: 1}
	case "lstm": // LSTM(256) over 50 steps of 64 features, last step, 5 classes
		in = []int{50, 64}
		g = nn.Sequential("lstm", in,
			&ir.LSTM{Units: 256, Activation: ir.Act(ir.ActTanh), RecurrentActivation: ir.Act(ir.ActSigmoid)},
			&ir.Output{Units: classes, Loss: ir.LossMCXENT, Activation: softmax})
		g.Train = &ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 1e-3, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, Seed: 1}
	case "attention": // MultiHeadAttention(256, 8 heads) over 64 steps, mean over time, 5 classes
		in = []int{64, 256}
		g = nn.Sequential("attention", in,
			&ir.MultiHeadAttention{Heads: 8, KeyDim: 32},
			&ir.Permute{Perm: []int{1, 0}},
			&ir.GlobalPool{Rank: 1, Op: ir.PoolAvg},
			&ir.Output{Units: classes, Loss: ir.LossMCXENT, Activation: softmax})
		g.Train = &ir.TrainConfig{Updater: ir.UpdSGD, LearningRate: 0.01, Seed: 1}
	default:
		return nil, fmt.Errorf("unknown workload %q (head, cnn, resblock, lstm, attention)", name)
	}
	if err := nn.InitGraph(g, ir.InitHeUniform, 1); err != nil {
		return nil, err
	}
	net, err := nn.CompileWith[float32](g, nn.Options{})
	if err != nil {
		return nil, err
	}
	x := nn.MatFromTensor[float32](nn.RandTensor(rand.New(rand.NewSource(2)), -1, 1, append([]int{batch}, in...)...))
	y := nn.NewMat[float32](batch, classes)
	for i := range batch {
		y.Data[i*classes+i%classes] = 1
	}
	xs, ys := []*nn.Mat[float32]{x}, []*nn.Mat[float32]{y}
	return func() error {
		_, err := net.TrainStep(xs, ys, nil)
		return err
	}, nil
}

func resBlock(classes int) *ir.Graph {
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
	add("relu2", &ir.ActivationLayer{Activation: ir.Act(ir.ActReLU)}, "sum")
	add("pool", &ir.GlobalPool{Rank: 2, Op: ir.PoolAvg}, "relu2")
	add("out", &ir.Output{Units: classes, Loss: ir.LossMCXENT, Activation: ir.Activation{Kind: ir.ActSoftmax, Axis: -1}}, "pool")
	g.Outputs = []ir.GraphOutput{{Name: "out", Vertex: "out"}}
	return g
}
