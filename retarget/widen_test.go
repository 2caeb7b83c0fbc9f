package retarget

import (
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

func mlp(t testing.TB) *ir.Graph {
	return graphOf(t, []ir.Input{{Name: "x", Shape: []int{8}}}, []*ir.Vertex{
		vx("d1", &ir.Dense{Units: 16, Activation: ir.Act(ir.ActReLU)}, "x"),
		vx("d2", &ir.Dense{Units: 12, Activation: ir.Act(ir.ActTanh)}, "d1"),
		vx("out", &ir.Output{Units: 4, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, "d2"),
	}, "out")
}

func rnnNet(t testing.TB, l ir.Layer) *ir.Graph {
	return graphOf(t, []ir.Input{{Name: "x", Shape: []int{5, 3}}}, []*ir.Vertex{
		vx("rnn", l, "x"),
		vx("last", &ir.LastTimeStep{}, "rnn"),
		vx("d", &ir.Dense{Units: 6, Activation: ir.Act(ir.ActTanh)}, "last"),
		vx("out", &ir.Output{Units: 3, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, "d"),
	}, "out")
}

func TestWidenKeepsPredictions(t *testing.T) {
	cases := []struct {
		name   string
		g      func(testing.TB) *ir.Graph
		target string
		units  func(*ir.Graph) int
		x      *ir.Tensor
	}{
		{"dense", mlp, "d1", nil, randTensor(1, 10, 8)},
		{"simple_rnn", func(t testing.TB) *ir.Graph {
			return rnnNet(t, &ir.SimpleRNN{Units: 4, Activation: ir.Act(ir.ActTanh), ReturnSequences: true})
		}, "rnn", nil, randTensor(2, 6, 5, 3)},
		{"lstm", func(t testing.TB) *ir.Graph {
			return rnnNet(t, &ir.LSTM{Units: 4, Activation: ir.Act(ir.ActTanh), RecurrentActivation: ir.Act(ir.ActSigmoid), ReturnSequences: true, UnitForgetBias: true})
		}, "rnn", nil, randTensor(3, 6, 5, 3)},
		{"gru", func(t testing.TB) *ir.Graph {
			return rnnNet(t, &ir.GRU{Units: 4, Activation: ir.Act(ir.ActTanh), RecurrentActivation: ir.Act(ir.ActSigmoid), ReturnSequences: true, ResetAfter: true})
		}, "rnn", nil, randTensor(4, 6, 5, 3)},
		{"gru_reset_before", func(t testing.TB) *ir.Graph {
			return rnnNet(t, &ir.GRU{Units: 4, Activation: ir.Act(ir.ActTanh), RecurrentActivation: ir.Act(ir.ActSigmoid), ReturnSequences: true})
		}, "rnn", nil, randTensor(5, 6, 5, 3)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := c.g(t)
			before := predict(t, src, c.x)[0]
			for _, mode := range []WidenMode{WidenPreserve, WidenNet2Net, WidenRandom} {
				g := mustBuild(t, New(src).Widen(c.target, 3, mode))
				if got := g.Vertex(c.target).Layer.(ir.Sized).OutUnits(); got != src.Vertex(c.target).Layer.(ir.Sized).OutUnits()+3 {
					t.Fatalf("%s: units %d", mode, got)
				}
				after := predict(t, g, c.x)[0]
				d := maxDiff(before, after)
				t.Logf("%s: max diff %.3g", mode, d)
				if mode == WidenRandom {
					if d < 1e-4 {
						t.Errorf("random widen left outputs unchanged (diff %g)", d)
					}
				} else if d > 2e-6 {
					t.Errorf("%s widen changed outputs by %g", mode, d)
				}
			}
		})
	}
}
