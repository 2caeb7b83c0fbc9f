package zoo

import (
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// Keras's model.count_params() at 224x224x3 with the top, from the Keras
// Applications documentation table; AlexNet as torchvision's alexnet().
func TestPublishedParamCounts(t *testing.T) {
	cases := []struct {
		name  string
		build func(Options) (*ir.Graph, error)
		want  int64
	}{
		{"vgg16", VGG16, 138357544},
		{"vgg19", VGG19, 143667240},
		{"resnet50", ResNet50, 25636712},
		{"mobilenetv2", MobileNetV2, 3538984},
		{"alexnet", AlexNet, 61100840},
	}
	for _, c := range cases {
		g, err := c.build(Options{IncludeTop: true, ShapeOnly: true})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, err := ParamCount(g)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got != c.want {
			t.Errorf("%s: %d parameters, Keras publishes %d", c.name, got, c.want)
		}
	}
}

// Headless counts as Keras reports them (include_top=False).
func TestNoTopParamCounts(t *testing.T) {
	cases := []struct {
		name  string
		build func(Options) (*ir.Graph, error)
		want  int64
	}{
		{"vgg16", VGG16, 14714688},
		{"resnet50", ResNet50, 23587712},
		{"mobilenetv2", MobileNetV2, 2257984},
	}
	for _, c := range cases {
		g, err := c.build(Options{ShapeOnly: true, Pooling: "avg"})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, _ := ParamCount(g)
		if got != c.want {
			t.Errorf("%s notop: %d parameters, want %d", c.name, got, c.want)
		}
	}
}

func TestKerasLayerNames(t *testing.T) {
	g, err := ResNet50(Options{IncludeTop: true, ShapeOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"conv1_pad", "conv1_conv", "conv1_bn", "conv1_relu", "pool1_pad", "pool1_pool",
		"conv2_block1_0_conv", "conv2_block1_1_conv", "conv2_block3_out", "conv3_block4_add", "conv4_block6_out",
		"conv5_block3_3_bn", "avg_pool", "predictions"} {
		if g.Vertex(n) == nil {
			t.Errorf("resnet50 lacks vertex %q", n)
		}
	}
	if g.Vertex("conv2_block2_0_conv") != nil {
		t.Error("identity blocks have no shortcut conv")
	}
	m, _ := MobileNetV2(Options{IncludeTop: true, ShapeOnly: true})
	for _, n := range []string{"Conv1", "bn_Conv1", "Conv1_relu", "expanded_conv_depthwise", "expanded_conv_depthwise_BN",
		"expanded_conv_project", "expanded_conv_project_BN", "block_1_expand", "block_1_pad", "block_1_depthwise",
		"block_2_add", "block_16_project_BN", "Conv_1", "Conv_1_bn", "out_relu", "predictions"} {
		if m.Vertex(n) == nil {
			t.Errorf("mobilenetv2 lacks vertex %q", n)
		}
	}
	if m.Vertex("block_1_add") != nil || m.Vertex("expanded_conv_add") != nil {
		t.Error("blocks that change width or stride have no residual add")
	}
	v, _ := VGG16(Options{IncludeTop: true, ShapeOnly: true})
	var names []string
	for _, x := range v.Vertices {
		names = append(names, x.Name)
	}
	want := []string{"block1_conv1", "block1_conv2", "block1_pool", "block2_conv1", "block2_conv2", "block2_pool",
		"block3_conv1", "block3_conv2", "block3_conv3", "block3_pool", "block4_conv1", "block4_conv2", "block4_conv3",
		"block4_pool", "block5_conv1", "block5_conv2", "block5_conv3", "block5_pool", "flatten", "fc1", "fc2", "predictions"}
	if len(names) != len(want) {
		t.Fatalf("vgg16 vertices %v", names)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("vgg16 vertex %d is %q, want %q", i, names[i], want[i])
		}
	}
}

func TestShapesAndLayouts(t *testing.T) {
	g, _ := ResNet50(Options{IncludeTop: true, ShapeOnly: true})
	s, err := g.Shapes()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]int{
		"input_1": {3, 224, 224}, "conv1_conv": {64, 112, 112}, "pool1_pool": {64, 56, 56},
		"conv2_block3_out": {256, 56, 56}, "conv3_block1_out": {512, 28, 28}, "conv5_block3_out": {2048, 7, 7}, "predictions": {1000},
	} {
		if !ir.SameShape(s[name], want) {
			t.Errorf("%s: shape %v, want %v", name, s[name], want)
		}
	}
	if g.Inputs[0].Layout != ir.LayoutNHWC {
		t.Errorf("layout %q", g.Inputs[0].Layout)
	}
	m, _ := MobileNetV2(Options{IncludeTop: true, ShapeOnly: true})
	ms, _ := m.Shapes()
	if !ir.SameShape(ms["out_relu"], []int{1280, 7, 7}) || !ir.SameShape(ms["block_1_pad"], []int{96, 113, 113}) {
		t.Errorf("mobilenet shapes out_relu %v block_1_pad %v", ms["out_relu"], ms["block_1_pad"])
	}
	// odd input: Keras pads one on each side
	m2, err := MobileNetV2(Options{InputShape: []int{97, 97, 3}, ShapeOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	ms2, _ := m2.Shapes()
	if !ir.SameShape(ms2["block_1_pad"], []int{96, 51, 51}) {
		t.Errorf("odd input block_1_pad %v", ms2["block_1_pad"])
	}
}

func TestAlphaAndClasses(t *testing.T) {
	// Keras: MobileNetV2(alpha=0.35, include_top=False).count_params()
	// is 410,208; a 10-class top adds 1280*10+10.
	g, err := MobileNetV2(Options{Alpha: 0.35, ShapeOnly: true, InputShape: []int{96, 96, 3}})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := ParamCount(g); n != 410208 {
		t.Errorf("mobilenetv2 alpha 0.35 notop: %d parameters", n)
	}
	g, _ = MobileNetV2(Options{IncludeTop: true, Alpha: 0.35, Classes: 10, ShapeOnly: true, InputShape: []int{96, 96, 3}})
	if n, _ := ParamCount(g); n != 410208+1280*10+10 {
		t.Errorf("mobilenetv2 alpha 0.35 with 10 classes: %d parameters", n)
	}
}

func TestValidateAllocated(t *testing.T) {
	builds := map[string]func() (*ir.Graph, error){
		"lenet":       func() (*ir.Graph, error) { return LeNet(Options{IncludeTop: true}) },
		"simplecnn":   func() (*ir.Graph, error) { return SimpleCNN(Options{IncludeTop: true}) },
		"mobilenetv2": func() (*ir.Graph, error) { return MobileNetV2(Options{IncludeTop: true}) },
		"vgg16-notop": func() (*ir.Graph, error) { return VGG16(Options{InputShape: []int{32, 32, 3}, Pooling: "max"}) },
		"resnet50":    func() (*ir.Graph, error) { return ResNet50(Options{InputShape: []int{32, 32, 3}, Pooling: "avg"}) },
		"alexnet":     func() (*ir.Graph, error) { return AlexNet(Options{InputShape: []int{63, 63, 3}, Pooling: "avg"}) },
		"textgen":     func() (*ir.Graph, error) { return TextGenLSTM(Options{InputShape: []int{10, 30}}) },
	}
	if testing.Short() {
		delete(builds, "resnet50")
		delete(builds, "vgg16-notop")
	}
	for name, b := range builds {
		g, err := b()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := g.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestBadOptions(t *testing.T) {
	if _, err := VGG16(Options{InputShape: []int{16, 16, 3}, ShapeOnly: true}); err == nil {
		t.Error("VGG16 accepted a 16x16 input")
	}
	if _, err := VGG16(Options{IncludeTop: true, InputShape: []int{64, 64, 3}, ShapeOnly: true}); err != nil {
		t.Errorf("a smaller input with the top still builds (fc1 sized to it): %v", err)
	}
	if _, err := ResNet50(Options{Pooling: "median"}); err == nil {
		t.Error("bad pooling accepted")
	}
	if _, err := TextGenLSTM(Options{InputShape: []int{5}}); err == nil {
		t.Error("rank-1 text input accepted")
	}
}

func TestLookup(t *testing.T) {
	for _, n := range []string{"ResNet50", "resnet-50", "mobilenet_v2", "VGG16"} {
		if _, err := Lookup(n); err != nil {
			t.Error(err)
		}
	}
	if _, err := Lookup("inception"); err == nil {
		t.Error("unknown model found")
	}
	m, _ := Lookup("lenet")
	if _, err := m.WeightsNamed("imagenet"); err == nil {
		t.Error("lenet has no weights")
	}
	w := MobileNetV2Weights(0.35, 96, false)
	if w.File != "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5" {
		t.Error(w.File)
	}
	if MobileNetV2Weights(1, 224, true).File != "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5" {
		t.Error("alpha 1 file name")
	}
}
