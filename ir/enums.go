package ir

import "fmt"

// ActKind names an activation function.
type ActKind string

const (
	ActIdentity      ActKind = "identity"
	ActReLU          ActKind = "relu"
	ActReLU6         ActKind = "relu6"
	ActLeakyReLU     ActKind = "leaky_relu" // Alpha: negative slope
	ActELU           ActKind = "elu"        // Alpha
	ActSELU          ActKind = "selu"
	ActGELU          ActKind = "gelu" // exact (erf) form
	ActSwish         ActKind = "swish"
	ActSigmoid       ActKind = "sigmoid"
	ActHardSigmoid   ActKind = "hard_sigmoid" // y = clip(Alpha*x+Beta, 0, 1); Keras: 0.2, 0.5
	ActTanh          ActKind = "tanh"
	ActSoftmax       ActKind = "softmax"     // along Axis (of the tensor without batch; -1 = last)
	ActLogSoftmax    ActKind = "log_softmax" // along Axis
	ActSoftplus      ActKind = "softplus"
	ActSoftsign      ActKind = "softsign"
	ActThresholdReLU ActKind = "threshold_relu" // y = x if x > Alpha else 0
	ActClip          ActKind = "clip"           // y = clip(x, Alpha, Beta)
	ActHardSwish     ActKind = "hard_swish"     // y = x·clip(x/6+1/2, 0, 1) (ONNX HardSwish, torch Hardswish)
	ActGELUTanh      ActKind = "gelu_tanh"      // y = x/2·(1+tanh(√(2/π)·(x+0.044715·x³))) (torch approximate='tanh')
	ActMish          ActKind = "mish"           // y = x·tanh(softplus(x))
)

// Activation is an activation function with its parameters.
// The zero value is the identity.
type Activation struct {
	Kind  ActKind `json:"kind"` // always written: a zero (identity) must not decode as a layer's default
	Alpha float32 `json:"alpha,omitempty"`
	Beta  float32 `json:"beta,omitempty"`
	Axis  int     `json:"axis,omitempty"`
}

// Act builds a parameterless activation.
func Act(k ActKind) Activation { return Activation{Kind: k} }

// IsIdentity reports whether the activation does nothing.
func (a Activation) IsIdentity() bool { return a.Kind == "" || a.Kind == ActIdentity }

// KnownActivations lists every supported activation kind.
var KnownActivations = []ActKind{ActIdentity, ActReLU, ActReLU6, ActLeakyReLU, ActELU, ActSELU, ActGELU,
	ActSwish, ActSigmoid, ActHardSigmoid, ActTanh, ActSoftmax, ActLogSoftmax, ActSoftplus, ActSoftsign,
	ActThresholdReLU, ActClip, ActHardSwish, ActGELUTanh, ActMish}

func (a Activation) validate() error {
	if a.Kind == "" {
		return nil
	}
	for _, k := range KnownActivations {
		if k == a.Kind {
			return nil
		}
	}
	return fmt.Errorf("unknown activation %q", a.Kind)
}

// Loss names a loss function.
type Loss string

const (
	LossMCXENT       Loss = "mcxent"        // multi-class cross entropy, one-hot labels
	LossSparseMCXENT Loss = "sparse_mcxent" // multi-class cross entropy, integer class labels
	LossNLL          Loss = "nll"           // negative log likelihood (of probabilities)
	LossXENT         Loss = "xent"          // binary cross entropy
	LossMSE          Loss = "mse"
	LossMAE          Loss = "mae"
	LossHinge        Loss = "hinge"
	LossSquaredHinge Loss = "squared_hinge"
	LossKLD          Loss = "kld"
	LossPoisson      Loss = "poisson"
	LossCosine       Loss = "cosine_proximity"
)

// KnownLosses lists every supported loss.
var KnownLosses = []Loss{LossMCXENT, LossSparseMCXENT, LossNLL, LossXENT, LossMSE, LossMAE, LossHinge,
	LossSquaredHinge, LossKLD, LossPoisson, LossCosine}

func (l Loss) validate() error {
	for _, k := range KnownLosses {
		if k == l {
			return nil
		}
	}
	return fmt.Errorf("unknown loss %q", l)
}

