package keras

import (
	"fmt"
	"strings"

	"github.com/retarget-dev/retarget/ir"
)

// finishOutputs registers the graph outputs. A trailing Dense (with its
// activation, or followed by an activation layer, which is merged into it)
// becomes an ir.Output, or an ir.RnnOutput when applied per time step,
// carrying the loss from the training config or, without one, the loss its
// activation implies.
func (b *builder) finishOutputs(outs []tensor, names []string, tc *trainingConfig, strict bool) error {
	var lossErrs []string
	for i, t := range outs {
		kname := names[i]
		var err error
		if t.kind == formFlatCL {
			if t, err = b.toPlain(t, kname+"_output"); err != nil {
				return err
			}
		}
		gout := ir.GraphOutput{Name: kname, Vertex: t.name}
		if t.kind == formCL {
			gout.Layout = ir.ChannelsLastLayout(len(t.shape) - 1)
		}
		if v := b.outputDense(t.name); v != nil {
			gout.Vertex = v.Name
			if err := b.makeOutput(v, kname, i, tc, strict); err != nil {
				lossErrs = append(lossErrs, err.Error())
			}
		}
		for _, o := range b.g.Outputs {
			if o.Name == gout.Name {
				gout.Name = fmt.Sprintf("%s_%d", gout.Name, i)
			}
		}
		b.g.Outputs = append(b.g.Outputs, gout)
	}
	if len(lossErrs) > 0 {
		return fmt.Errorf("%s", strings.Join(lossErrs, "; "))
	}
	return nil
}

func (b *builder) consumers(name string) int {
	n := 0
	for _, v := range b.g.Vertices {
		for _, in := range v.Inputs {
			if in == name {
				n++
			}
		}
	}
	for _, o := range b.g.Outputs {
		if o.Vertex == name {
			n++
		}
	}
	return n
}

// outputDense returns the Dense vertex that can become the output layer
// for the output vertex name, merging a trailing activation vertex into it.
func (b *builder) outputDense(name string) *ir.Vertex {
	v := b.g.Vertex(name)
	if v == nil || b.consumers(name) > 0 {
		return nil
	}
	if _, ok := v.Layer.(*ir.Dense); ok {
		return v
	}
	act, ok := v.Layer.(*ir.ActivationLayer)
	if !ok || len(v.Inputs) != 1 {
		return nil
	}
	d := b.g.Vertex(v.Inputs[0])
	if d == nil || b.consumers(d.Name) != 1 {
		return nil
	}
	dense, ok := d.Layer.(*ir.Dense)
	if !ok || !dense.Activation.IsIdentity() {
		return nil
	}
	a := act.Activation
	if (a.Kind == ir.ActSoftmax || a.Kind == ir.ActLogSoftmax) && a.Axis != -1 {
		return nil
	}
	dense.Activation = a
	b.removeVertex(v.Name)
	b.g.Meta["keras_merged_"+d.Name] = v.Name
	return d
}

func (b *builder) removeVertex(name string) {
	for i, v := range b.g.Vertices {
		if v.Name == name {
			b.g.Vertices = append(b.g.Vertices[:i], b.g.Vertices[i+1:]...)
			return
		}
	}
}

func (b *builder) makeOutput(v *ir.Vertex, kname string, idx int, tc *trainingConfig, strict bool) error {
	d := v.Layer.(*ir.Dense)
	inShape := b.shapes[v.Inputs[0]]
	loss := defaultLoss(d.Activation)
	fromLogits := false
	var lossErr error
	if raw, ok := tc.lossFor(kname, idx); ok {
		l, logits, lname, ok := kerasLoss(raw)
		if ok {
			loss, fromLogits = l, logits && d.Activation.IsIdentity()
		} else {
			msg := fmt.Sprintf("output %q: Keras loss %q has no IR equivalent; using %s", kname, lname, loss)
			if strict {
				lossErr = fmt.Errorf("output %q: Keras loss %q has no IR equivalent (import without strict mode to use %s)", kname, lname, loss)
			}
			b.warn("%s", msg)
		}
	}
	w, ok := tc.weightFor(kname, idx)
	if !ok {
		b.warn("output %q: Keras loss weight is not a number > 0; using 1", kname)
	}
	switch len(inShape) {
	case 1:
		v.Layer = &ir.Output{Units: d.Units, Activation: d.Activation, Loss: loss, FromLogits: fromLogits, NoBias: d.NoBias}
	case 2:
		v.Layer = &ir.RnnOutput{Units: d.Units, Activation: d.Activation, Loss: loss, FromLogits: fromLogits, NoBias: d.NoBias}
	default:
		b.warn("output %q: a Dense on a rank-%d tensor stays a Dense (no loss)", kname, len(inShape))
	}
	ir.SetLossWeight(v.Layer, w)
	return lossErr
}
