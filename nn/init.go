package nn

import (
	"fmt"
	"math"
	"math/rand"

	"github.com/retarget-dev/retarget/ir"
)

// InitTensor fills t by a weight-init scheme. value is the constant
// (InitConstant), the standard deviation (normal, truncated normal; 0 means
// 0.05) or the limit (uniform; 0 means 0.05), or the scale of identity
// (0 means 1). Glorot/He/LeCun use fanIn and fanOut. Identity writes an
// identity matrix into a rank-2 tensor (the leading square part when it is
// not square) and a Dirac kernel into a convolution weight [out, in, k...].
func InitTensor(t *ir.Tensor, init ir.WeightInit, fanIn, fanOut int, value float64, rng *rand.Rand) {
	fi, fo := float64(max(fanIn, 1)), float64(max(fanOut, 1))
	uniform := func(limit float64) {
		for i := range t.Data {
			t.Data[i] = float32((rng.Float64()*2 - 1) * limit)
		}
	}
	normal := func(std float64) {
		for i := range t.Data {
			t.Data[i] = float32(rng.NormFloat64() * std)
		}
	}
	// truncated at two standard deviations, rescaled to keep std (as Keras)
	truncated := func(std float64) {
		s := std / 0.87962566103423978
		for i := range t.Data {
			v := rng.NormFloat64()
			for math.Abs(v) > 2 {
				v = rng.NormFloat64()
			}
			t.Data[i] = float32(v * s)
		}
	}
	orDefault := func(v, d float64) float64 {
		if v == 0 {
			return d
		}
		return v
	}
	switch init {
	case ir.InitZeros:
		clear(t.Data)
	case ir.InitOnes:
		fill(t.Data, 1)
	case ir.InitConstant:
		fill(t.Data, float32(value))
	case ir.InitNormal:
		normal(orDefault(value, 0.05))
	case ir.InitUniform:
		uniform(orDefault(value, 0.05))
	case ir.InitTruncatedNormal:
		s := orDefault(value, 0.05)
		for i := range t.Data {
			v := rng.NormFloat64()
			for math.Abs(v) > 2 {
				v = rng.NormFloat64()
			}
			t.Data[i] = float32(v * s)
		}
	case ir.InitXavierUniform:
		uniform(math.Sqrt(6 / (fi + fo)))
	case ir.InitXavierNormal:
		truncated(math.Sqrt(2 / (fi + fo)))
	case ir.InitHeUniform:
		uniform(math.Sqrt(6 / fi))
	case ir.InitHeNormal:
		truncated(math.Sqrt(2 / fi))
	case ir.InitLeCunUniform:
		uniform(math.Sqrt(3 / fi))
	case ir.InitLeCunNormal:
		truncated(math.Sqrt(1 / fi))
	case ir.InitIdentity:
		identity(t, float32(orDefault(value, 1)))
	default:
		uniform(math.Sqrt(6 / (fi + fo)))
	}
}

func fill(d []float32, v float32) {
	for i := range d {
		d[i] = v
	}
}

// identity writes an identity matrix or a Dirac kernel.
func identity(t *ir.Tensor, scale float32) {
	clear(t.Data)
	switch len(t.Shape) {
	case 0, 1:
		fill(t.Data, scale)
	case 2:
		r, c := t.Shape[0], t.Shape[1]
		for i := 0; i < min(r, c); i++ {
			t.Data[i*c+i] = scale
		}
	default:
		// [out, in/groups, k...]: out channel o copies input channel o
		// (within its group) at the kernel centre.
		out, in := t.Shape[0], t.Shape[1]
		sp := t.Shape[2:]
		rf := ir.NumElements(sp)
		centre, mul := 0, 1
		for i := len(sp) - 1; i >= 0; i-- {
			centre += (sp[i] - 1) / 2 * mul
			mul *= sp[i]
		}
		for o := 0; o < out; o++ {
			i := o
			if in == 1 {
				i = 0
			} else if i >= in {
				continue
			}
			t.Data[(o*in+i)*rf+centre] = scale
		}
	}
}

