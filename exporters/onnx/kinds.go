package onnx

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

// emitter writes the ONNX nodes of one vertex: ins are the ONNX values of
// its inputs, inShapes their IR shapes, rank the rank of its IR output,
// out the value to produce.
type emitter func(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error

var (
	emitters = map[string]emitter{}
	// cannot says, per kind, why ONNX cannot hold it; the export error
	// quotes it.
	cannot = map[string]string{}
	// decomposed documents kinds written as several ONNX nodes that the
	// importer does not turn back into one vertex of the same kind.
	decomposed = map[string]string{}
)

// register makes f the emitter of every kind whose config has the Go type
// of l (ir.KindsOf).
func register(l ir.Layer, f emitter) {
	kinds := ir.KindsOf(l)
	if len(kinds) == 0 {
		panic(fmt.Sprintf("onnx export: %T is no registered layer kind", l))
	}
	for _, k := range kinds {
		if _, dup := emitters[k]; dup {
			panic("onnx export: emitter registered twice: " + k)
		}
		emitters[k] = f
	}
}

// Adding a layer kind: one register line below (and its emitter), or a
// cannot entry that says why; TestEveryKindHasAnEmitter fails until then.
func init() {
	register(&ir.Dense{}, emitDense)
	register(&ir.Output{}, emitOutput)
	register(&ir.RnnOutput{}, emitRnnOutput)
	register(&ir.Conv{}, emitConv)
	register(&ir.ConvTranspose2D{}, emitConvTranspose2D)
	register(&ir.SeparableConv2D{}, emitSeparableConv2D)
	register(&ir.Pool{}, emitPool)
	register(&ir.GlobalPool{}, emitGlobalPool)
	register(&ir.BatchNorm{}, emitBatchNorm)
	register(&ir.InstanceNorm{}, emitInstanceNorm)
	register(&ir.LayerNorm{}, emitLayerNorm)
	register(&ir.ActivationLayer{}, emitActivationLayer)
	register(&ir.Dropout{}, emitDropout)
	register(&ir.PReLU{}, emitPReLU)
	register(&ir.Rescaling{}, emitRescaling)
	register(&ir.Unary{}, emitUnary)
	register(&ir.Constant{}, emitConstant)
	register(&ir.Merge{}, emitMerge)
	register(&ir.Concat{}, emitConcat)
	register(&ir.Flatten{}, emitFlatten)
	register(&ir.Reshape{}, emitReshape)
	register(&ir.Permute{}, emitPermute)
	register(&ir.Pad{}, emitPad)
	register(&ir.Cropping{}, emitCropping)
	register(&ir.Slice{}, emitSlice)
	register(&ir.UpSampling{}, emitUpSampling)
	register(&ir.RepeatVector{}, emitRepeatVector)
	register(&ir.Tile{}, emitTile)
	register(&ir.DepthToSpace{}, emitDepthToSpace)
	register(&ir.SpaceToDepth{}, emitSpaceToDepth)
	register(&ir.Reduce{}, emitReduce)
	register(&ir.LastTimeStep{}, emitLastTimeStep)
	register(&ir.Embedding{}, emitEmbedding)
	register(&ir.MultiHeadAttention{}, emitMultiHeadAttention)
	for _, l := range []ir.Layer{&ir.SimpleRNN{}, &ir.LSTM{}, &ir.GRU{}, &ir.Bidirectional{}} {
		register(l, emitRecurrent)
	}
	decomposed["SeparableConv2D"] = "written as a depthwise and a pointwise Conv: comes back as two Conv2D vertices with the same parameters"
	decomposed["Rescaling"] = "written as Mul and Add by scalars: comes back as Merge vertices with Constant operands (no parameters either way)"
	decomposed["Cropping"] = "written as Slice: comes back as a Slice vertex"
	decomposed["RnnOutput"] = "ONNX holds no loss: comes back as a Dense with the activation"
	cannot["Masking"] = "ONNX has no time-step mask: remove the Masking vertex (pad with zeros the model ignores) or export to .rtm"
}

// Unsupported maps each layer kind the ONNX exporter cannot write to the
// reason. The map is a copy.
func Unsupported() map[string]string {
	out := map[string]string{}
	for k, why := range cannot {
		out[k] = why
	}
	return out
}

// Decomposed maps each layer kind that comes back from an ONNX round trip
// as other vertices (at some opsets) to how it is written.
func Decomposed() map[string]string {
	out := map[string]string{}
	for k, why := range decomposed {
		out[k] = why
	}
	return out
}
