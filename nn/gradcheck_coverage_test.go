package nn

import (
	"math"
	"math/rand"
	"sort"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// The project rule: every layer kind's backward pass has a float64
// numerical gradient check. gradCheckedBy records, for each ir kind, the
// tests that check it; TestEveryKindIsGradChecked fails when a kind is
// registered without an entry, so adding a kind means adding its check.
var gradCheckedBy = map[string][]string{
	"Activation":         {"TestGradShapeOps", "TestGradActivationLayerAll"},
	"AvgPool1D":          {"TestGradPool", "TestGradCoverageVariants/pool"},
	"AvgPool2D":          {"TestGradPool"},
	"AvgPool3D":          {"TestGradPool3D"},
	"BatchNorm":          {"TestGradBatchNorm", "TestGradBatchNormFrozenUsesStoredStats", "TestGradCoverageVariants/bn", "TestGradBatchNorm5D"},
	"Bidirectional":      {"TestBidirectionalGradients", "TestRnnNetworkGradients"},
	"Concat":             {"TestGradConcat", "TestGradConcatThreeInputs"},
	"Conv1D":             {"TestGradConv1D", "TestGradCoverageVariants/conv1d"},
	"Conv2D":             {"TestGradConv2D", "TestGradConvBatchChunks", "TestGradConvFastPaths", "TestGradCoverageVariants/dw"},
	"Conv3D":             {"TestGradConv3D", "TestConvTilesMatchWholePlane/3d_pad_dil"},
	"ConvTranspose1D":    {"TestGradConvTranspose1D"},
	"ConvTranspose2D":    {"TestGradConvTranspose2D", "TestGradCoverageVariants/convt"},
	"ConvTranspose3D":    {"TestGradConvTranspose3D"},
	"Dense":              {"TestGradDenseActivations", "TestGradDenseRank3NoBias"},
	"DepthToSpace":       {"TestGradShapeOps"},
	"Dropout":            {"TestGradShapeOps", "TestGradSmallCNNGraph"},
	"Embedding":          {"TestEmbeddingGradient", "TestRnnNetworkGradients", "TestEmbeddingMaskZero"},
	"Flatten":            {"TestGradShapeOps"},
	"GRU":                {"TestRecurrentGradients", "TestRnnNetworkGradients"},
	"GlobalAvgPool1D":    {"TestGradPool", "TestGradGlobalAvgPoolMasked"},
	"GlobalAvgPool2D":    {"TestGradPool"},
	"GlobalAvgPool3D":    {"TestGradPool3D"},
	"GlobalMaxPool1D":    {"TestGradPool"},
	"GlobalMaxPool2D":    {"TestGradPool"},
	"GlobalMaxPool3D":    {"TestGradPool3D"},
	"LSTM":               {"TestRecurrentGradients", "TestRnnNetworkGradients"},
	"LastTimeStep":       {"TestSequenceUtilityGradients"},
	"InstanceNorm":       {"TestGradInstanceNorm"},
	"Tile":               {"TestGradTile"},
	"LayerNorm":          {"TestGradLayerNorm", "TestGradCoverageVariants/ln"},
	"Masking":            {"TestSequenceUtilityGradients", "TestGradMaskingNonZeroValue"},
	"MaxPool1D":          {"TestGradPool", "TestGradCoverageVariants/pool", "TestGradPoolDilated"},
	"MaxPool2D":          {"TestGradPool", "TestGradPoolDilated"},
	"MaxPool3D":          {"TestGradPool3D", "TestGradPoolDilated"},
	"MultiHeadAttention": {"TestGradMultiHeadAttention"},
	"Attention":          {"TestGradAttention"},
	"Merge":              {"TestGradMerge"},
	"Output":             {"TestGradOutputLosses", "TestGradOutputMaskedSequence"},
	"PReLU":              {"TestGradShapeOps", "TestGradCoverageVariants/prelu"},
	"Pad":                {"TestGradShapeOps", "TestGradCoverageVariants/pad"},
	"Permute":            {"TestGradShapeOps"},
	"Reduce":             {"TestGradShapeOps", "TestGradCoverageVariants/reduce"},
	"RepeatVector":       {"TestSequenceUtilityGradients"},
	"Rescaling":          {"TestGradShapeOps"},
	"Reshape":            {"TestGradShapeOps"},
	"RnnOutput":          {"TestRnnNetworkGradients", "TestGradRnnOutputVariants"},
	"SeparableConv2D":    {"TestGradSeparableConv2D", "TestGradCoverageVariants/sep"},
	"SimpleRNN":          {"TestRecurrentGradients"},
	"Slice":              {"TestGradShapeOps", "TestGradCoverageVariants/slice"},
	"SpaceToDepth":       {"TestGradShapeOps"},
	"Unary":              {"TestGradShapeOps", "TestGradCoverageVariants/unary"},
	"UpSampling":         {"TestGradShapeOps", "TestGradCoverageVariants/up"},
	"Cropping":           {"TestGradShapeOps", "TestGradCoverageVariants/crop"},
	"TensorMatMul":       {"TestGradTensorMatMul"},
	"TensorTranspose":    {"TestGradTensorMatMul", "TestGradTensorShapeOps"},
	"TensorReshape":      {"TestGradTensorShapeOps"},
	"TensorSlice":        {"TestGradTensorShapeOps"},
	"TensorConcat":       {"TestGradTensorShapeOps"},
	"TensorGather":       {"TestGradTensorShapeOps"},
	"TensorExpand":       {"TestGradTensorShapeOps"},
	"TensorTile":         {"TestGradTensorShapeOps"},
	"TensorBinary":       {"TestGradTensorBinary"},
	"TensorWhere":        {"TestGradTensorWhere"},
	"TensorUnary":        {"TestGradTensorUnaryActivation"},
	"TensorActivation":   {"TestGradTensorUnaryActivation"},
	"TensorSoftmax":      {"TestGradTensorSoftmaxLayerNorm"},
	"TensorLayerNorm":    {"TestGradTensorSoftmaxLayerNorm"},
	"TensorReduce":       {"TestGradTensorReduce"},
	"TensorConstant":     {"TestGradTensorConstant"},
	"TensorEinsum":       {"TestGradTensorEinsum"},
	// A fixed Constant has nothing to differentiate (TestGradMerge runs one
	// through Backward); a trainable one (class token) is checked on its own.
	"Constant": {"TestGradMerge", "TestGradTrainableConstant"},
}

// engineCannotRun lists ir kinds the engine deliberately has no op for.
var engineCannotRun = map[string]string{}

func TestEveryKindHasAnOp(t *testing.T) {
	kinds := map[string]bool{}
	for _, k := range ir.Kinds() {
		kinds[k] = true
		_, has := opRegistry[k]
		_, allowed := engineCannotRun[k]
		switch {
		case !has && !allowed:
			t.Errorf("ir kind %q has no nn op: RegisterOp it, or list it in engineCannotRun with the reason", k)
		case has && allowed:
			t.Errorf("ir kind %q has an nn op but is listed in engineCannotRun", k)
		}
	}
	var stale []string
	for k := range opRegistry {
		if !kinds[k] {
			stale = append(stale, k)
		}
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		t.Errorf("nn ops registered for kinds ir does not know: %v", stale)
	}
}

func TestEveryKindIsGradChecked(t *testing.T) {
	for _, k := range ir.Kinds() {
		if len(gradCheckedBy[k]) == 0 {
			t.Errorf("ir kind %q has no numerical gradient check listed in gradCheckedBy: add one", k)
		}
	}
	for k := range gradCheckedBy {
		if _, err := ir.NewLayer(k); err != nil {
			t.Errorf("gradCheckedBy lists %q, which ir does not register", k)
		}
	}
}

// TestGradCoverageVariants checks variants the per-family tests leave out.
func TestGradCoverageVariants(t *testing.T) {
	type tc struct {
		name   string
		in     []int
		l      ir.Layer
		lo, hi float64
	}
	cases := []tc{
		// pure depthwise 3×3 (the row kernel): stride 1 padded, stride 2
		// with asymmetric pads, ×2 multiplier read in place, 1-D depthwise
		{"dw/3x3_same", []int{3, 6, 9}, &ir.Conv{Rank: 2, Filters: 3, Groups: 3, Kernel: []int{3, 3}, Padding: ir.PadSame}, -1, 1},
		{"dw/3x3_s2_explicit", []int{2, 7, 9}, &ir.Conv{Rank: 2, Filters: 2, Groups: 2, Kernel: []int{3, 3}, Strides: []int{2, 2}, Padding: ir.PadExplicit, Pads: []int{0, 1, 1, 0}, Activation: ir.Act(ir.ActReLU6)}, -1, 1},
		{"dw/3x3_x2_valid_rowdil", []int{2, 8, 8}, &ir.Conv{Rank: 2, Filters: 4, Groups: 2, Kernel: []int{3, 3}, Dilations: []int{2, 1}, Padding: ir.PadValid, NoBias: true}, -1, 1},
		{"conv1d/depthwise_s2_dil", []int{3, 11}, &ir.Conv{Rank: 1, Filters: 6, Groups: 3, Kernel: []int{3}, Strides: []int{2}, Dilations: []int{2}, Padding: ir.PadSameLow}, -1, 1},
		// ConvTranspose2D with groups together with output padding, same
		// padding and same_low
		{"convt/groups_outpad_s2", []int{4, 3, 4}, &ir.ConvTranspose2D{Filters: 4, Groups: 2, Kernel: []int{3, 3}, Strides: []int{2, 2}, Padding: ir.PadExplicit, Pads: []int{1, 1, 0, 1}, OutputPadding: []int{1, 1}}, -1, 1},
		{"convt/groups_same_outpad", []int{4, 3, 3}, &ir.ConvTranspose2D{Filters: 6, Groups: 2, Kernel: []int{2, 3}, Strides: []int{2, 3}, Padding: ir.PadSame, OutputPadding: []int{1, 2}, Activation: ir.Act(ir.ActTanh)}, -1, 1},
		{"convt/same_low_dil", []int{2, 4, 3}, &ir.ConvTranspose2D{Filters: 3, Kernel: []int{3, 2}, Strides: []int{2, 1}, Dilations: []int{1, 2}, Padding: ir.PadSameLow, NoBias: true}, -1, 1},
		// SeparableConv2D: multiplier 2 with dilation and explicit pads, no
		// bias; multiplier 3 strided same
		{"sep/dm2_dil_explicit_nobias", []int{2, 6, 7}, &ir.SeparableConv2D{Filters: 3, Kernel: []int{3, 3}, DepthMultiplier: 2, Dilations: []int{1, 2}, Padding: ir.PadExplicit, Pads: []int{1, 0, 2, 1}, NoBias: true}, -1, 1},
		{"sep/dm3_s2_same", []int{2, 5, 6}, &ir.SeparableConv2D{Filters: 2, Kernel: []int{3, 3}, DepthMultiplier: 3, Strides: []int{2, 2}, Padding: ir.PadSame, Activation: ir.Act(ir.ActSigmoid)}, -1, 1},
		// BatchNorm (training mode: batch statistics) with scale and center
		// over axis 1 of a sequence and over the last axis of [C, H, W]
		{"bn/seq_axis1_scale_center", []int{5, 3}, &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.9, Axis: 1}, -1, 2},
		{"bn/axis2_of_rank3", []int{2, 3, 4}, &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.9, Axis: 2}, -1, 2},
		// LayerNorm over all axes, over the last two by a negative axis,
		// scale without center
		{"ln/all_axes", []int{2, 3, 4}, &ir.LayerNorm{Epsilon: 1e-3, Axis: 0}, -1, 2},
		{"ln/axis_minus2", []int{2, 3, 4}, &ir.LayerNorm{Epsilon: 1e-3, Axis: -2}, -1, 2},
		{"ln/scale_only", []int{3, 5}, &ir.LayerNorm{Epsilon: 1e-5, Axis: -1, NoCenter: true}, -1, 2},
		// PReLU shared over spatial axes (Keras conv usage) and over axis 0
		{"prelu/shared_spatial", []int{3, 4, 5}, &ir.PReLU{SharedAxes: []int{1, 2}}, -1, 1},
		{"prelu/shared_axis0", []int{3, 4}, &ir.PReLU{SharedAxes: []int{0}}, -1, 1},
		// Reduce: max over two axes keeping them, mean keeping, sum of all
		{"reduce/max_two_axes_keep", []int{2, 3, 4}, &ir.Reduce{Op: "max", Axes: []int{0, 2}, KeepDims: true}, -1, 1},
		{"reduce/mean_keep", []int{2, 3, 4}, &ir.Reduce{Op: "mean", Axes: []int{-2}, KeepDims: true}, -1, 1},
		{"reduce/sum_all", []int{2, 3, 4}, &ir.Reduce{Op: "sum", Axes: []int{0, 1, 2}}, -1, 1},
		{"reduce/max_axis0", []int{3, 4}, &ir.Reduce{Op: "max", Axes: []int{0}}, -1, 1},
		// UpSampling: nearest 1-D, linear with a factor 1 axis, linear over
		// a size-1 axis
		{"up/nearest_1d", []int{2, 4}, &ir.UpSampling{Rank: 1, Size: []int{3}, Mode: "nearest"}, -1, 1},
		{"up/linear_factor1", []int{2, 3, 4}, &ir.UpSampling{Rank: 2, Size: []int{1, 2}, Mode: "linear"}, -1, 1},
		{"up/linear_size1_axis", []int{2, 1, 3}, &ir.UpSampling{Rank: 2, Size: []int{3, 2}, Mode: "linear"}, -1, 1},
		{"up/linear_big_factor", []int{1, 3, 2}, &ir.UpSampling{Rank: 2, Size: []int{4, 5}, Mode: "linear"}, -1, 1},
		// Pad: edge 2-D, reflect 1-D with the largest pads, constant 1-D,
		// reflect 2-D with pads of size-1 on both sides
		{"pad/edge_2d", []int{2, 3, 4}, &ir.Pad{Rank: 2, Mode: ir.PadEdge, Pads: []int{1, 3, 2, 1}}, -1, 1},
		{"pad/reflect_1d_max", []int{3, 5}, &ir.Pad{Rank: 1, Mode: ir.PadReflect, Pads: []int{4, 4}}, -1, 1},
		{"pad/constant_1d", []int{3, 5}, &ir.Pad{Rank: 1, Mode: ir.PadConstant, Pads: []int{0, 2}, Value: -0.3}, -1, 1},
		{"pad/reflect_2d_max", []int{2, 3, 4}, &ir.Pad{Rank: 2, Mode: ir.PadReflect, Pads: []int{2, 3, 2, 3}}, -1, 1},
		{"pad/edge_beyond_size", []int{2, 2}, &ir.Pad{Rank: 1, Mode: ir.PadEdge, Pads: []int{5, 3}}, -1, 1},
		// Cropping 1-D
		{"crop/1d", []int{3, 7}, &ir.Cropping{Rank: 1, Crops: []int{2, 1}}, -1, 1},
		// Slice: full reversal, negative step from a negative start to the
		// beginning, positive step 3, channel axis by a negative axis
		{"slice/reverse_all", []int{2, 5}, &ir.Slice{Axes: []int{1}, Starts: []int{-1}, Ends: []int{-100}, Steps: []int{-1}}, -1, 1},
		{"slice/neg_step3", []int{2, 7, 3}, &ir.Slice{Axes: []int{1}, Starts: []int{-2}, Ends: []int{-100}, Steps: []int{-3}}, -1, 1},
		{"slice/step3", []int{2, 8}, &ir.Slice{Axes: []int{1}, Starts: []int{1}, Ends: []int{8}, Steps: []int{3}}, -1, 1},
		{"slice/neg_axis", []int{4, 3, 2}, &ir.Slice{Axes: []int{-3, -1}, Starts: []int{1, 0}, Ends: []int{-1, 1}}, -1, 1},
		// Pooling 1-D variants TestGradPool lacks
		{"pool/max1d_same_s2", []int{2, 9}, &ir.Pool{Rank: 1, Op: ir.PoolMax, Kernel: []int{3}, Strides: []int{2}, Padding: ir.PadSame}, -1, 1},
		{"pool/max1d_ceil_explicit", []int{2, 8}, &ir.Pool{Rank: 1, Op: ir.PoolMax, Kernel: []int{3}, Strides: []int{2}, Padding: ir.PadExplicit, Pads: []int{1, 1}, CeilMode: true}, -1, 1},
		{"pool/avg1d_include_pad", []int{2, 8}, &ir.Pool{Rank: 1, Op: ir.PoolAvg, Kernel: []int{3}, Strides: []int{2}, Padding: ir.PadExplicit, Pads: []int{1, 2}, CountIncludePad: true}, -1, 1},
	}
	// Unary ops on inputs of both signs (TestGradShapeOps uses [0.5, 2]
	// for every op, where abs and neg are trivial).
	for _, op := range []ir.UnaryOp{ir.UnaryNeg, ir.UnaryAbs, ir.UnaryErf, ir.UnarySquare, ir.UnaryExp} {
		cases = append(cases, tc{"unary/" + string(op) + "_signed", []int{3, 4}, &ir.Unary{Op: op}, -2, 2})
	}
	cases = append(cases,
		tc{"unary/pow_int_negative_base", []int{3, 4}, &ir.Unary{Op: ir.UnaryPow, Exponent: 3}, -2, 2},
		tc{"unary/pow_negative_exp", []int{3, 4}, &ir.Unary{Op: ir.UnaryPow, Exponent: -0.5}, 0.5, 2},
		tc{"unary/reciprocal_negative", []int{3, 4}, &ir.Unary{Op: ir.UnaryReciprocal}, -2, -0.5},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			coreCheckLayer(t, "cov_"+c.name, c.in, c.l, c.lo, c.hi)
		})
	}
}

