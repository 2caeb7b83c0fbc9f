package keras

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

// weightReader reads and converts the file's weights of one vertex (in:
// its IR input shapes; forms: the Keras form of every tensor).
type weightReader func(c *call, v *ir.Vertex, in [][]int, forms map[string]tensor) (map[string]*ir.Tensor, error)

var (
	weightReaders = map[string]weightReader{}
	// withoutWeights are the kinds that never have parameters.
	withoutWeights = map[string]bool{}
)

func registerWeights(l ir.Layer, r weightReader) {
	for _, k := range ir.KindsOf(l) {
		if _, dup := weightReaders[k]; dup {
			panic("keras: weight reader registered twice: " + k)
		}
		weightReaders[k] = r
	}
}

// Adding a layer kind: a kind with parameters registers its reader here
// (and its Keras class in internal/kerasclass) or says in
// kerasclass.NoKerasWeights why Keras cannot hold them; a kind without
// parameters goes in the list below. TestEveryKindHasAWeightReader fails
// until then.
func init() {
	registerWeights(&ir.Conv{}, weightsConv)
	registerWeights(&ir.SeparableConv2D{}, weightsSeparableConv2D)
	registerWeights(&ir.ConvTranspose2D{}, weightsConvTranspose2D)
	registerWeights(&ir.Dense{}, weightsDense)
	registerWeights(&ir.Output{}, weightsOutput)
	registerWeights(&ir.RnnOutput{}, weightsRnnOutput)
	registerWeights(&ir.BatchNorm{}, weightsBatchNorm)
	registerWeights(&ir.LayerNorm{}, weightsLayerNorm)
	registerWeights(&ir.Embedding{}, weightsEmbedding)
	registerWeights(&ir.PReLU{}, weightsPReLU)
	for _, l := range []ir.Layer{&ir.SimpleRNN{}, &ir.LSTM{}, &ir.GRU{}} {
		registerWeights(l, weightsRecurrent)
	}
	registerWeights(&ir.Bidirectional{}, weightsBidirectional)
	registerWeights(&ir.MultiHeadAttention{}, weightsMultiHeadAttention)
	registerWeights(&ir.Attention{}, weightsAttention)
	for _, l := range []ir.Layer{&ir.ActivationLayer{}, &ir.Dropout{}, &ir.Flatten{}, &ir.Reshape{}, &ir.Permute{},
		&ir.RepeatVector{}, &ir.Tile{}, &ir.Masking{}, &ir.Rescaling{}, &ir.Pool{}, &ir.GlobalPool{}, &ir.Pad{}, &ir.Cropping{},
		&ir.UpSampling{}, &ir.Merge{}, &ir.Concat{}, &ir.LastTimeStep{}, &ir.Unary{}, &ir.Slice{},
		&ir.DepthToSpace{}, &ir.SpaceToDepth{}, &ir.Reduce{}} {
		kinds := ir.KindsOf(l)
		if len(kinds) == 0 {
			panic(fmt.Sprintf("keras: %T is no registered layer kind", l))
		}
		for _, k := range kinds {
			withoutWeights[k] = true
		}
	}
	for _, k := range ir.TensorOpKinds() { // no Keras layer writes them (exporters/keras)
		if _, ok := weightReaders[k]; ok {
			continue
		}
		if l, _ := ir.NewLayer(k); len(l.Params(nil)) == 0 {
			withoutWeights[k] = true
		}
	}
}
