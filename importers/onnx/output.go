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
		if !ok || len(shapes[dense.Inputs[0]]) != 1 {
			continue
		}
		loss := ir.LossMCXENT
		switch k := d.Activation.Kind; {
		case d.Activation.IsIdentity():
		case dense == v && k == ir.ActSoftmax && (d.Activation.Axis == -1 || d.Activation.Axis == 0):
			act = ir.Activation{Kind: ir.ActSoftmax, Axis: -1}
		case dense == v && k == ir.ActSigmoid:
			act, loss = d.Activation, ir.LossXENT
		default:
			continue
		}
		if dense == v && len(c.g.Consumers(v.Name)) > 0 {
			continue
		}
		dense.Layer = &ir.Output{Units: d.Units, Activation: act, Loss: loss,
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

// foldExportedActivations undoes how exporters/onnx writes a layer with a
// fused activation: node P (Gemm, Conv, …) then node "P/act" (the
// activation). The activation vertex goes back into P when P has no
// activation of its own and nothing else reads it. A GlobalPool without
// keepdims (P, then Flatten "P/flatten") is folded the same way.
func (c *converter) foldExportedActivations() {
	uses := map[string]int{}
	for _, v := range c.g.Vertices {
		for _, in := range v.Inputs {
			uses[in]++
		}
	}
	for _, o := range c.g.Outputs {
		uses[o.Vertex]++
	}
	for _, v := range append([]*ir.Vertex(nil), c.g.Vertices...) {
		if len(v.Inputs) != 1 || uses[v.Inputs[0]] != 1 {
			continue
		}
		p := c.g.Vertex(v.Inputs[0])
		if p == nil {
			continue
		}
		switch l := v.Layer.(type) {
		case *ir.ActivationLayer:
			if v.Name != p.Name+"/act" || !setActivation(p.Layer, l.Activation) {
				continue
			}
		case *ir.Flatten: // GlobalPool without keepdims: pool "P", then "P/flatten"
			gp, ok := p.Layer.(*ir.GlobalPool)
			if v.Name != p.Name+"/flatten" || !ok || !gp.KeepDims {
				continue
			}
			gp.KeepDims = false
		default:
			continue
		}
		name := v.Name
		c.removeVertex(name)
		for _, u := range c.g.Vertices {
			for k, in := range u.Inputs {
				if in == name {
					u.Inputs[k] = p.Name
				}
			}
		}
		for k := range c.g.Outputs {
			if c.g.Outputs[k].Vertex == name {
				c.g.Outputs[k].Vertex = p.Name
			}
		}
	}
}

// setActivation gives a layer with an identity activation a, reporting
// whether it could.
func setActivation(l ir.Layer, a ir.Activation) bool {
	var dst *ir.Activation
	switch x := l.(type) {
	case *ir.Dense:
		dst = &x.Activation
	case *ir.Conv:
		dst = &x.Activation
	case *ir.ConvTranspose2D:
		dst = &x.Activation
	case *ir.SeparableConv2D:
		dst = &x.Activation
	}
	if dst == nil || !dst.IsIdentity() {
		return false
	}
	*dst = a
	return true
}