// Every activation through the Activation layer (TestGradDenseActivations
// runs them fused into Dense), on a rank-3 input with odd sizes, softmax
// over the middle axis.
func TestGradActivationLayerAll(t *testing.T) {
	for _, k := range ir.KnownActivations {
		act := ir.Activation{Kind: k}
		lo, hi := -2.0, 2.0
		switch k {
		case ir.ActLeakyReLU:
			act.Alpha = 0.1
		case ir.ActELU:
			act.Alpha = 0.7
		case ir.ActThresholdReLU:
			act.Alpha = 0.2
		case ir.ActClip:
			act.Alpha, act.Beta = -0.5, 0.6
		case ir.ActHardSigmoid:
			act.Alpha, act.Beta = 0.3, 0.4
			lo, hi = -4, 4 // both clamps and the slope
		case ir.ActReLU6:
			lo, hi = -3, 9
		case ir.ActSoftmax, ir.ActLogSoftmax:
			act.Axis = 1
		}
		t.Run(string(k), func(t *testing.T) {
			coreCheckLayer(t, "act_"+string(k), []int{3, 5, 7}, &ir.ActivationLayer{Activation: act}, lo, hi)
		})
	}
}

func TestGradConcatThreeInputs(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	g := &ir.Graph{Name: "concat3",
		Inputs: []ir.Input{{Name: "a", Shape: []int{2, 3}}, {Name: "b", Shape: []int{1, 3}}},
		Vertices: []*ir.Vertex{
			// b read twice: its gradient sums both slices
			{Name: "c", Layer: &ir.Concat{Axis: 0}, Inputs: []string{"a", "b", "b"}},
		},
		Outputs: []ir.GraphOutput{{Name: "c", Vertex: "c"}}}
	GradCheck(t, g, []*ir.Tensor{RandTensor(rng, -1, 1, 2, 2, 3), RandTensor(rng, -1, 1, 2, 1, 3)}, nil)
}

