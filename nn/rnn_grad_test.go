package nn

import (
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// rnnTestMask is a (batch 3, T 5) mask with padding at the end, at the start,
// and none.
var rnnTestMask = []float64{
	1, 1, 1, 0, 0,
	0, 0, 1, 1, 1,
	1, 1, 1, 1, 1,
}

func rnnLayers() map[string]ir.Layer {
	tanh, sig, hs := ir.Act(ir.ActTanh), ir.Act(ir.ActSigmoid), ir.Act(ir.ActHardSigmoid)
	return map[string]ir.Layer{
		"SimpleRNN/seq":       &ir.SimpleRNN{Units: 3, Activation: tanh, ReturnSequences: true},
		"SimpleRNN/last":      &ir.SimpleRNN{Units: 3, Activation: tanh},
		"SimpleRNN/back":      &ir.SimpleRNN{Units: 3, Activation: tanh, GoBackwards: true, ReturnSequences: true},
		"SimpleRNN/nobias":    &ir.SimpleRNN{Units: 3, Activation: ir.Act(ir.ActSoftsign), NoBias: true},
		"LSTM/seq":            &ir.LSTM{Units: 3, Activation: tanh, RecurrentActivation: sig, ReturnSequences: true},
		"LSTM/last":           &ir.LSTM{Units: 3, Activation: tanh, RecurrentActivation: sig},
		"LSTM/back":           &ir.LSTM{Units: 3, Activation: tanh, RecurrentActivation: sig, GoBackwards: true, ReturnSequences: true},
		"LSTM/backlast":       &ir.LSTM{Units: 3, Activation: tanh, RecurrentActivation: sig, GoBackwards: true},
		"LSTM/peephole":       &ir.LSTM{Units: 3, Activation: tanh, RecurrentActivation: sig, Peephole: true, ReturnSequences: true},
		"LSTM/peephole-last":  &ir.LSTM{Units: 3, Activation: tanh, RecurrentActivation: sig, Peephole: true},
		"LSTM/nobias":         &ir.LSTM{Units: 3, Activation: tanh, RecurrentActivation: sig, NoBias: true, ReturnSequences: true},
		"LSTM/hardsig-softsn": &ir.LSTM{Units: 3, Activation: ir.Act(ir.ActSoftsign), RecurrentActivation: hs, ReturnSequences: true},
		"GRU/after-seq":       &ir.GRU{Units: 3, Activation: tanh, RecurrentActivation: sig, ResetAfter: true, ReturnSequences: true},
		"GRU/after-last":      &ir.GRU{Units: 3, Activation: tanh, RecurrentActivation: sig, ResetAfter: true},
		"GRU/after-nobias":    &ir.GRU{Units: 3, Activation: tanh, RecurrentActivation: sig, ResetAfter: true, NoBias: true},
		"GRU/before-seq":      &ir.GRU{Units: 3, Activation: tanh, RecurrentActivation: sig, ReturnSequences: true},
		"GRU/before-last":     &ir.GRU{Units: 3, Activation: tanh, RecurrentActivation: sig},
		"GRU/before-nobias":   &ir.GRU{Units: 3, Activation: tanh, RecurrentActivation: sig, NoBias: true, ReturnSequences: true},
		"GRU/after-back":      &ir.GRU{Units: 3, Activation: tanh, RecurrentActivation: sig, ResetAfter: true, GoBackwards: true, ReturnSequences: true},
		"GRU/before-back":     &ir.GRU{Units: 3, Activation: tanh, RecurrentActivation: hs, GoBackwards: true},
	}
}

func TestRecurrentGradients(t *testing.T) {
	for name, l := range rnnLayers() {
		t.Run(name, func(t *testing.T) {
			rnnOpCheck{layer: l, in: []int{5, 2}, batch: 3}.run(t)
		})
		t.Run(name+"/masked", func(t *testing.T) {
			rnnOpCheck{layer: l, in: []int{5, 2}, batch: 3, mask: rnnTestMask}.run(t)
		})
	}
}

func TestBidirectionalGradients(t *testing.T) {
	inner := map[string]ir.Layer{
		"LSTM-seq":  &ir.LSTM{Units: 2, Activation: ir.Act(ir.ActTanh), RecurrentActivation: ir.Act(ir.ActSigmoid), ReturnSequences: true},
		"GRU-last":  &ir.GRU{Units: 2, Activation: ir.Act(ir.ActTanh), RecurrentActivation: ir.Act(ir.ActSigmoid), ResetAfter: true},
		"RNN-back":  &ir.SimpleRNN{Units: 2, Activation: ir.Act(ir.ActTanh), ReturnSequences: true, GoBackwards: true},
		"LSTM-peep": &ir.LSTM{Units: 2, Activation: ir.Act(ir.ActTanh), RecurrentActivation: ir.Act(ir.ActSigmoid), Peephole: true},
	}
	for _, merge := range []ir.BiMerge{ir.BiConcat, ir.BiSum, ir.BiMul, ir.BiAverage} {
		for name, l := range inner {
			b := &ir.Bidirectional{Layer: l, Merge: merge}
			t.Run(string(merge)+"/"+name, func(t *testing.T) {
				rnnOpCheck{layer: b, in: []int{5, 2}, batch: 3}.run(t)
			})
			t.Run(string(merge)+"/"+name+"/masked", func(t *testing.T) {
				rnnOpCheck{layer: b, in: []int{5, 2}, batch: 3, mask: rnnTestMask}.run(t)
			})
		}
	}
}

func TestEmbeddingGradient(t *testing.T) {
	x := []float64{0, 3, 3, 1, 4, 2, 0, 0}
	rnnOpCheck{layer: &ir.Embedding{InputDim: 5, OutputDim: 3}, in: []int{4}, batch: 2, x: x, noInputGrad: true}.run(t)
	rnnOpCheck{layer: &ir.Embedding{InputDim: 5, OutputDim: 3}, in: []int{4, 1}, batch: 2, x: x, noInputGrad: true}.run(t)
}

func TestSequenceUtilityGradients(t *testing.T) {
	t.Run("LastTimeStep", func(t *testing.T) {
		rnnOpCheck{layer: &ir.LastTimeStep{}, in: []int{5, 2}, batch: 3}.run(t)
	})
	t.Run("LastTimeStep/masked", func(t *testing.T) {
		rnnOpCheck{layer: &ir.LastTimeStep{}, in: []int{5, 2}, batch: 3, mask: rnnTestMask}.run(t)
	})
	t.Run("RepeatVector", func(t *testing.T) {
		rnnOpCheck{layer: &ir.RepeatVector{N: 4}, in: []int{3}, batch: 2}.run(t)
	})
	t.Run("Masking", func(t *testing.T) {
		x := make([]float64, 3*5*2)
		for i := range x {
			x[i] = float64(i%7)*0.3 - 0.8
		}
		// Steps (0,3), (1,0), (2,4) are padding.
		pad := map[int]bool{3: true, 5: true, 14: true}
		for s := range pad {
			x[2*s], x[2*s+1] = 0, 0
		}
		rnnOpCheck{layer: &ir.Masking{Value: 0}, in: []int{5, 2}, batch: 3, x: x,
			skipInput: func(i int) bool { return pad[i/2] }}.run(t)
	})
}

// Embedding with MaskZero: its output carries the mask index ≠ 0, which
// the LSTM after it honours (the gradient of the embedding table through
// a masked LSTM checks), as a sequence mask given to the network does.
func TestEmbeddingMaskZero(t *testing.T) {
	tanh, sig := ir.Act(ir.ActTanh), ir.Act(ir.ActSigmoid)
	g := &ir.Graph{Name: "mask_zero", Inputs: []ir.Input{{Name: "ids", Shape: []int{5}}},
		Vertices: []*ir.Vertex{
			{Name: "emb", Layer: &ir.Embedding{InputDim: 6, OutputDim: 3, MaskZero: true}, Inputs: []string{"ids"}},
			{Name: "lstm", Layer: &ir.LSTM{Units: 2, Activation: tanh, RecurrentActivation: sig}, Inputs: []string{"emb"}}},
		Outputs: []ir.GraphOutput{{Name: "lstm", Vertex: "lstm"}}}
	if err := InitGraph(g, ir.InitXavierUniform, 3); err != nil {
		t.Fatal(err)
	}
	ids := ir.FromData([]float32{3, 1, 4, 0, 0, 0, 0, 2, 5, 1}, 2, 5)
	GradCheck(t, g, []*ir.Tensor{ids}, nil, GradCheckOptions{SkipInputs: true})
	run := func(g *ir.Graph, mask []float32) []float32 {
		net, err := Compile(g)
		if err != nil {
			t.Fatal(err)
		}
		net.SetInputMask(mask)
		out, err := net.Forward([]*Mat[float32]{MatFromTensor[float32](ids)}, false)
		if err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), out[0].Data...)
	}
	masked := run(g, nil)
	g2 := g.Clone()
	g2.Vertex("emb").Layer.(*ir.Embedding).MaskZero = false
	given := run(g2, []float32{1, 1, 1, 0, 0, 0, 0, 1, 1, 1})
	unmasked := run(g2, nil)
	for i := range masked {
		if masked[i] != given[i] {
			t.Fatalf("mask_zero gives %v, the same mask given to the network %v", masked, given)
		}
	}
	if masked[0] == unmasked[0] {
		t.Fatalf("the padding made no difference: %v", masked)
	}
}

