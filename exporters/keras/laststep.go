package keras

import (
	"github.com/retarget-dev/retarget/ir"
)

// ONNX exports of PyTorch RNNs return the whole sequence and take its last
// step (Gather); the IR has LastTimeStep for that. Keras has no such layer:
// a unidirectional RNN read only by a LastTimeStep is written with
// return_sequences=False instead (the LastTimeStep vertex then has no Keras
// layer of its own); otherwise, with a known sequence length, the last
// step is cut out with Cropping1D and a Reshape.

// foldLastStep reports whether recurrent vertex v is written with
// return_sequences=False because its only reader is a LastTimeStep.
func (c *converter) foldLastStep(v *ir.Vertex) bool {
	switch l := v.Layer.(type) {
	case *ir.SimpleRNN:
		if !l.ReturnSequences {
			return false
		}
	case *ir.LSTM:
		if !l.ReturnSequences {
			return false
		}
	case *ir.GRU:
		if !l.ReturnSequences {
			return false
		}
	default:
		return false
	}
	for _, o := range c.g.Outputs {
		if o.Vertex == v.Name {
			return false
		}
	}
	cons := c.g.Consumers(v.Name)
	if len(cons) != 1 {
		return false
	}
	_, ok := cons[0].Layer.(*ir.LastTimeStep)
	if ok {
		c.folded[v.Name] = true
	}
	return ok
}

func (c *converter) lastTimeStep(v *ir.Vertex, t xt) error {
	if c.folded[v.Inputs[0]] {
		c.tensors[v.Name] = xt{layer: t.layer, shape: c.shapes[v.Name]}
		return nil
	}
	t, err := c.toPlain(t, v.Name)
	if err != nil {
		return err
	}
	if len(t.shape) != 2 || t.shape[0] <= 0 {
		return unsup("the last step of a sequence of unknown length (shape %v) has no Keras layer; a unidirectional RNN read only by it is written with return_sequences=False, a bidirectional one is not equivalent", t.shape)
	}
	crop := c.addAux(v.Name, "crop", "Cropping1D", map[string]any{"cropping": []any{t.shape[0] - 1, 0}}, t)
	crop.shape = []int{1, t.shape[1]}
	c.emit(v, "Reshape", map[string]any{"target_shape": c.shapes[v.Name]}, []xt{crop}, xt{})
	return nil
}
