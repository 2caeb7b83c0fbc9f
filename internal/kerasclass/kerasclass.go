// Package kerasclass is what exporters/keras (which writes Keras layers
// for IR vertices) and importers/keras's LoadWeights (which reads a
// weights file written for such a model) both need to know about the
// Keras classes of IR layer kinds: one table, so the two cannot disagree.
package kerasclass

import "github.com/retarget-dev/retarget/ir"

// weighted maps every IR kind that has parameters Keras can hold to its
// Keras class; kinds whose class depends on the config are in Of.
var weighted = map[string]string{
	"Dense":              "Dense",
	"Output":             "Dense",
	"RnnOutput":          "Dense",
	"Conv1D":             "Conv1D",
	"Conv2D":             "Conv2D",
	"Conv3D":             "Conv3D",
	"ConvTranspose1D":    "Conv1DTranspose",
	"ConvTranspose2D":    "Conv2DTranspose",
	"ConvTranspose3D":    "Conv3DTranspose",
	"SeparableConv2D":    "SeparableConv2D",
	"BatchNorm":          "BatchNormalization",
	"LayerNorm":          "LayerNormalization",
	"Embedding":          "Embedding",
	"PReLU":              "PReLU",
	"SimpleRNN":          "SimpleRNN",
	"LSTM":               "LSTM",
	"GRU":                "GRU",
	"Bidirectional":      "Bidirectional",
	"MultiHeadAttention": "MultiHeadAttention",
}

// NoKerasWeights maps IR kinds with parameters that no Keras layer holds
// to the reason.
var NoKerasWeights = map[string]string{
	"Constant":       "a constant tensor is no Keras layer",
	"InstanceNorm":   "core Keras has no InstanceNormalization layer",
	"TensorConstant": "a constant tensor is no Keras layer",
}

// Of returns the Keras class of a layer with parameters, for these input
// shapes (IR layout, batch excluded), or "" when Keras has none.
func Of(l ir.Layer, in [][]int) string {
	if c, ok := l.(*ir.Conv); ok && IsDepthwise(c, in) {
		return "DepthwiseConv2D"
	}
	if a, ok := l.(*ir.Attention); ok {
		if a.Score == ir.ScoreAdditive {
			return "AdditiveAttention"
		}
		return "Attention"
	}
	return weighted[l.Kind()]
}

// IsDepthwise reports a 2-D convolution with one group per input channel,
// which Keras writes as DepthwiseConv2D.
func IsDepthwise(l *ir.Conv, in [][]int) bool {
	return l.Rank == 2 && l.GroupCount() > 1 && len(in) == 1 && len(in[0]) == 3 && l.GroupCount() == in[0][0]
}
