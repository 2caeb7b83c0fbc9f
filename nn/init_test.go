package nn

import (
	"math"
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

func TestInitTensorDistributions(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	fanIn, fanOut := 200, 100
	for _, c := range []struct {
		init       ir.WeightInit
		limit, std float64
	}{
		{ir.InitXavierUniform, math.Sqrt(6.0 / 300), math.Sqrt(2.0 / 300)},
		{ir.InitHeUniform, math.Sqrt(6.0 / 200), math.Sqrt(2.0 / 200)},
		{ir.InitLeCunUniform, math.Sqrt(3.0 / 200), math.Sqrt(1.0 / 200)},
		{ir.InitXavierNormal, 2 * math.Sqrt(2.0/300) / 0.8796, math.Sqrt(2.0 / 300)},
		{ir.InitHeNormal, 2 * math.Sqrt(2.0/200) / 0.8796, math.Sqrt(2.0 / 200)},
		{ir.InitLeCunNormal, 2 * math.Sqrt(1.0/200) / 0.8796, math.Sqrt(1.0 / 200)},
		{ir.InitUniform, 0.05, 0.05 / math.Sqrt(3)},
		{ir.InitNormal, math.Inf(1), 0.05},
		{ir.InitTruncatedNormal, 0.1 + 1e-7, 0.05 * 0.8796},
	} {
		tt := ir.NewTensor(fanIn, fanOut)
		InitTensor(tt, c.init, fanIn, fanOut, 0, rng)
		var ss, mean float64
		for _, v := range tt.Data {
			if math.Abs(float64(v)) > c.limit {
				t.Fatalf("%s: %v beyond %v", c.init, v, c.limit)
			}
			mean += float64(v)
			ss += float64(v) * float64(v)
		}
		n := float64(tt.Len())
		std := math.Sqrt(ss/n - (mean/n)*(mean/n))
		if math.Abs(std-c.std) > 0.05*c.std || math.Abs(mean/n) > 0.05*c.std {
			t.Fatalf("%s: std %v mean %v, want std %v", c.init, std, mean/n, c.std)
		}
	}
	tt := ir.NewTensor(3)
	InitTensor(tt, ir.InitConstant, 1, 1, 0.25, rng)
	if tt.Data[2] != 0.25 {
		t.Fatal("constant init")
	}
}

func TestIdentityInitPreservesOutputs(t *testing.T) {
	g := Sequential("ident", []int{4, 5, 6},
		&ir.Conv{Rank: 2, Filters: 4, Kernel: []int{3, 3}, Padding: ir.PadSame},
		&ir.Conv{Rank: 2, Filters: 4, Groups: 4, Kernel: []int{3, 1}, Padding: ir.PadSame},
		&ir.Flatten{},
		&ir.Dense{Units: 120})
	if err := InitGraph(g, ir.InitIdentity, 1); err != nil {
		t.Fatal(err)
	}
	net, _ := Compile(g)
	x := RandTensor(rand.New(rand.NewSource(2)), -1, 1, 2, 4, 5, 6)
	out, err := net.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range x.Data {
		if out[0].Data[i] != v {
			t.Fatalf("identity init changed element %d: %v -> %v", i, v, out[0].Data[i])
		}
	}
	bad := Sequential("bad", []int{4}, &ir.Dense{Units: 3})
	if err := InitGraph(bad, ir.InitIdentity, 1); err == nil {
		t.Fatal("identity accepted for a non-square Dense")
	}
}

func TestInitParamsRoles(t *testing.T) {
	g := &ir.Graph{Name: "roles", Inputs: []ir.Input{{Name: "x", Shape: []int{3, 4}}},
		Vertices: []*ir.Vertex{
			{Name: "bn", Layer: &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.9}, Inputs: []string{"x"}},
			{Name: "lstm", Layer: &ir.LSTM{Units: 2, UnitForgetBias: true}, Inputs: []string{"bn"}},
			{Name: "pr", Layer: &ir.PReLU{}, Inputs: []string{"lstm"}},
		},
		Outputs: []ir.GraphOutput{{Name: "pr", Vertex: "pr"}}}
	keep := ir.FromData([]float32{9, 9, 9}, 3)
	g.Vertices[0].Params = map[string]*ir.Tensor{"gamma": keep, "mean": ir.NewTensor(7)}
	g.Vertices[0].State = map[string]*ir.Tensor{"mean/x": ir.NewTensor(7), "gamma/m": ir.NewTensor(3)}
	if err := InitGraph(g, ir.InitXavierUniform, 1); err != nil {
		t.Fatal(err)
	}
	bn := g.Vertices[0]
	if bn.Params["gamma"] != keep {
		t.Fatal("an existing parameter was replaced")
	}
	if bn.Params["var"].Data[0] != 1 || bn.Params["mean"].Len() != 3 || bn.Params["beta"].Data[0] != 0 {
		t.Fatal("BatchNorm defaults")
	}
	if _, ok := bn.State["mean/x"]; ok {
		t.Fatal("state of a replaced parameter kept")
	}
	if _, ok := bn.State["gamma/m"]; !ok {
		t.Fatal("state of a kept parameter dropped")
	}
	b := g.Vertices[1].Params["b"].Data
	if b[0] != 0 || b[2] != 1 || b[3] != 1 || b[4] != 0 {
		t.Fatalf("LSTM forget bias %v", b)
	}
	if g.Vertices[2].Params["alpha"].Data[0] != 0.25 {
		t.Fatal("PReLU alpha")
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestBadInputsAreErrors(t *testing.T) {
	g := coreInit(t, Sequential("bad", []int{4}, &ir.Output{Units: 3, Loss: ir.LossSparseMCXENT, Activation: ir.Act(ir.ActSoftmax)}), 1)
	net, _ := Compile(g)
	if _, err := net.Predict(ir.NewTensor(2, 5)); err == nil {
		t.Fatal("wrong input size accepted")
	}
	if _, err := net.Predict(&ir.Tensor{Shape: []int{2, 4}, Data: make([]float32, 3)}); err == nil {
		t.Fatal("short data accepted")
	}
	if _, err := net.FitBatch(&Batch{Inputs: []*ir.Tensor{ir.NewTensor(2, 4)}, Labels: []*ir.Tensor{ir.FromData([]float32{0, 7}, 2)}}); err == nil {
		t.Fatal("out-of-range class accepted")
	}
	if _, err := net.FitBatch(&Batch{Inputs: []*ir.Tensor{ir.NewTensor(2, 4)}}); err == nil {
		t.Fatal("missing labels accepted")
	}
	missing := Sequential("noparams", []int{4}, &ir.Dense{Units: 2})
	if _, err := Compile(missing); err == nil {
		t.Fatal("compiled a graph without parameters")
	}
	if _, err := NewArrayIterator(ir.NewTensor(3, 2), ir.NewTensor(4), 2, false, 0); err == nil {
		t.Fatal("mismatched example counts accepted")
	}
}