func TestGradMaskingNonZeroValue(t *testing.T) {
	x := make([]float64, 2*4*3)
	for i := range x {
		x[i] = float64(i%5)*0.4 - 0.7
	}
	pad := map[int]bool{2: true, 4: true} // steps (0,2) and (1,0)
	for s := range pad {
		x[3*s], x[3*s+1], x[3*s+2] = -1, -1, -1
	}
	rnnOpCheck{layer: &ir.Masking{Value: -1}, in: []int{4, 3}, batch: 2, x: x,
		skipInput: func(i int) bool { return pad[i/3] }}.run(t)
}

// RnnOutput without bias, from logits, and with a sparse loss under an
// input mask.
func TestGradRnnOutputVariants(t *testing.T) {
	rng := rand.New(rand.NewSource(13))
	mask := ir.FromData([]float32{1, 1, 0, 0, 1, 1, 1, 1}, 2, 4)
	for _, c := range []struct {
		name string
		l    *ir.RnnOutput
	}{
		{"nobias_mse", &ir.RnnOutput{Units: 3, NoBias: true, Activation: ir.Act(ir.ActTanh), Loss: ir.LossMSE}},
		{"logits_mcxent", &ir.RnnOutput{Units: 3, FromLogits: true, Loss: ir.LossMCXENT}},
		{"sparse_softmax", &ir.RnnOutput{Units: 3, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossSparseMCXENT}},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := coreInit(t, Sequential("rnnout_"+c.name, []int{4, 2}, c.l), 5)
			var y *ir.Tensor
			switch c.l.Loss {
			case ir.LossSparseMCXENT:
				y = ir.NewTensor(2, 4)
				for i := range y.Data {
					y.Data[i] = float32(rng.Intn(3))
				}
			case ir.LossMCXENT:
				y = rnnOneHotSeq(rng, 2, 4, 3)
			default:
				y = RandTensor(rng, -1, 1, 2, 4, 3)
			}
			GradCheck(t, g, []*ir.Tensor{RandTensor(rng, -1, 1, 2, 4, 2)}, []*ir.Tensor{y}, GradCheckOptions{InputMask: mask})
		})
	}
}