// canIdentity reports whether identity init keeps a layer's output equal to
// its input for a parameter shape.
func canIdentity(shape []int) bool {
	switch len(shape) {
	case 2:
		return shape[0] == shape[1]
	case 0, 1:
		return true
	}
	for _, k := range shape[2:] {
		if k%2 == 0 {
			return false
		}
	}
	return shape[1] == 1 || shape[0] == shape[1]
}

// InitParams gives a vertex every parameter its layer needs: parameters that
// are missing or whose shape no longer matches are created (and their
// updater state dropped); existing ones are kept. Weights use init; the
// other roles their usual constants: biases 0 (LSTM forget gate 1 with
// UnitForgetBias), gamma 1, beta 0, BatchNorm mean 0 and variance 1, PReLU
// alpha 0.25, constants 0. Identity is refused for a weight it cannot make
// an identity (non-square Dense, even kernel).
func InitParams(g *ir.Graph, v *ir.Vertex, init ir.WeightInit, rng *rand.Rand) error {
	shapes, err := g.Shapes()
	if err != nil {
		return err
	}
	in := v.InputShapes(shapes)
	for i, s := range in {
		if s == nil {
			return &ir.VertexError{Vertex: v.Name, Err: fmt.Errorf("unknown input %q", v.Inputs[i])}
		}
	}
	if v.Params == nil {
		v.Params = map[string]*ir.Tensor{}
	}
	for _, s := range v.Layer.Params(in) {
		if t := v.Params[s.Name]; t != nil && ir.SameShape(t.Shape, s.Shape) && len(t.Data) == t.Len() {
			continue
		}
		for _, d := range s.Shape {
			if d <= 0 {
				return &ir.VertexError{Vertex: v.Name, Err: fmt.Errorf("parameter %q has an unknown size %v", s.Name, s.Shape)}
			}
		}
		t := ir.NewTensor(s.Shape...)
		switch s.Role {
		case ir.RoleWeight, ir.RoleRecurrent, ir.RoleEmbedding:
			if init == ir.InitIdentity && !canIdentity(s.Shape) {
				return &ir.VertexError{Vertex: v.Name, Err: fmt.Errorf("identity init needs a square weight or an odd kernel, %q has shape %v", s.Name, s.Shape)}
			}
			InitTensor(t, init, s.FanIn, s.FanOut, 0, rng)
		case ir.RoleGamma:
			fill(t.Data, 1)
		case ir.RoleStat:
			if s.Name == "var" {
				fill(t.Data, 1)
			}
		case ir.RoleAlpha:
			fill(t.Data, 0.25)
		case ir.RoleBias:
			forgetBias(v.Layer, s.Name, t)
		}
		v.Params[s.Name] = t
		for k := range v.State {
			if len(k) > len(s.Name) && k[:len(s.Name)+1] == s.Name+"/" {
				delete(v.State, k)
			}
		}
	}
	return nil
}

// forgetBias sets the LSTM forget-gate bias to 1 when asked (Keras order
// i, f, c, o).
func forgetBias(l ir.Layer, name string, t *ir.Tensor) {
	lstm, ok := l.(*ir.LSTM)
	prefix := ""
	if b, isBi := l.(*ir.Bidirectional); isBi {
		lstm, ok = b.Layer.(*ir.LSTM)
		if len(name) > 3 {
			prefix = name[:3]
		}
	}
	if !ok || !lstm.UnitForgetBias || name != prefix+"b" {
		return
	}
	u := lstm.Units
	if len(t.Data) >= 2*u {
		fill(t.Data[u:2*u], 1)
	}
}

// InitGraph initialises every vertex that lacks parameters (models built
// from scratch), in topological order, from one seed.
func InitGraph(g *ir.Graph, init ir.WeightInit, seed int64) error {
	order, err := g.TopoOrder()
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewSource(seed))
	for _, v := range order {
		if err := InitParams(g, v, init, rng); err != nil {
			return err
		}
	}
	return nil
}
