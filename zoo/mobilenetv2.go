package zoo

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

// MobileNetV2 builds Keras Applications' MobileNetV2 with width multiplier
// Alpha (default 1.0; Keras publishes weights for 0.35, 0.5, 0.75, 1.0, 1.3
// and 1.4 at input sides 96, 128, 160, 192 and 224).
func MobileNetV2(o Options) (*ir.Graph, error) {
	const model = "mobilenetv2"
	if err := checkTopOptions(model, o); err != nil {
		return nil, err
	}
	alpha := o.Alpha
	if alpha == 0 {
		alpha = 1
	}
	if alpha < 0 {
		return nil, &BuildError{model, fmt.Errorf("alpha must be positive, got %g", alpha)}
	}
	shape, err := imageInput(model, o, []int{224, 224, 3}, 32)
	if err != nil {
		return nil, err
	}
	n := newNet(model, "input_1", shape, ir.LayoutNHWC)
	x := n.add("Conv1", conv(makeDivisible(32*alpha, 8), 3, 2, ir.PadSame, "", false), "input_1")
	x = n.add("bn_Conv1", mobileBN(), x)
	x = n.add("Conv1_relu", activation(ir.ActReLU6), x)

	blocks := []struct{ filters, stride, expansion int }{
		{16, 1, 1},
		{24, 2, 6}, {24, 1, 6},
		{32, 2, 6}, {32, 1, 6}, {32, 1, 6},
		{64, 2, 6}, {64, 1, 6}, {64, 1, 6}, {64, 1, 6},
		{96, 1, 6}, {96, 1, 6}, {96, 1, 6},
		{160, 2, 6}, {160, 1, 6}, {160, 1, 6},
		{320, 1, 6},
	}
	for id, b := range blocks {
		x = invertedResidual(n, x, b.expansion, b.stride, alpha, b.filters, id)
	}
	last := 1280
	if alpha > 1 {
		last = makeDivisible(1280*alpha, 8)
	}
	x = n.add("Conv_1", conv(last, 1, 1, ir.PadValid, "", false), x)
	x = n.add("Conv_1_bn", mobileBN(), x)
	x = n.add("out_relu", activation(ir.ActReLU6), x)
	if o.IncludeTop {
		x = n.add("global_average_pooling2d", globalPool(ir.PoolAvg), x)
		x = n.add("predictions", softmaxOutput(classesOr(o, 1000)), x)
	} else {
		x = n.pooledTop(x, o, "global_average_pooling2d", "global_max_pooling2d")
	}
	return n.finish(x, o)
}

func mobileBN() *ir.BatchNorm { return batchNorm(1e-3, 0.999) }

// invertedResidual is Keras's _inverted_res_block.
func invertedResidual(n *net, in string, expansion, stride int, alpha float64, filters, id int) string {
	inCh := n.channels(in)
	pointwise := makeDivisible(float64(int(float64(filters)*alpha)), 8)
	prefix := fmt.Sprintf("block_%d_", id)
	x := in
	if id > 0 {
		x = n.add(prefix+"expand", conv(expansion*inCh, 1, 1, ir.PadSame, "", false), x)
		x = n.add(prefix+"expand_BN", mobileBN(), x)
		x = n.add(prefix+"expand_relu", activation(ir.ActReLU6), x)
	} else {
		prefix = "expanded_conv_"
	}
	pad := ir.PadSame
	if stride == 2 {
		// Keras's correct_pad: one more row/column at the end on even sides.
		s := n.shapes[x]
		top, left := 1, 1
		if len(s) == 3 && s[1]%2 == 0 {
			top = 0
		}
		if len(s) == 3 && s[2]%2 == 0 {
			left = 0
		}
		x = n.add(prefix+"pad", zeroPad(top, 1, left, 1), x)
		pad = ir.PadValid
	}
	x = n.add(prefix+"depthwise", depthwise(n.channels(x), 3, stride, pad), x)
	x = n.add(prefix+"depthwise_BN", mobileBN(), x)
	x = n.add(prefix+"depthwise_relu", activation(ir.ActReLU6), x)
	x = n.add(prefix+"project", conv(pointwise, 1, 1, ir.PadSame, "", false), x)
	x = n.add(prefix+"project_BN", mobileBN(), x)
	if inCh == pointwise && stride == 1 {
		return n.add(prefix+"add", &ir.Merge{Op: ir.MergeAdd}, in, x)
	}
	return x
}

// makeDivisible rounds v to the nearest multiple of divisor, never going
// more than 10% below v (as Keras's _make_divisible).
func makeDivisible(v float64, divisor int) int {
	d := float64(divisor)
	nv := int(v+d/2) / divisor * divisor
	if nv < divisor {
		nv = divisor
	}
	if float64(nv) < 0.9*v {
		nv += divisor
	}
	return nv
}