// The gradient checks run on float64; float32 has its own kernels (SIMD
// activation loops, the fast GEMM, the 3×3 depthwise row kernel). Its
// backward must give the same gradients within float32 rounding.
func TestFloat32BackwardMatchesFloat64(t *testing.T) {
	cases := []struct {
		name string
		in   []int
		ls   []ir.Layer
	}{
		{"dense_big", []int{70}, []ir.Layer{&ir.Dense{Units: 65, Activation: ir.Act(ir.ActReLU6)}, &ir.Dense{Units: 33, Activation: ir.Act(ir.ActHardSigmoid)}}},
		{"conv_pointwise", []int{8, 9, 11}, []ir.Layer{&ir.Conv{Rank: 2, Filters: 16, Kernel: []int{1, 1}, Padding: ir.PadValid, Activation: ir.Activation{Kind: ir.ActClip, Alpha: -0.3, Beta: 0.4}}}},
		{"conv_dw3x3", []int{6, 13, 17}, []ir.Layer{&ir.Conv{Rank: 2, Filters: 6, Groups: 6, Kernel: []int{3, 3}, Padding: ir.PadSame},
			&ir.Conv{Rank: 2, Filters: 6, Groups: 6, Kernel: []int{3, 3}, Strides: []int{2, 2}, Padding: ir.PadValid, Activation: ir.Act(ir.ActReLU)}}},
		{"conv_bias_swish", []int{4, 10, 10}, []ir.Layer{&ir.Conv{Rank: 2, Filters: 16, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: ir.Act(ir.ActSwish)}, // the padded path's per-plane bias and activation against float64's im2col
			&ir.Conv{Rank: 2, Filters: 16, Kernel: []int{3, 3}, Strides: []int{2, 2}, Padding: ir.PadSame, Activation: ir.Act(ir.ActELU)}}},
		{"conv_bn_rescale", []int{4, 10, 10}, []ir.Layer{&ir.Conv{Rank: 2, Filters: 8, Kernel: []int{3, 3}, Padding: ir.PadSame, NoBias: true}, // a bias before BN has gradient 0
			&ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.9}, &ir.Rescaling{Scale: 0.7, Offset: 0.1}, &ir.ActivationLayer{Activation: ir.Act(ir.ActReLU6)}}},
		{"sep_convt", []int{3, 8, 9}, []ir.Layer{&ir.SeparableConv2D{Filters: 5, Kernel: []int{3, 3}, DepthMultiplier: 2, Padding: ir.PadSame},
			&ir.ConvTranspose2D{Filters: 4, Kernel: []int{3, 3}, Strides: []int{2, 2}, Padding: ir.PadSame}}},
		{"lstm", []int{6, 5}, []ir.Layer{&ir.LSTM{Units: 7, Activation: ir.Act(ir.ActTanh), RecurrentActivation: ir.Act(ir.ActSigmoid), ReturnSequences: true}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := coreInit(t, Sequential("f32_"+c.name, c.in, c.ls...), 17)
			rng := rand.New(rand.NewSource(19))
			x := RandTensor(rng, -1, 1, append([]int{4}, c.in...)...)
			var seed *ir.Tensor
			g64 := gradsOf[float64](t, g.Clone(), x, &seed, rng)
			g32 := gradsOf[float32](t, g.Clone(), x, &seed, rng)
			for name, want := range g64 {
				got := g32[name]
				var scale float64
				for _, v := range want {
					scale = math.Max(scale, math.Abs(v))
				}
				for i, w := range want {
					if d := math.Abs(got[i] - w); d > 1e-4*scale+1e-6 {
						t.Fatalf("%s[%d]: float32 %.7g, float64 %.7g (largest |grad| %.3g)", name, i, got[i], w, scale)
					}
				}
			}
		})
	}
}

