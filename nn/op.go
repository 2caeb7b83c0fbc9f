// Package nn executes ir graphs: forward and backward passes of every layer
// kind, losses, updaters, Fit and Evaluate.
//
// Every kernel is generic over the float type: float32 is the engine,
// float64 is the path numerical gradient checks run on.
package nn

import (
	"fmt"
	"math/rand"

	"github.com/retarget-dev/retarget/internal/hugemem"
	"github.com/retarget-dev/retarget/ir"
)

// Float is the element type an op runs in.
type Float interface{ ~float32 | ~float64 }

// Mat is a runtime tensor: row-major, Shape includes the batch dimension.
type Mat[F Float] struct {
	Shape []int
	Data  []F
}

// NewMat allocates a zero tensor.
func NewMat[F Float](shape ...int) *Mat[F] {
	return &Mat[F]{Shape: append([]int(nil), shape...), Data: hugemem.Make[F](ir.NumElements(shape))}
}

// Pass carries per-step state shared by every op of one forward/backward.
type Pass[F Float] struct {
	// Train is set for a training step: dropout and batch statistics are
	// active (except in frozen vertices) and ops cache what Backward needs.
	Train bool
	// NoGrad is set (with Train) for a vertex whose Backward will not be
	// called this step (a frozen prefix): it may skip its caches.
	NoGrad bool
	// Batch is the batch size of the step (ops without inputs need it).
	Batch int
	RNG   *rand.Rand
	// Mask is the (batch, T) time-step mask (1 = real step, 0 = padding)
	// of the op's input, or nil; an op may set it (Masking, Embedding with
	// MaskZero) or clear it (an output without a time axis), and its output
	// carries what it leaves here, as Keras propagates masks. On entry it
	// is the first input's mask that is not nil. Recurrent ops, attention
	// and per-step losses honour it.
	Mask []F
	// InMasks are the masks of each input (attention's value mask).
	InMasks [][]F

	pool *bufPool[F] // an inference network's buffer pool (outBuf)
	// unfused runs an inference pass without the fusions of fuse.go (a
	// value they overwrite is asked for)
	unfused bool
}

// Params are the parameter tensors of one vertex and their gradients, by
// the names the layer's ir.ParamSpec gives. Gradients accumulate (+=)
// during Backward; the network zeroes them before each step.
type Params[F Float] struct {
	Values map[string]*Mat[F]
	Grads  map[string]*Mat[F]
}

// Op is the compiled form of one vertex.
type Op[F Float] interface {
	// Forward computes the output for a batch; in[i] has shape
	// [N, inShape[i]...]. With p.Train the op caches what Backward needs.
	Forward(p *Pass[F], in []*Mat[F]) *Mat[F]
	// Backward takes dLoss/dOutput, adds parameter gradients to the
	// Params' Grads, and returns dLoss/dInput for every input (an entry may
	// be nil when the input needs no gradient, e.g. a graph input).
	Backward(p *Pass[F], dOut *Mat[F]) []*Mat[F]
}

// Builder compiles a vertex given its input shapes and output shape
// (without batch) and its parameters.
type Builder[F Float] func(v *ir.Vertex, in [][]int, out []int, params *Params[F]) (Op[F], error)

type builders struct {
	f32 Builder[float32]
	f64 Builder[float64]
}

var opRegistry = map[string]builders{}

// RegisterOp registers the compiled form of a layer kind (ir.Layer.Kind())
// in both float types. Write the op once, generically, and register
// newX[float32], newX[float64].
func RegisterOp(kind string, f32 Builder[float32], f64 Builder[float64]) {
	if _, dup := opRegistry[kind]; dup {
		panic("nn: op registered twice: " + kind)
	}
	opRegistry[kind] = builders{f32, f64}
}

func builderFor[F Float](kind string) (Builder[F], error) {
	b, ok := opRegistry[kind]
	if !ok {
		return nil, fmt.Errorf("the engine cannot run layer kind %q yet", kind)
	}
	var zero F
	switch any(zero).(type) {
	case float32:
		return any(b.f32).(Builder[F]), nil
	default:
		return any(b.f64).(Builder[F]), nil
	}
}

// Failer is implemented by ops whose Forward can meet bad input data (an
// Embedding index out of range, a sequence mask of the wrong size). Forward
// never panics on data: it records the problem, and the network checks Err
// after each Forward and stops the pass with that error (wrapped in an
// ir.VertexError). Err reports the problem of the latest Forward only.
type Failer interface {
	Err() error
}
