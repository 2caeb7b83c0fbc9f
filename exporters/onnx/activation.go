package onnx

import (
	"fmt"
	"math"

	"github.com/retarget-dev/retarget/ir"
)

// activation writes a (rank = IR rank) activation from in to out.
func (b *builder) activation(a ir.Activation, suffix, in, out string, rank int) error {
	switch a.Kind {
	case "", ir.ActIdentity:
		b.op("Identity", suffix, []string{in}, out)
	case ir.ActReLU:
		b.op("Relu", suffix, []string{in}, out)
	case ir.ActReLU6:
		b.op("Clip", suffix, []string{in, b.scalar("min", 0), b.scalar("max", 6)}, out)
	case ir.ActClip:
		b.op("Clip", suffix, []string{in, b.scalar("min", a.Alpha), b.scalar("max", a.Beta)}, out)
	case ir.ActLeakyReLU:
		b.op("LeakyRelu", suffix, []string{in}, out, aFloat("alpha", a.Alpha))
	case ir.ActELU:
		alpha := a.Alpha
		if alpha == 0 {
			alpha = 1
		}
		b.op("Elu", suffix, []string{in}, out, aFloat("alpha", alpha))
	case ir.ActSELU:
		b.op("Selu", suffix, []string{in}, out)
	case ir.ActSigmoid:
		b.op("Sigmoid", suffix, []string{in}, out)
	case ir.ActHardSigmoid:
		al, be := a.Alpha, a.Beta
		if al == 0 && be == 0 {
			al, be = 0.2, 0.5
		}
		b.op("HardSigmoid", suffix, []string{in}, out, aFloat("alpha", al), aFloat("beta", be))
	case ir.ActTanh:
		b.op("Tanh", suffix, []string{in}, out)
	case ir.ActSoftplus:
		b.op("Softplus", suffix, []string{in}, out)
	case ir.ActSoftsign:
		b.op("Softsign", suffix, []string{in}, out)
	case ir.ActThresholdReLU:
		b.op("ThresholdedRelu", suffix, []string{in}, out, aFloat("alpha", a.Alpha))
	case ir.ActSwish:
		s := b.op("Sigmoid", join(suffix, "sigmoid"), []string{in}, b.tmp("sigmoid"))
		b.op("Mul", suffix, []string{in, s}, out)
	case ir.ActHardSwish:
		if b.opset >= 14 {
			b.op("HardSwish", suffix, []string{in}, out)
			break
		}
		s := b.op("HardSigmoid", join(suffix, "hardsigmoid"), []string{in}, b.tmp("hardsigmoid"),
			aFloat("alpha", 1.0/6), aFloat("beta", 0.5))
		b.op("Mul", suffix, []string{in, s}, out)
	case ir.ActGELU:
		if b.opset >= 20 {
			b.op("Gelu", suffix, []string{in}, out)
			break
		}
		d := b.op("Div", join(suffix, "gelu_div"), []string{in, b.scalar("sqrt2", float32(math.Sqrt2))}, b.tmp("gelu_div"))
		e := b.op("Erf", join(suffix, "gelu_erf"), []string{d}, b.tmp("gelu_erf"))
		p := b.op("Add", join(suffix, "gelu_add"), []string{e, b.scalar("one", 1)}, b.tmp("gelu_add"))
		m := b.op("Mul", join(suffix, "gelu_mul"), []string{in, p}, b.tmp("gelu_mul"))
		b.op("Mul", suffix, []string{m, b.scalar("half", 0.5)}, out)
	case ir.ActGELUTanh:
		if b.opset >= 20 {
			b.op("Gelu", suffix, []string{in}, out, aStr("approximate", "tanh"))
			break
		}
		// PyTorch's form, which the importer fuses back.
		x2 := b.op("Mul", join(suffix, "gelu_x2"), []string{in, in}, b.tmp("gelu_x2"))
		x3 := b.op("Mul", join(suffix, "gelu_x3"), []string{in, x2}, b.tmp("gelu_x3"))
		k := b.op("Mul", join(suffix, "gelu_kx3"), []string{x3, b.scalar("kappa", 0.044715)}, b.tmp("gelu_kx3"))
		s := b.op("Add", join(suffix, "gelu_sum"), []string{in, k}, b.tmp("gelu_sum"))
		u := b.op("Mul", join(suffix, "gelu_scaled"), []string{s, b.scalar("sqrt2_pi", float32(math.Sqrt(2/math.Pi)))}, b.tmp("gelu_scaled"))
		t := b.op("Tanh", join(suffix, "gelu_tanh"), []string{u}, b.tmp("gelu_tanh"))
		p := b.op("Add", join(suffix, "gelu_add"), []string{t, b.scalar("one", 1)}, b.tmp("gelu_add"))
		m := b.op("Mul", join(suffix, "gelu_mul"), []string{in, p}, b.tmp("gelu_mul"))
		b.op("Mul", suffix, []string{m, b.scalar("half", 0.5)}, out)
	case ir.ActMish:
		if b.opset >= 18 {
			b.op("Mish", suffix, []string{in}, out)
			break
		}
		sp := b.op("Softplus", join(suffix, "mish_softplus"), []string{in}, b.tmp("mish_softplus"))
		t := b.op("Tanh", join(suffix, "mish_tanh"), []string{sp}, b.tmp("mish_tanh"))
		b.op("Mul", suffix, []string{in, t}, out)
	case ir.ActSoftmax, ir.ActLogSoftmax:
		opName := "Softmax"
		if a.Kind == ir.ActLogSoftmax {
			opName = "LogSoftmax"
		}
		ax := a.Axis
		if ax < 0 {
			ax += rank
		}
		if ax < 0 || ax >= rank {
			return fmt.Errorf("%s axis %d for rank %d", a.Kind, a.Axis, rank)
		}
		if b.opset >= 13 || ax == rank-1 {
			b.op(opName, suffix, []string{in}, out, aInt("axis", int64(ax+1)))
			break
		}
		// Older Softmax coerces to 2-D: move the axis last and back.
		perm := make([]int, rank+1)
		for k := range perm {
			perm[k] = k
		}
		perm[ax+1], perm[rank] = rank, ax+1
		t := b.transpose(join(suffix, "to_last"), in, perm, b.tmp("to_last"))
		s := b.op(opName, suffix, []string{t}, b.tmp("softmax"), aInt("axis", int64(rank)))
		b.transpose(join(suffix, "from_last"), s, perm, out)
	default:
		return fmt.Errorf("activation %q has no ONNX form", a.Kind)
	}
	return nil
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "/" + b
}

// withActivation writes a layer's main node into a temporary and its
// activation into out (or the node straight into out when identity).
func (b *builder) withActivation(a ir.Activation, rank int, out string, main func(dst string) error) error {
	if a.IsIdentity() {
		return main(out)
	}
	t := b.tmp("preact")
	if err := main(t); err != nil {
		return err
	}
	return b.activation(a, "act", t, out, rank)
}
