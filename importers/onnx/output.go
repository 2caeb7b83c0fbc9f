package onnx

import "github.com/retarget-dev/retarget/ir"

// outputLayers turns a trailing Dense (optionally followed by a softmax on
// its last axis) that feeds a graph output into a loss-bearing ir.Output:
// with softmax the loss is MCXENT, without it MCXENT from logits.
func (c *converter) outputLayers() {
	shapes, err := c.g.Shapes()
	if err != nil {
		return
	}
	outCount := map[string]int{}
	for _, o := range c.g.Outputs {
		outCount[o.Vertex]++
	}
	for i, o := range c.g.Outputs {
		v := c.g.Vertex(o.Vertex)
		if v == nil {
			continue
		}
		act := ir.Act(ir.ActIdentity)
		dense := v
		if a, ok := v.Layer.(*ir.ActivationLayer); ok && a.Activation.Kind == ir.ActSoftmax &&
			(a.Activation.Axis == -1 || a.Activation.Axis == len(shapes[v.Name])-1) {
			dense = c.g.Vertex(v.Inputs[0])
			if dense == nil || len(c.g.Consumers(dense.Name)) != 1 || outCount[dense.Name] > 0 {
				continue
			}
			act = ir.Activation{Kind: ir.ActSoftmax, Axis: -1}
		}
		d, ok := dense.Layer.(*ir.Dense)
		if !ok || !d.Activation.IsIdentity() || len(shapes[dense.Inputs[0]]) != 1 {
			continue
		}
		if dense == v && len(c.g.Consumers(v.Name)) > 0 {
			continue
		}
		dense.Layer = &ir.Output{Units: d.Units, Activation: act, Loss: ir.LossMCXENT,
			FromLogits: act.IsIdentity(), NoBias: d.NoBias}
		if dense != v {
			c.removeVertex(v.Name)
			c.g.Outputs[i].Vertex = dense.Name
		}
	}
}

func (c *converter) removeVertex(name string) {
	keep := c.g.Vertices[:0]
	for _, v := range c.g.Vertices {
		if v.Name != name {
			keep = append(keep, v)
		}
	}
	c.g.Vertices = keep
}
