package demo

import (
	"github.com/retarget-dev/retarget/ir"
)

// NewDigitsCNN is the demo's small CNN for 8x8x1 digits (NHWC input as a
// Keras model takes it): conv1 (16 3x3 same, relu), conv2 (32 3x3 stride 2
// same, relu), flatten, fc1 (64, relu), predictions (classes, softmax).
// Parameters are not allocated; initialise with nn.InitGraph.
func NewDigitsCNN(classes int) *ir.Graph {
	relu := ir.Act(ir.ActReLU)
	g := &ir.Graph{
		Name:   "digits_cnn",
		Inputs: []ir.Input{{Name: "digit", Shape: []int{1, 8, 8}, Layout: ir.LayoutNHWC}},
		Vertices: []*ir.Vertex{
			{Name: "conv1", Inputs: []string{"digit"}, Layer: &ir.Conv{Rank: 2, Filters: 16, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: relu}},
			{Name: "conv2", Inputs: []string{"conv1"}, Layer: &ir.Conv{Rank: 2, Filters: 32, Kernel: []int{3, 3}, Strides: []int{2, 2}, Padding: ir.PadSame, Activation: relu}},
			{Name: "flatten", Inputs: []string{"conv2"}, Layer: &ir.Flatten{}},
			{Name: "fc1", Inputs: []string{"flatten"}, Layer: &ir.Dense{Units: 64, Activation: relu}},
			{Name: "predictions", Inputs: []string{"fc1"}, Layer: &ir.Output{Units: classes, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}},
		},
		Outputs: []ir.GraphOutput{{Name: "predictions", Vertex: "predictions"}},
		Train:   &ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 0.005, Seed: 42},
		Meta:    map[string]string{},
	}
	return g
}
