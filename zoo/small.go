package zoo

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

// LeNet builds LeNet-5 as DL4J's zoo has it (default input 28x28x1, 10
// classes): conv1 (20 5x5) pool1, conv2 (50 5x5) pool2, flatten, fc1 (500,
// relu), predictions.
func LeNet(o Options) (*ir.Graph, error) {
	const model = "lenet"
	if err := checkTopOptions(model, o); err != nil {
		return nil, err
	}
	shape, err := imageInput(model, o, []int{28, 28, 1}, 12)
	if err != nil {
		return nil, err
	}
	n := newNet(model, "input_1", shape, ir.LayoutNHWC)
	x := n.add("conv1", conv(20, 5, 1, ir.PadValid, ir.ActReLU, true), "input_1")
	x = n.add("pool1", maxPool(2, 2, ir.PadValid), x)
	x = n.add("conv2", conv(50, 5, 1, ir.PadValid, ir.ActReLU, true), x)
	x = n.add("pool2", maxPool(2, 2, ir.PadValid), x)
	if o.IncludeTop {
		x = n.add("flatten", &ir.Flatten{}, x)
		x = n.add("fc1", dense(500, ir.ActReLU), x)
		x = n.add("predictions", softmaxOutput(classesOr(o, 10)), x)
	} else {
		x = n.pooledTop(x, o, "global_average_pooling2d", "global_max_pooling2d")
	}
	return n.finish(x, o)
}

// SimpleCNN is a small batch-normalised convolutional classifier (default
// input 48x48x3, 10 classes): three conv/BN/ReLU blocks (32, 64, 128
// filters) with max pooling, global average pooling, dropout and the
// classifier. It trains from scratch on small data sets in seconds.
func SimpleCNN(o Options) (*ir.Graph, error) {
	const model = "simplecnn"
	if err := checkTopOptions(model, o); err != nil {
		return nil, err
	}
	shape, err := imageInput(model, o, []int{48, 48, 3}, 8)
	if err != nil {
		return nil, err
	}
	n := newNet(model, "input_1", shape, ir.LayoutNHWC)
	x := "input_1"
	for i, f := range []int{32, 64, 128} {
		b := fmt.Sprintf("block%d_", i+1)
		x = n.add(b+"conv", conv(f, 3, 1, ir.PadSame, "", false), x)
		x = n.add(b+"bn", batchNorm(1e-3, 0.99), x)
		x = n.add(b+"relu", activation(ir.ActReLU), x)
		if i < 2 {
			x = n.add(b+"pool", maxPool(2, 2, ir.PadValid), x)
		}
	}
	if o.IncludeTop {
		x = n.add("avg_pool", globalPool(ir.PoolAvg), x)
		x = n.add("dropout", &ir.Dropout{Rate: 0.5}, x)
		x = n.add("predictions", softmaxOutput(classesOr(o, 10)), x)
	} else {
		x = n.pooledTop(x, o, "avg_pool", "max_pool")
	}
	return n.finish(x, o)
}

// AlexNet is the single-tower AlexNet of "One weird trick" (as torchvision
// has it; default input 224x224x3): conv1..conv5 with pool1, pool2, pool5,
// then fc6, fc7 (4096, relu, dropout 0.5) and predictions.
func AlexNet(o Options) (*ir.Graph, error) {
	const model = "alexnet"
	if err := checkTopOptions(model, o); err != nil {
		return nil, err
	}
	shape, err := imageInput(model, o, []int{224, 224, 3}, 63)
	if err != nil {
		return nil, err
	}
	n := newNet(model, "input_1", shape, ir.LayoutNHWC)
	c1 := conv(64, 11, 4, ir.PadExplicit, ir.ActReLU, true)
	c1.Pads = []int{2, 2, 2, 2}
	x := n.add("conv1", c1, "input_1")
	x = n.add("pool1", maxPool(3, 2, ir.PadValid), x)
	c2 := conv(192, 5, 1, ir.PadExplicit, ir.ActReLU, true)
	c2.Pads = []int{2, 2, 2, 2}
	x = n.add("conv2", c2, x)
	x = n.add("pool2", maxPool(3, 2, ir.PadValid), x)
	x = n.add("conv3", conv(384, 3, 1, ir.PadSame, ir.ActReLU, true), x)
	x = n.add("conv4", conv(256, 3, 1, ir.PadSame, ir.ActReLU, true), x)
	x = n.add("conv5", conv(256, 3, 1, ir.PadSame, ir.ActReLU, true), x)
	x = n.add("pool5", maxPool(3, 2, ir.PadValid), x)
	if o.IncludeTop {
		x = n.add("flatten", &ir.Flatten{}, x)
		x = n.add("dropout6", &ir.Dropout{Rate: 0.5}, x)
		x = n.add("fc6", dense(4096, ir.ActReLU), x)
		x = n.add("dropout7", &ir.Dropout{Rate: 0.5}, x)
		x = n.add("fc7", dense(4096, ir.ActReLU), x)
		x = n.add("predictions", softmaxOutput(classesOr(o, 1000)), x)
	} else {
		x = n.pooledTop(x, o, "global_average_pooling2d", "global_max_pooling2d")
	}
	return n.finish(x, o)
}

// TextGenLSTM is DL4J's TextGenerationLSTM: one-hot characters [T, V] in,
// two stacked LSTM(256) layers returning sequences, and a per-step softmax
// over the V characters (next-character prediction). InputShape is
// [T, V] (T may be -1 for any length; default [-1, 77]); Classes defaults
// to V.
func TextGenLSTM(o Options) (*ir.Graph, error) {
	const model = "textgenlstm"
	shape := o.InputShape
	if shape == nil {
		shape = []int{-1, 77}
	}
	if len(shape) != 2 || shape[1] <= 0 || shape[0] == 0 || shape[0] < -1 {
		return nil, &BuildError{model, fmt.Errorf("input shape must be [time steps (or -1), characters], got %v", shape)}
	}
	n := newNet(model, "input_1", shape, ir.LayoutNone)
	x := n.add("lstm_1", &ir.LSTM{Units: 256, Activation: ir.Act(ir.ActTanh), RecurrentActivation: ir.Act(ir.ActSigmoid), ReturnSequences: true, UnitForgetBias: true}, "input_1")
	x = n.add("lstm_2", &ir.LSTM{Units: 256, Activation: ir.Act(ir.ActTanh), RecurrentActivation: ir.Act(ir.ActSigmoid), ReturnSequences: true, UnitForgetBias: true}, x)
	x = n.add("predictions", &ir.RnnOutput{Units: classesOr(o, shape[1]), Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, x)
	return n.finish(x, o)
}
