package zoo

import (
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// ParamCount is the number of parameter values (trainable and running
// statistics, as Keras's count_params reports) a graph needs, computed from
// the layers' parameter specs: it works on ShapeOnly graphs and allocates
// nothing.
func ParamCount(g *ir.Graph) (int64, error) {
	shapes, err := g.Shapes()
	if err != nil {
		return 0, err
	}
	var total int64
	for _, v := range g.Vertices {
		for _, p := range v.Layer.Params(v.InputShapes(shapes)) {
			total += int64(ir.NumElements(p.Shape))
		}
	}
	return total, nil
}

// Allocate gives every vertex that lacks them the parameter tensors its
// layer needs, initialised as Keras initialises a fresh layer
// (Glorot-uniform weights, zero biases, BatchNorm gamma 1 and variance 1).
func Allocate(g *ir.Graph, seed int64) error {
	if seed == 0 {
		seed = 1
	}
	return nn.InitGraph(g, ir.InitXavierUniform, seed)
}
