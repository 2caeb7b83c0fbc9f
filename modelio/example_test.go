package modelio_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/modelio"
	"github.com/retarget-dev/retarget/nn"
)

// The README's library example.
func Example() {
	// Build a graph (or load one: g, err := modelio.Load("model.rtm", modelio.LoadOptions{})).
	g := &ir.Graph{
		Inputs: []ir.Input{{Name: "x", Shape: []int{4}}},
		Vertices: []*ir.Vertex{
			{Name: "hidden", Layer: &ir.Dense{Units: 8, Activation: ir.Act(ir.ActReLU)}, Inputs: []string{"x"}},
			{Name: "out", Layer: &ir.Output{Units: 3, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, Inputs: []string{"hidden"}},
		},
		Outputs: []ir.GraphOutput{{Name: "probs", Vertex: "out"}},
	}
	if err := nn.InitGraph(g, ir.InitXavierUniform, 1); err != nil {
		log.Fatal(err)
	}

	// Compile and predict: inputs are batch first, in the source layout.
	net, err := nn.Compile(g)
	if err != nil {
		log.Fatal(err)
	}
	x := ir.FromData([]float32{1, 2, 3, 4, 0, 0, 0, 0}, 2, 4)
	ys, err := net.Predict(x)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("output shape:", ys[0].Shape)

	// Save as .rtm (atomic) and read it back.
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.rtm")
	if err := modelio.Save(path, g, modelio.SaveOptions{}); err != nil {
		log.Fatal(err)
	}
	back, err := modelio.Load(path, modelio.LoadOptions{})
	if err != nil {
		log.Fatal(err)
	}
	s, _ := modelio.Summarize(back)
	fmt.Println("parameters:", s.ParamsTotal)
	// Output:
	// output shape: [2 3]
	// parameters: 67
}