// How the sequence mask flows as Keras propagates it: a merge keeps a step
// only where every masked input does; a convolution drops the mask.
func TestMaskFlow(t *testing.T) {
	tanh, sig := ir.Act(ir.ActTanh), ir.Act(ir.ActSigmoid)
	lstm := func(in string) *ir.Vertex {
		return &ir.Vertex{Name: "lstm", Layer: &ir.LSTM{Units: 2, Activation: tanh, RecurrentActivation: sig}, Inputs: []string{in}}
	}
	emb := func(name, in string, mask bool) *ir.Vertex {
		return &ir.Vertex{Name: name, Layer: &ir.Embedding{InputDim: 6, OutputDim: 3, MaskZero: mask}, Inputs: []string{in}}
	}
	a := ir.FromData([]float32{3, 1, 4, 0, 0, 2, 2, 5, 1, 3}, 2, 5)
	b := ir.FromData([]float32{1, 0, 2, 2, 0, 4, 4, 4, 0, 1}, 2, 5)
	run := func(g *ir.Graph, mask []float32, xs ...*ir.Tensor) []float32 {
		t.Helper()
		if err := InitGraph(g, ir.InitXavierUniform, 4); err != nil {
			t.Fatal(err)
		}
		net, err := Compile(g)
		if err != nil {
			t.Fatal(err)
		}
		net.SetInputMask(mask)
		var ms []*Mat[float32]
		for _, x := range xs {
			ms = append(ms, MatFromTensor[float32](x))
		}
		out, err := net.Forward(ms, false)
		if err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), out[0].Data...)
	}
	same := func(what string, x, y []float32) {
		t.Helper()
		for i := range x {
			if x[i] != y[i] {
				t.Fatalf("%s: %v and %v differ", what, x, y)
			}
		}
	}
	two := func(maskA, maskB bool) *ir.Graph {
		return &ir.Graph{Name: "merge", Inputs: []ir.Input{{Name: "a", Shape: []int{5}}, {Name: "b", Shape: []int{5}}},
			Vertices: []*ir.Vertex{emb("ea", "a", maskA), emb("eb", "b", maskB),
				{Name: "add", Layer: &ir.Merge{Op: ir.MergeAdd}, Inputs: []string{"ea", "eb"}}, lstm("add")},
			Outputs: []ir.GraphOutput{{Name: "lstm", Vertex: "lstm"}}}
	}
	both := []float32{1, 0, 1, 0, 0, 1, 1, 1, 0, 1} // a ≠ 0 and b ≠ 0
	same("merged masks", run(two(true, true), nil, a, b), run(two(false, false), both, a, b))
	conv := &ir.Graph{Name: "conv", Inputs: []ir.Input{{Name: "a", Shape: []int{5}}},
		Vertices: []*ir.Vertex{emb("ea", "a", true),
			{Name: "t", Layer: &ir.Permute{Perm: []int{1, 0}}, Inputs: []string{"ea"}},
			{Name: "c", Layer: &ir.Conv{Rank: 1, Filters: 3, Kernel: []int{3}, Padding: ir.PadSame}, Inputs: []string{"t"}},
			{Name: "t2", Layer: &ir.Permute{Perm: []int{1, 0}}, Inputs: []string{"c"}}, lstm("t2")},
		Outputs: []ir.GraphOutput{{Name: "lstm", Vertex: "lstm"}}}
	masked := run(conv, nil, a)
	conv.Vertex("ea").Layer.(*ir.Embedding).MaskZero = false
	same("mask after a convolution", masked, run(conv, nil, a))
}

// A Concatenate along time concatenates the masks (an input without one
// keeps its steps); along features it multiplies them.
func TestMergeMasks(t *testing.T) {
	a, b := NewMat[float32](2, 2, 3), NewMat[float32](2, 3, 3)
	ma := []float32{1, 0, 1, 1}
	var buf []float32
	got := mergeMasks(&buf, &ir.Concat{Axis: 0}, [][]float32{ma, nil}, []*Mat[float32]{a, b})
	want := []float32{1, 0, 1, 1, 1, 1, 1, 1, 1, 1}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("time concat mask %v, want %v", got, want)
		}
	}
	got = mergeMasks(&buf, &ir.Concat{Axis: -1}, [][]float32{ma, {1, 1, 0, 1}}, []*Mat[float32]{a, a})
	if want := []float32{1, 0, 0, 1}; got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
		t.Fatalf("feature concat mask %v, want %v", got, want)
	}
}
