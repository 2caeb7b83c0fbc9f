package onnx

import (
	"fmt"
	"math"

	"github.com/retarget-dev/retarget/internal/onnxpb"
	"github.com/retarget-dev/retarget/ir"
)

// ONNX gate block of each IR (Keras-order) gate: LSTM IR i,f,c,o sit at
// ONNX i,o,f,c positions 0,2,3,1; GRU z,r,h and RNN keep their order.
var gatePerm = map[int][]int{1: {0}, 3: {0, 1, 2}, 4: {0, 2, 3, 1}}

func actName(a ir.Activation) (string, error) {
	switch a.Kind {
	case ir.ActSigmoid:
		return "Sigmoid", nil
	case ir.ActTanh:
		return "Tanh", nil
	case ir.ActReLU:
		return "Relu", nil
	case ir.ActSoftsign:
		return "Softsign", nil
	case ir.ActSoftplus:
		return "Softplus", nil
	case ir.ActHardSigmoid:
		if (a.Alpha == 0 && a.Beta == 0) || (a.Alpha == 0.2 && a.Beta == 0.5) {
			return "HardSigmoid", nil
		}
	case ir.ActLeakyReLU:
		if a.Alpha == 0.01 {
			return "LeakyRelu", nil
		}
	case ir.ActELU:
		if a.Alpha == 0 || a.Alpha == 1 {
			return "Elu", nil
		}
	}
	return "", fmt.Errorf("recurrent activation %+v has no ONNX form (with default parameters)", a)
}

type rnnSpec struct {
	op        string
	gates     int
	units     int
	seq       bool
	backwards bool
	acts      []ir.Activation
	lbr       bool
	peephole  bool
}

func specOf(l ir.Layer) (rnnSpec, error) {
	switch r := l.(type) {
	case *ir.SimpleRNN:
		return rnnSpec{op: "RNN", gates: 1, units: r.Units, seq: r.ReturnSequences, backwards: r.GoBackwards,
			acts: []ir.Activation{orDefault(r.Activation, ir.ActTanh)}}, nil
	case *ir.LSTM:
		a := orDefault(r.Activation, ir.ActTanh)
		return rnnSpec{op: "LSTM", gates: 4, units: r.Units, seq: r.ReturnSequences, backwards: r.GoBackwards,
			acts: []ir.Activation{orDefault(r.RecurrentActivation, ir.ActSigmoid), a, a}, peephole: r.Peephole}, nil
	case *ir.GRU:
		return rnnSpec{op: "GRU", gates: 3, units: r.Units, seq: r.ReturnSequences, backwards: r.GoBackwards,
			acts: []ir.Activation{orDefault(r.RecurrentActivation, ir.ActSigmoid), orDefault(r.Activation, ir.ActTanh)}, lbr: r.ResetAfter}, nil
	}
	return rnnSpec{}, fmt.Errorf("layer %s is not recurrent", l.Kind())
}

func orDefault(a ir.Activation, k ir.ActKind) ir.Activation {
	if a.Kind == "" {
		return ir.Act(k)
	}
	return a
}

