package keras

import (
	"fmt"
	"strings"

	"github.com/retarget-dev/retarget/internal/kerasclass"

	"github.com/retarget-dev/retarget/ir"
)

// writer appends the Keras layers of one vertex; in are its inputs as
// Keras tensors, P its parameters.
type writer func(c *converter, v *ir.Vertex, in []xt, P map[string]*ir.Tensor) error

var (
	writers = map[string]writer{}
	// cannot says, per kind, why no Keras layer holds it; the
	// UnsupportedError quotes it.
	cannot = map[string]string{}
	// limits says, per kind, which configurations no Keras layer holds
	// (the writer refuses them with an UnsupportedError).
	limits = map[string]string{}
)

// register makes f the writer of every kind whose config has the Go type
// of l (ir.KindsOf).
func register(l ir.Layer, f writer) {
	kinds := ir.KindsOf(l)
	if len(kinds) == 0 {
		panic(fmt.Sprintf("keras export: %T is no registered layer kind", l))
	}
	for _, k := range kinds {
		if _, dup := writers[k]; dup {
			panic("keras export: writer registered twice: " + k)
		}
		writers[k] = f
	}
}

// Adding a layer kind: one register line below (and its writer), or a
// cannot entry that says why; TestEveryKindHasAWriter fails until then.
// A kind with parameters also needs its Keras class in internal/kerasclass
// (LoadWeights reads files written for these models).
func init() {
	for _, l := range []ir.Layer{&ir.Dense{}, &ir.Output{}, &ir.RnnOutput{}} {
		register(l, writeDense)
	}
	register(&ir.ActivationLayer{}, writeActivationLayer)
	register(&ir.Dropout{}, writeDropout)
	register(&ir.Flatten{}, writeFlatten)
	register(&ir.Reshape{}, writeReshape)
	register(&ir.Permute{}, writePermute)
	register(&ir.RepeatVector{}, writeRepeatVector)
	register(&ir.Embedding{}, writeEmbedding)
	register(&ir.Masking{}, writeMasking)
	register(&ir.Rescaling{}, writeRescaling)
	register(&ir.PReLU{}, writePReLU)
	for _, l := range []ir.Layer{&ir.Conv{}, &ir.SeparableConv2D{}, &ir.ConvTranspose2D{}, &ir.Pool{},
		&ir.GlobalPool{}, &ir.Pad{}, &ir.Cropping{}, &ir.UpSampling{}} {
		register(l, writeSpatial)
	}
	register(&ir.BatchNorm{}, writeBatchNorm)
	register(&ir.LayerNorm{}, writeLayerNorm)
	register(&ir.Merge{}, writeMerge)
	register(&ir.Concat{}, writeConcat)
	for _, l := range []ir.Layer{&ir.SimpleRNN{}, &ir.LSTM{}, &ir.GRU{}} {
		register(l, writeRecurrent)
	}
	register(&ir.LastTimeStep{}, writeLastTimeStep)
	register(&ir.Bidirectional{}, writeBidirectional)
	register(&ir.MultiHeadAttention{}, writeMultiHeadAttention)
	register(&ir.Attention{}, writeAttention)

	limits["Activation"] = "log_softmax, hard_swish, gelu_tanh, mish and clip with a non-zero lower bound have no Keras activation"
	for _, k := range ir.KindsOf(&ir.Pool{}) {
		if strings.HasPrefix(k, "Max") {
			limits[k] = "dilated max pooling has no Keras layer"
		}
	}
	limits["Merge"] = "divide and pow have no Keras merge layer"
	limits["Pad"] = "reflect and edge padding and a non-zero constant have no Keras layer"
	limits["LSTM"] = "peephole connections have no Keras layer"
	limits["ConvTranspose2D"] = "grouped or explicitly padded transposed convolutions have no Keras layer"
	for _, k := range ir.TensorOpKinds() {
		if _, ok := writers[k]; ok {
			continue
		}
		cannot[k] = "a general tensor op (its batch may sit on any axis) has no Keras layer; export to ONNX or .rtm"
	}
	cannot["InstanceNorm"] = "core Keras has no InstanceNormalization layer (only add-on packages); export to ONNX or .rtm"
	cannot["Tile"] = "Keras has no tiling layer (RepeatVector repeats a vector only); export to ONNX or .rtm"
	cannot["Constant"] = "Keras has no layer that outputs a constant tensor; export to ONNX or .rtm"
	cannot["Unary"] = "Keras has no layer for element-wise sqrt/exp/log/neg/abs/erf/reciprocal/pow (only a Lambda, which is Python code); export to ONNX or .rtm"
	cannot["Slice"] = "Keras has no slicing layer (Cropping crops both ends of spatial axes only); export to ONNX or .rtm"
	cannot["DepthToSpace"] = "Keras has no depth-to-space layer (tf.nn.depth_to_space needs a Lambda); export to ONNX or .rtm"
	cannot["SpaceToDepth"] = "Keras has no space-to-depth layer (tf.nn.space_to_depth needs a Lambda); export to ONNX or .rtm"
	cannot["Reduce"] = "Keras has no reduction layer over arbitrary axes (only global pooling); export to ONNX or .rtm"
}

// Unsupported maps each layer kind the Keras exporter cannot write to the
// reason. The map is a copy.
func Unsupported() map[string]string {
	out := map[string]string{}
	for k, why := range cannot {
		out[k] = why
	}
	return out
}

// class is the Keras class of a vertex with parameters (internal/kerasclass).
func (c *converter) class(v *ir.Vertex) string {
	return kerasclass.Of(v.Layer, v.InputShapes(c.shapes))
}

// Limits maps layer kinds the Keras exporter writes in some configurations
// only to the ones it cannot write. The map is a copy.
func Limits() map[string]string {
	out := map[string]string{}
	for k, why := range limits {
		out[k] = why
	}
	return out
}