// gradsOf runs one training forward and a backward seeded with *seed (made
// on first use) and returns every parameter and input gradient in float64.
func gradsOf[F Float](t *testing.T, g *ir.Graph, x *ir.Tensor, seed **ir.Tensor, rng *rand.Rand) map[string][]float64 {
	t.Helper()
	n, err := CompileWith[F](g, Options{InputGrads: true})
	if err != nil {
		t.Fatal(err)
	}
	outs, err := n.Forward([]*Mat[F]{MatFromTensor[F](x)}, true)
	if err != nil {
		t.Fatal(err)
	}
	if *seed == nil {
		*seed = RandTensor(rng, -1, 1, outs[0].Shape...)
	}
	if err := n.Backward([]*Mat[F]{MatFromTensor[F](*seed)}); err != nil {
		t.Fatal(err)
	}
	res := map[string][]float64{}
	for _, nd := range n.nodes {
		for k, gr := range nd.params.Grads {
			res[nd.v.Name+"/"+k] = toF64(gr.Data)
		}
	}
	res["input"] = toF64(n.InputGrad("input").Data)
	if len(res) < 2 {
		t.Fatalf("only %d gradients", len(res))
	}
	return res
}

func toF64[F Float](xs []F) []float64 {
	out := make([]float64, len(xs))
	for i, v := range xs {
		out[i] = float64(v)
	}
	return out
}