// WeightInit names a weight initialisation scheme.
type WeightInit string

const (
	InitZeros           WeightInit = "zeros"
	InitOnes            WeightInit = "ones"
	InitConstant        WeightInit = "constant" // value in InitSpec.Value
	InitNormal          WeightInit = "normal"   // mean 0, std InitSpec.Value (default 0.05 as Keras)
	InitUniform         WeightInit = "uniform"  // [-v, v], v = InitSpec.Value (default 0.05)
	InitTruncatedNormal WeightInit = "truncated_normal"
	InitXavierUniform   WeightInit = "xavier_uniform" // Glorot
	InitXavierNormal    WeightInit = "xavier_normal"
	InitHeUniform       WeightInit = "he_uniform" // Kaiming
	InitHeNormal        WeightInit = "he_normal"
	InitLeCunUniform    WeightInit = "lecun_uniform"
	InitLeCunNormal     WeightInit = "lecun_normal"
	InitIdentity        WeightInit = "identity" // identity matrix / Dirac kernel where the shape allows
)

// KnownInits lists every supported weight initialisation.
var KnownInits = []WeightInit{InitZeros, InitOnes, InitConstant, InitNormal, InitUniform,
	InitTruncatedNormal, InitXavierUniform, InitXavierNormal, InitHeUniform, InitHeNormal,
	InitLeCunUniform, InitLeCunNormal, InitIdentity}

// ParseWeightInit checks a name against KnownInits.
func ParseWeightInit(s string) (WeightInit, error) {
	for _, k := range KnownInits {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("unknown weight init %q (known: %v)", s, KnownInits)
}

// Padding is a convolution/pooling padding mode.
type Padding string

const (
	PadValid    Padding = "valid"
	PadSame     Padding = "same"     // output = ceil(in/stride); extra padding at the end (TF/Keras, ONNX SAME_UPPER)
	PadSameLow  Padding = "same_low" // as same, extra padding at the start (ONNX SAME_LOWER)
	PadExplicit Padding = "explicit" // Pads holds begin values for each spatial axis, then end values
	PadCausal   Padding = "causal"   // 1-D only: (kernel-1)*dilation zeros at the start
)

// Layout records how a source model laid out an input or output tensor.
type Layout string

const (
	LayoutNone Layout = ""
	LayoutNCHW Layout = "NCHW"
	LayoutNHWC Layout = "NHWC"
	LayoutNCW  Layout = "NCW" // channels first 1-D
	LayoutNWC  Layout = "NWC" // channels last 1-D (also (batch, time, features) sequences)
	// volumetric (3-D) images
	LayoutNCDHW Layout = "NCDHW"
	LayoutNDHWC Layout = "NDHWC"
)

// ChannelsLastLayout is the channels-last layout of a tensor with spatial
// axes rank 1, 2 or 3 (NWC, NHWC, NDHWC); LayoutNone otherwise.
func ChannelsLastLayout(spatial int) Layout {
	switch spatial {
	case 1:
		return LayoutNWC
	case 2:
		return LayoutNHWC
	case 3:
		return LayoutNDHWC
	}
	return LayoutNone
}

// ChannelsFirstLayout is the channels-first layout of a tensor with
// spatial axes rank 1, 2 or 3 (NCW, NCHW, NCDHW); LayoutNone otherwise.
func ChannelsFirstLayout(spatial int) Layout {
	switch spatial {
	case 1:
		return LayoutNCW
	case 2:
		return LayoutNCHW
	case 3:
		return LayoutNCDHW
	}
	return LayoutNone
}

// ChannelsFirstFor reports whether l is the channels-first layout of an IR
// tensor with rank axes without batch ([C, spatial...]).
func (l Layout) ChannelsFirstFor(rank int) bool {
	return l != LayoutNone && l == ChannelsFirstLayout(rank-1)
}

// ChannelsLastFor reports whether l is the channels-last layout of an IR
// tensor with rank axes without batch ([C, spatial...]).
func (l Layout) ChannelsLastFor(rank int) bool {
	return l != LayoutNone && l == ChannelsLastLayout(rank-1)
}
