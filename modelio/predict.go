package modelio

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// Predict runs net on inputs (one per graph input, batch first, in the
// source layout) in chunks of up to chunk examples, calling progress (may
// be nil) after each, and returns the graph outputs in their source layout.
func Predict(net *nn.Network, inputs []*ir.Tensor, chunk int, progress func(done, total int)) ([]*ir.Tensor, error) {
	g := net.Graph
	if len(inputs) != len(g.Inputs) {
		return nil, fmt.Errorf("the model takes %d input(s), got %d", len(g.Inputs), len(inputs))
	}
	if whole, err := onePass(g); err != nil || whole {
		if err != nil {
			return nil, err
		}
		outs, err := net.Predict(inputs...)
		if err == nil && progress != nil {
			progress(1, 1)
		}
		return outs, err
	}
	total := -1
	for i, t := range inputs {
		if t == nil || len(t.Shape) == 0 {
			return nil, fmt.Errorf("input %q: needs a batch axis first", g.Inputs[i].Name)
		}
		if ir.NumElements(t.Shape) != len(t.Data) {
			return nil, fmt.Errorf("input %q: %d values for shape %v", g.Inputs[i].Name, len(t.Data), t.Shape)
		}
		if total >= 0 && t.Shape[0] != total {
			return nil, fmt.Errorf("input %q has %d examples, input %q has %d", g.Inputs[i].Name, t.Shape[0], g.Inputs[0].Name, total)
		}
		total = t.Shape[0]
	}
	if total == 0 {
		return nil, fmt.Errorf("the inputs hold no examples")
	}
	if chunk <= 0 || chunk > total {
		chunk = total
	}
	var outs []*ir.Tensor
	part := make([]*ir.Tensor, len(inputs))
	for lo := 0; lo < total; lo += chunk {
		hi := min(lo+chunk, total)
		for i, t := range inputs {
			part[i] = sliceBatch(t, lo, hi)
		}
		ys, err := net.Predict(part...)
		if err != nil {
			return nil, err
		}
		if outs == nil {
			outs = make([]*ir.Tensor, len(ys))
			for k, y := range ys {
				outs[k] = ir.NewTensor(append([]int{total}, y.Shape[1:]...)...)
			}
		}
		for k, y := range ys {
			per := ir.NumElements(y.Shape[1:])
			copy(outs[k].Data[lo*per:hi*per], y.Data)
		}
		if progress != nil {
			progress(hi, total)
		}
	}
	return outs, nil
}

func sliceBatch(t *ir.Tensor, lo, hi int) *ir.Tensor {
	per := ir.NumElements(t.Shape[1:])
	return &ir.Tensor{Shape: append([]int{hi - lo}, t.Shape[1:]...), Data: t.Data[lo*per : hi*per]}
}

// onePass reports whether a graph runs on its inputs in one pass, as they
// are, not in chunks of the batch: an input without a batch axis, an op
// that combines examples, or an output whose batch is not on axis 0.
func onePass(g *ir.Graph) (bool, error) {
	full, err := g.FullShapes()
	if err != nil {
		return false, err
	}
	for _, in := range g.Inputs {
		if in.NoBatch {
			return true, nil
		}
	}
	for _, o := range g.Outputs {
		if _, ok := ir.LayerView(full[o.Vertex]); !ok {
			return true, nil
		}
	}
	return g.MixesExamples(full), nil
}
