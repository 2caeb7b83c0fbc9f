package zoo

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

// Options configure a builder. The zero value of a field means the model's
// default (as Keras Applications uses it).
type Options struct {
	// IncludeTop keeps the classifier; without it the graph ends at the last
	// feature block (optionally pooled, see Pooling).
	IncludeTop bool
	// InputShape is height, width, channels (Keras order); the graph input
	// holds it as [C, H, W]. Text models take [T, F] (T may be -1).
	InputShape []int
	// Classes is the size of the output layer (default 1000 for ImageNet
	// models, 10 for LeNet/SimpleCNN).
	Classes int
	// Pooling applies "avg" or "max" global pooling when IncludeTop is false.
	Pooling string
	// Alpha is MobileNetV2's width multiplier (default 1.0).
	Alpha float64
	// ShapeOnly builds the structure without allocating parameter tensors,
	// for counting parameters of large models cheaply. Such a graph does
	// not pass ir.Validate (its parameters are missing) until Allocate.
	ShapeOnly bool
	// Seed seeds the random initialisation (0 is a fixed default seed).
	Seed int64
}

// BuildError is a builder refusing its options or producing an invalid
// graph (a bad input size for the architecture, for example).
type BuildError struct {
	Model string
	Err   error
}

func (e *BuildError) Error() string { return fmt.Sprintf("zoo %s: %v", e.Model, e.Err) }
func (e *BuildError) Unwrap() error { return e.Err }

// imageInput resolves an image input shape (H, W, C) against a default and a
// minimum side, returning it in the internal [C, H, W] order.
func imageInput(model string, o Options, def []int, minSide int) ([]int, error) {
	s := o.InputShape
	if s == nil {
		s = def
	}
	if len(s) != 3 {
		return nil, &BuildError{model, fmt.Errorf("input shape must be height, width, channels; got %v", s)}
	}
	if s[0] < minSide || s[1] < minSide || s[2] <= 0 {
		return nil, &BuildError{model, fmt.Errorf("input %dx%dx%d is too small: height and width must be at least %d", s[0], s[1], s[2], minSide)}
	}
	return []int{s[2], s[0], s[1]}, nil
}

func classesOr(o Options, def int) int {
	if o.Classes > 0 {
		return o.Classes
	}
	return def
}

func checkTopOptions(model string, o Options) error {
	switch o.Pooling {
	case "", "avg", "max":
	default:
		return &BuildError{model, fmt.Errorf("pooling %q: use avg, max or leave empty", o.Pooling)}
	}
	if o.Classes < 0 {
		return &BuildError{model, fmt.Errorf("classes must be positive, got %d", o.Classes)}
	}
	return nil
}

// softmaxOutput is the loss-bearing classifier Keras's trailing
// Dense(softmax) becomes in the IR.
func softmaxOutput(units int) *ir.Output {
	return &ir.Output{Units: units, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}
}
