package retarget_test

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
	"github.com/retarget-dev/retarget/retarget"
)

// Example is the README's retargeting snippet on a small network.
func Example() {
	src := &ir.Graph{
		Inputs: []ir.Input{{Name: "x", Shape: []int{8}}},
		Vertices: []*ir.Vertex{
			{Name: "fc1", Layer: &ir.Dense{Units: 16, Activation: ir.Act(ir.ActReLU)}, Inputs: []string{"x"}},
			{Name: "fc2", Layer: &ir.Dense{Units: 16, Activation: ir.Act(ir.ActReLU)}, Inputs: []string{"fc1"}},
			{Name: "predictions", Layer: &ir.Output{Units: 10, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, Inputs: []string{"fc2"}},
		},
		Outputs: []ir.GraphOutput{{Name: "predictions", Vertex: "predictions"}},
	}
	if err := nn.InitGraph(src, ir.InitXavierUniform, 1); err != nil {
		panic(err)
	}

	b := retarget.New(src)
	b.FineTune(ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 1e-3, Seed: 42})
	b.FreezeThrough("fc1")
	b.ReplaceNOut("predictions", 5, ir.InitXavierNormal, ir.InitXavierNormal)
	b.Widen("fc2", 8, retarget.WidenPreserve)
	b.Insert("extra", &ir.Dense{Units: 16, Activation: ir.Act(ir.ActReLU)}, "fc2", ir.InitIdentity)
	g, err := b.Build()
	if err != nil {
		panic(err)
	}

	x := ir.NewTensor(32, 8)
	y := ir.NewTensor(32, 5)
	for i := 0; i < 32; i++ {
		x.Data[i*8+i%8] = 1
		y.Data[i*5+i%5] = 1
	}
	it, err := nn.NewArrayIterator(x, y, 8, true, 1)
	if err != nil {
		panic(err)
	}
	net, err := nn.Compile(g)
	if err != nil {
		panic(err)
	}
	if _, err := net.Fit(it, nn.FitConfig{Epochs: 2}); err != nil {
		panic(err)
	}
	fmt.Println(g.Vertex("fc1").Frozen, g.Vertex("fc2").Layer.(*ir.Dense).Units, g.Vertex("predictions").Layer.(*ir.Output).Units)
	// Output: true 24 5
}