// recurrent writes SimpleRNN/LSTM/GRU (or Bidirectional of one) over a
// batch-first [N, T, F] input.
func (b *builder) recurrent(l ir.Layer, in string, inShape []int, out string) error {
	inner, merge, dirs := l, ir.BiConcat, 1
	if bi, ok := l.(*ir.Bidirectional); ok {
		inner, merge, dirs = bi.Layer, bi.Merge, 2
	}
	s, err := specOf(inner)
	if err != nil {
		return err
	}
	if dirs == 2 && s.backwards {
		return fmt.Errorf("Bidirectional around a go_backwards layer has no ONNX form")
	}
	f, u, g := inShape[1], s.units, s.gates
	prefixes := []string{""}
	if dirs == 2 {
		prefixes = []string{"fw/", "bw/"}
	}
	W := make([]float32, dirs*g*u*f)
	R := make([]float32, dirs*g*u*u)
	B := make([]float32, dirs*2*g*u)
	var P []float32
	if s.peephole {
		P = make([]float32, dirs*3*u)
	}
	perm := gatePerm[g]
	for d, pre := range prefixes {
		w, r, bias := b.param(pre+"W"), b.param(pre+"R"), b.param(pre+"b")
		for j, dst := range perm {
			for k := 0; k < u; k++ {
				row := d*g*u + dst*u + k
				for x := 0; x < f; x++ {
					W[row*f+x] = w.Data[x*g*u+j*u+k]
				}
				for x := 0; x < u; x++ {
					R[row*u+x] = r.Data[x*g*u+j*u+k]
				}
				if bias != nil {
					base := d * 2 * g * u
					if len(bias.Data) == 2*g*u {
						B[base+dst*u+k] = bias.Data[j*u+k]
						B[base+g*u+dst*u+k] = bias.Data[g*u+j*u+k]
					} else {
						B[base+dst*u+k] = bias.Data[j*u+k]
					}
				}
			}
		}
		if s.peephole {
			p := b.param(pre + "P")
			for j, dst := range []int{0, 2, 1} { // IR i,f,o -> ONNX i,o,f
				copy(P[d*3*u+dst*u:d*3*u+dst*u+u], p.Data[j*u:j*u+u])
			}
		}
	}
	var names []string
	for d := 0; d < dirs; d++ {
		for _, a := range s.acts {
			n, err := actName(a)
			if err != nil {
				return err
			}
			names = append(names, n)
		}
	}
	dir := "forward"
	switch {
	case dirs == 2:
		dir = "bidirectional"
	case s.backwards:
		dir = "reverse"
	}
	x := b.transpose("time_major", in, []int{1, 0, 2}, b.tmp("time_major"))
	ins := []string{x, b.init("W", []int{dirs, g * u, f}, W), b.init("R", []int{dirs, g * u, u}, R), b.init("B", []int{dirs, 2 * g * u}, B)}
	if s.peephole {
		ins = append(ins, "", "", "", b.init("P", []int{dirs, 3 * u}, P))
	}
	attrs := []*onnxpb.AttributeProto{aInt("hidden_size", int64(u)), aStr("direction", dir), aStrs("activations", names...)}
	if s.op == "GRU" && s.lbr {
		attrs = append(attrs, aInt("linear_before_reset", 1))
	}
	y, yh := "", ""
	if s.seq {
		y = b.tmp("Y")
	} else {
		yh = b.tmp("Y_h")
	}
	outs := []string{y, yh}
	b.add(s.op, b.v.Name, ins, outs, attrs...)
	if s.seq {
		if dirs == 1 {
			sq := b.withAxes("Squeeze", "squeeze", y, []int{1}, b.tmp("squeezed"), 13)
			if !s.backwards {
				b.transpose("batch_first", sq, []int{1, 0, 2}, out)
				return nil
			}
			t := b.transpose("batch_first", sq, []int{1, 0, 2}, b.tmp("batch_first"))
			// IR returns a backwards layer's outputs in reading order.
			b.op("Slice", "reading_order", []string{t, b.ints("starts", -1), b.ints("ends", math.MinInt64),
				b.ints("axes", 1), b.ints("steps", -1)}, out)
			return nil
		}
		t := b.transpose("batch_first", y, []int{2, 0, 1, 3}, b.tmp("batch_first"))
		return b.mergeDirs(merge, t, 2, out)
	}
	t := b.transpose("batch_first", yh, []int{1, 0, 2}, b.tmp("batch_first"))
	if dirs == 1 {
		b.withAxes("Squeeze", "squeeze", t, []int{1}, out, 13)
		return nil
	}
	return b.mergeDirs(merge, t, 1, out)
}

// mergeDirs combines the directions axis of a batch-first value.
func (b *builder) mergeDirs(m ir.BiMerge, in string, axis int, out string) error {
	switch m {
	case ir.BiConcat, "":
		shape := []int{-1}
		if axis == 2 {
			shape = []int{0, -1}
		}
		b.reshape("concat", in, shape, out)
	case ir.BiSum:
		b.reduce("ReduceSum", "sum", in, []int{axis}, out, false)
	case ir.BiAverage:
		b.reduce("ReduceMean", "ave", in, []int{axis}, out, false)
	case ir.BiMul:
		b.reduce("ReduceProd", "mul", in, []int{axis}, out, false)
	default:
		return fmt.Errorf("Bidirectional merge %q", m)
	}
	return nil
}
