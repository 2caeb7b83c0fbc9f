package zoo

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

// ResNet50 builds Keras Applications' ResNet50 (v1, default input
// 224x224x3): conv1_pad, conv1_conv, conv1_bn, conv1_relu, pool1_pad,
// pool1_pool, stages conv2..conv5 of bottleneck blocks named
// convS_blockB_{0,1,2,3}_{conv,bn}, _add and _out, then avg_pool and
// predictions.
func ResNet50(o Options) (*ir.Graph, error) {
	const model = "resnet50"
	if err := checkTopOptions(model, o); err != nil {
		return nil, err
	}
	shape, err := imageInput(model, o, []int{224, 224, 3}, 32)
	if err != nil {
		return nil, err
	}
	n := newNet(model, "input_1", shape, ir.LayoutNHWC)
	x := n.add("conv1_pad", zeroPad(3, 3, 3, 3), "input_1")
	x = n.add("conv1_conv", conv(64, 7, 2, ir.PadValid, "", true), x)
	x = n.add("conv1_bn", resnetBN(), x)
	x = n.add("conv1_relu", activation(ir.ActReLU), x)
	x = n.add("pool1_pad", zeroPad(1, 1, 1, 1), x)
	x = n.add("pool1_pool", maxPool(3, 2, ir.PadValid), x)

	stages := []struct {
		filters, blocks, stride int
	}{{64, 3, 1}, {128, 4, 2}, {256, 6, 2}, {512, 3, 2}}
	for s, st := range stages {
		for b := 1; b <= st.blocks; b++ {
			stride := 1
			if b == 1 {
				stride = st.stride
			}
			x = bottleneck(n, x, st.filters, stride, b == 1, fmt.Sprintf("conv%d_block%d", s+2, b))
		}
	}
	if o.IncludeTop {
		x = n.add("avg_pool", globalPool(ir.PoolAvg), x)
		x = n.add("predictions", softmaxOutput(classesOr(o, 1000)), x)
	} else {
		x = n.pooledTop(x, o, "avg_pool", "max_pool")
	}
	return n.finish(x, o)
}

func resnetBN() *ir.BatchNorm { return batchNorm(1.001e-5, 0.99) }

// bottleneck is Keras's residual_block_v1.
func bottleneck(n *net, in string, filters, stride int, convShortcut bool, name string) string {
	shortcut := in
	if convShortcut {
		shortcut = n.add(name+"_0_conv", conv(4*filters, 1, stride, ir.PadValid, "", true), in)
		shortcut = n.add(name+"_0_bn", resnetBN(), shortcut)
	}
	x := n.add(name+"_1_conv", conv(filters, 1, stride, ir.PadValid, "", true), in)
	x = n.add(name+"_1_bn", resnetBN(), x)
	x = n.add(name+"_1_relu", activation(ir.ActReLU), x)
	x = n.add(name+"_2_conv", conv(filters, 3, 1, ir.PadSame, "", true), x)
	x = n.add(name+"_2_bn", resnetBN(), x)
	x = n.add(name+"_2_relu", activation(ir.ActReLU), x)
	x = n.add(name+"_3_conv", conv(4*filters, 1, 1, ir.PadValid, "", true), x)
	x = n.add(name+"_3_bn", resnetBN(), x)
	x = n.add(name+"_add", &ir.Merge{Op: ir.MergeAdd}, shortcut, x)
	return n.add(name+"_out", activation(ir.ActReLU), x)
}
