package retarget

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

// follow is one vertex a resize reaches: s is the shape of its first
// input, m (axis a) how that input changes. pass records how the vertex's
// output changes, consume a weight that reads the resized axis, perChan a
// per-channel parameter to remap.
type follow struct {
	r       *region
	g       *ir.Graph
	shapes  map[string][]int
	v       *ir.Vertex
	s       []int
	a       int
	m       chanMap
	pass    func(axis int, src []int)
	consume func(axis int, params ...string)
	perChan func(axis int, params ...string)
}

// back says how findProducers walks back through a kind to the layers
// whose size a merge forces to change.
type back int

const (
	backStop     back = iota // cannot be resized to match
	backProducer             // a sized layer: resize its feature axis
	backThrough              // per-channel: walk on to its first input
	backMerge                // element-wise merge: walk every input
)

// channelRule is how a resize follows through one layer kind.
type channelRule struct {
	// follow handles the vertex; it returns the producers a merge ties to
	// the resize.
	follow func(f *follow) (map[string][]int, error)
	// anyInput: follow runs when any input is resized (merges), not only
	// the first.
	anyInput bool
	back     back
}

var (
	channelRules = map[string]channelRule{}
	// cannotFollow says, per kind, why a resize cannot pass through it;
	// the edit's error quotes it.
	cannotFollow = map[string]string{}
)

func registerChannels(l ir.Layer, r channelRule) {
	kinds := ir.KindsOf(l)
	if len(kinds) == 0 {
		panic(fmt.Sprintf("retarget: %T is no registered layer kind", l))
	}
	for _, k := range kinds {
		if _, dup := channelRules[k]; dup {
			panic("retarget: channel rule registered twice: " + k)
		}
		channelRules[k] = r
	}
}

// Adding a layer kind: one registerChannels line below (how a resize of
// its input changes its parameters and output), or a cannotFollow entry;
// TestEveryKindHasAChannelRule fails until then.
func init() {
	through := func(l ir.Layer, f func(*follow) (map[string][]int, error)) {
		registerChannels(l, channelRule{follow: f, back: backThrough})
	}
	producer := func(l ir.Layer, f func(*follow) (map[string][]int, error)) {
		registerChannels(l, channelRule{follow: f, back: backProducer})
	}
	plain := func(l ir.Layer, f func(*follow) (map[string][]int, error)) {
		registerChannels(l, channelRule{follow: f})
	}
	producer(&ir.Dense{}, followDense)
	plain(&ir.Output{}, followDense)
	plain(&ir.RnnOutput{}, followDense)
	producer(&ir.Conv{}, followConv)
	producer(&ir.ConvTranspose2D{}, followConvTranspose2D)
	producer(&ir.SeparableConv2D{}, followSeparableConv2D)
	for _, l := range []ir.Layer{&ir.SimpleRNN{}, &ir.LSTM{}, &ir.GRU{}} {
		producer(l, followRecurrent)
	}
	plain(&ir.Bidirectional{}, followBidirectional)
	registerChannels(&ir.Embedding{}, channelRule{back: backProducer})
	cannotFollow["Embedding"] = "an Embedding reads indices, its input cannot be resized"
	through(&ir.BatchNorm{}, followBatchNorm)
	through(&ir.InstanceNorm{}, followInstanceNorm)
	plain(&ir.LayerNorm{}, followLayerNorm)
	through(&ir.PReLU{}, followPReLU)
	for _, l := range []ir.Layer{&ir.Dropout{}, &ir.Masking{}, &ir.Rescaling{}, &ir.Unary{}} {
		through(l, followElementwise)
	}
	through(&ir.ActivationLayer{}, followActivationLayer)
	through(&ir.Pool{}, followPool)
	through(&ir.GlobalPool{}, followPool)
	plain(&ir.Pad{}, followPad)
	plain(&ir.Cropping{}, followCropping)
	plain(&ir.UpSampling{}, followUpSampling)
	plain(&ir.LastTimeStep{}, followLastTimeStep)
	plain(&ir.RepeatVector{}, followRepeatVector)
	plain(&ir.Permute{}, followPermute)
	plain(&ir.Flatten{}, followFlatten)
	plain(&ir.Reshape{}, followReshape)
	plain(&ir.Slice{}, followSlice)
	plain(&ir.Reduce{}, followReduce)
	registerChannels(&ir.Merge{}, channelRule{anyInput: true, back: backMerge, follow: func(f *follow) (map[string][]int, error) {
		return f.r.tie(f.g, f.shapes, f.v, -1)
	}})
	registerChannels(&ir.Concat{}, channelRule{anyInput: true, follow: func(f *follow) (map[string][]int, error) {
		return f.r.tie(f.g, f.shapes, f.v, f.v.Layer.(*ir.Concat).ResolvedAxis(len(f.shapes[f.v.Name])))
	}})
	cannotFollow["MultiHeadAttention"] = "its query, key and value projections split the features across heads, which a resize does not follow yet; remove the attention and add it back"
	cannotFollow["Constant"] = "a Constant has no input"
	for _, k := range ir.TensorOpKinds() {
		cannotFollow[k] = "it is a general tensor op, whose axes need not be the channels; remove it, resize, and add it back"
	}
	cannotFollow["Tile"] = "a Tile repeats the tensor, so a resized axis would come out interleaved; remove it, resize, and add it back"
	cannotFollow["DepthToSpace"] = "DepthToSpace moves channels into spatial positions; remove it, resize, and add it back"
	cannotFollow["SpaceToDepth"] = "SpaceToDepth moves spatial positions into channels; remove it, resize, and add it back"
}
