package zoo

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

// VGG16 builds Keras Applications' VGG16 (default input 224x224x3).
// With IncludeTop the input must be 224x224 (fc1 is sized for 7x7x512).
func VGG16(o Options) (*ir.Graph, error) { return vgg("vgg16", []int{2, 2, 3, 3, 3}, o) }

// VGG19 builds Keras Applications' VGG19.
func VGG19(o Options) (*ir.Graph, error) { return vgg("vgg19", []int{2, 2, 4, 4, 4}, o) }

func vgg(model string, convs []int, o Options) (*ir.Graph, error) {
	if err := checkTopOptions(model, o); err != nil {
		return nil, err
	}
	shape, err := imageInput(model, o, []int{224, 224, 3}, 32)
	if err != nil {
		return nil, err
	}
	n := newNet(model, "input_1", shape, ir.LayoutNHWC)
	x := "input_1"
	filters := []int{64, 128, 256, 512, 512}
	for b, count := range convs {
		for i := 1; i <= count; i++ {
			x = n.add(fmt.Sprintf("block%d_conv%d", b+1, i), conv(filters[b], 3, 1, ir.PadSame, ir.ActReLU, true), x)
		}
		x = n.add(fmt.Sprintf("block%d_pool", b+1), maxPool(2, 2, ir.PadValid), x)
	}
	if o.IncludeTop {
		x = n.add("flatten", &ir.Flatten{}, x)
		x = n.add("fc1", dense(4096, ir.ActReLU), x)
		x = n.add("fc2", dense(4096, ir.ActReLU), x)
		x = n.add("predictions", softmaxOutput(classesOr(o, 1000)), x)
	} else {
		x = n.pooledTop(x, o, "global_average_pooling2d", "global_max_pooling2d")
	}
	return n.finish(x, o)
}
