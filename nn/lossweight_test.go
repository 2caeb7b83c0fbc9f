package nn

import (
	"math"
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// twoHeads is a graph with two inputs merged into a shared layer and two
// loss outputs: a weighted regression head and a weighted classifier.
func twoHeads(t *testing.T, wReg, wCls float64) *ir.Graph {
	t.Helper()
	g := &ir.Graph{Name: "two_heads",
		Inputs: []ir.Input{{Name: "a", Shape: []int{3}}, {Name: "b", Shape: []int{2}}},
		Vertices: []*ir.Vertex{
			{Name: "cat", Layer: &ir.Concat{Axis: 0}, Inputs: []string{"a", "b"}},
			{Name: "h", Layer: &ir.Dense{Units: 4, Activation: ir.Act(ir.ActTanh)}, Inputs: []string{"cat"}},
			{Name: "reg", Layer: &ir.Output{Units: 1, Activation: ir.Act(ir.ActIdentity), Loss: ir.LossMSE, LossWeight: wReg}, Inputs: []string{"h"}},
			{Name: "cls", Layer: &ir.Output{Units: 3, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT, LossWeight: wCls}, Inputs: []string{"h"}},
		},
		Outputs: []ir.GraphOutput{{Name: "reg", Vertex: "reg"}, {Name: "cls", Vertex: "cls"}}}
	if err := InitGraph(g, ir.InitXavierUniform, 3); err != nil {
		t.Fatal(err)
	}
	return g
}

func twoHeadsBatch(rng *rand.Rand) (xs, ys []*ir.Tensor) {
	cls := ir.NewTensor(4, 3)
	for i := 0; i < 4; i++ {
		cls.Data[i*3+i%3] = 1
	}
	return []*ir.Tensor{RandTensor(rng, -1, 1, 4, 3), RandTensor(rng, -1, 1, 4, 2)},
		[]*ir.Tensor{RandTensor(rng, -1, 1, 4, 1), cls}
}

func TestGradLossWeights(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	xs, ys := twoHeadsBatch(rng)
	GradCheck(t, twoHeads(t, 0.3, 2.5), xs, ys)
}

func TestLossWeightsWeightTheTotal(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	xs, ys := twoHeadsBatch(rng)
	loss := func(g *ir.Graph) (float64, []float64) {
		n, err := CompileWith[float64](g, Options{})
		if err != nil {
			t.Fatal(err)
		}
		in := []*Mat[float64]{MatFromTensor[float64](xs[0]), MatFromTensor[float64](xs[1])}
		if _, err := n.Forward(in, true); err != nil {
			t.Fatal(err)
		}
		l, err := n.ComputeLoss([]*Mat[float64]{MatFromTensor[float64](ys[0]), MatFromTensor[float64](ys[1])}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return l, append([]float64(nil), n.OutputLosses()...)
	}
	plain, outs := loss(twoHeads(t, 0, 0))
	if math.Abs(plain-(outs[0]+outs[1])) > 1e-12 {
		t.Fatalf("unweighted total %v, outputs %v", plain, outs)
	}
	weighted, wouts := loss(twoHeads(t, 0.3, 2.5))
	if want := 0.3*outs[0] + 2.5*outs[1]; math.Abs(weighted-want) > 1e-12 {
		t.Fatalf("weighted total %v, want %v", weighted, want)
	}
	if wouts[0] != outs[0] || wouts[1] != outs[1] {
		t.Fatalf("per-output losses are unweighted: %v vs %v", wouts, outs)
	}
}

func TestLRScale(t *testing.T) {
	g := twoHeads(t, 0, 0)
	g.Train = &ir.TrainConfig{Updater: ir.UpdSGD, LearningRate: 0.1}
	n, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	if n.LearningRate() != 0.1 {
		t.Fatalf("lr %v", n.LearningRate())
	}
	n.SetLRScale(0.25)
	if math.Abs(n.LearningRate()-0.025) > 1e-12 {
		t.Fatalf("scaled lr %v", n.LearningRate())
	}
}
