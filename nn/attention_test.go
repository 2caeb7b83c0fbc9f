package nn

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// attentionGraph is query[, value[, key]] → MultiHeadAttention → Output.
func attentionGraph(name string, a *ir.MultiHeadAttention, shapes ...[]int) *ir.Graph {
	v := &ir.Vertex{Name: "mha", Layer: a}
	g := &ir.Graph{Name: name, Vertices: []*ir.Vertex{v}, Outputs: []ir.GraphOutput{{Name: "mha", Vertex: "mha"}}}
	for i, s := range shapes {
		n := [...]string{"query", "value", "key"}[i]
		g.Inputs = append(g.Inputs, ir.Input{Name: n, Shape: s})
		v.Inputs = append(v.Inputs, n)
	}
	return g
}

func TestGradMultiHeadAttention(t *testing.T) {
	cases := []struct {
		name   string
		a      ir.MultiHeadAttention
		shapes [][]int
		mask   bool
	}{
		{"self", ir.MultiHeadAttention{Heads: 2, KeyDim: 3}, [][]int{{4, 5}}, false},
		{"self_value_dim_out", ir.MultiHeadAttention{Heads: 3, KeyDim: 2, ValueDim: 4, OutputDim: 3}, [][]int{{3, 4}}, false},
		{"cross", ir.MultiHeadAttention{Heads: 2, KeyDim: 2}, [][]int{{3, 4}, {5, 3}}, false},
		{"cross_key", ir.MultiHeadAttention{Heads: 2, KeyDim: 2, NoBias: true}, [][]int{{3, 4}, {5, 3}, {5, 2}}, false},
		{"causal", ir.MultiHeadAttention{Heads: 2, KeyDim: 2, Causal: true}, [][]int{{4, 4}}, false},
		{"padding_mask", ir.MultiHeadAttention{Heads: 2, KeyDim: 3}, [][]int{{4, 3}}, true},
		{"padding_mask_queries", ir.MultiHeadAttention{Heads: 2, KeyDim: 3, MaskQueries: true}, [][]int{{4, 3}}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := c.a
			var mask []float32
			if c.mask {
				mask = []float32{1, 1, 0, 0, 1, 1, 1, 1}
			}
			checkAttentionGrads(t, attentionGraph(c.name, &a, c.shapes...), c.shapes, 0.1, mask)
		})
	}
}

// checkAttentionGrads gradient-checks a one-attention-vertex graph on a
// batch of 2: parameters Xavier-initialised and jittered by ±jitter (so no
// bias is exactly zero), random inputs of the given shapes, and the
// (2, T) step mask when given.
func checkAttentionGrads(t *testing.T, g *ir.Graph, shapes [][]int, jitter float64, mask []float32) {
	t.Helper()
	if err := InitGraph(g, ir.InitXavierUniform, 5); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(3))
	for _, p := range g.Vertices[0].Params {
		for i := range p.Data {
			p.Data[i] += float32((rng.Float64()*2 - 1) * jitter)
		}
	}
	var xs []*ir.Tensor
	for _, s := range shapes {
		xs = append(xs, RandTensor(rng, -1, 1, append([]int{2}, s...)...))
	}
	o := GradCheckOptions{}
	if mask != nil {
		o.InputMask = ir.FromData(mask, 2, shapes[0][0])
	}
	GradCheck(t, g, xs, nil, o)
}

// Dropout on the attention weights: active in training only, and the
// gradient of a training step is that of the dropped forward pass.
func TestMultiHeadAttentionDropout(t *testing.T) {
	a := &ir.MultiHeadAttention{Heads: 2, KeyDim: 4, Dropout: 0.5}
	g := attentionGraph("drop", a, []int{6, 8})
	if err := InitGraph(g, ir.InitXavierUniform, 1); err != nil {
		t.Fatal(err)
	}
	net, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	x := MatFromTensor[float32](RandTensor(rand.New(rand.NewSource(1)), -1, 1, 3, 6, 8))
	infer1, _ := net.Forward([]*Mat[float32]{x}, false)
	i1 := append([]float32(nil), infer1[0].Data...)
	train, err := net.Forward([]*Mat[float32]{x}, true)
	if err != nil {
		t.Fatal(err)
	}
	differs := false
	for i := range i1 {
		if train[0].Data[i] != i1[i] {
			differs = true
		}
	}
	if !differs {
		t.Fatal("dropout 0.5 left the training output unchanged")
	}
	infer2, _ := net.Forward([]*Mat[float32]{x}, false)
	for i := range i1 {
		if infer2[0].Data[i] != i1[i] {
			t.Fatal("inference output changed between passes")
		}
	}
}

func TestMultiHeadAttentionMatchesTorch(t *testing.T) {
	var f struct {
		Cases []struct {
			Name   string                   `json:"name"`
			Heads  int                      `json:"heads"`
			KeyDim int                      `json:"key_dim"`
			Causal bool                     `json:"causal"`
			NoBias bool                     `json:"no_bias"`
			Query  coreFixTensor            `json:"query"`
			Value  *coreFixTensor           `json:"value"`
			Key    *coreFixTensor           `json:"key"`
			Mask   *coreFixTensor           `json:"mask"`
			Output coreFixTensor            `json:"output"`
			Params map[string]coreFixTensor `json:"params"`
		} `json:"cases"`
	}
	coreLoadFixture(t, "attention.json", &f)
	if len(f.Cases) < 6 {
		t.Fatalf("only %d cases", len(f.Cases))
	}
	for _, c := range f.Cases {
		t.Run(c.Name, func(t *testing.T) {
			a := &ir.MultiHeadAttention{Heads: c.Heads, KeyDim: c.KeyDim, Causal: c.Causal, NoBias: c.NoBias}
			ins := []coreFixTensor{c.Query}
			if c.Value != nil {
				ins = append(ins, *c.Value, *c.Key)
			}
			var shapes [][]int
			for _, in := range ins {
				shapes = append(shapes, in.Shape[1:])
			}
			g := attentionGraph(c.Name, a, shapes...)
			g.Vertices[0].Params = map[string]*ir.Tensor{}
			for k, p := range c.Params {
				g.Vertices[0].Params[k] = p.tensor()
			}
			if err := g.Validate(); err != nil {
				t.Fatal(err)
			}
			for _, inference := range []bool{false, true} {
				net, err := CompileWith[float32](g, Options{Inference: inference})
				if err != nil {
					t.Fatal(err)
				}
				if c.Mask != nil {
					net.SetInputMask(MatFromTensor[float32](c.Mask.tensor()).Data)
				}
				var xs []*Mat[float32]
				for _, in := range ins {
					xs = append(xs, MatFromTensor[float32](in.tensor()))
				}
				out, err := net.Forward(xs, false)
				if err != nil {
					t.Fatal(err)
				}
				if !ir.SameShape(out[0].Shape, c.Output.Shape) {
					t.Fatalf("shape %v, torch %v", out[0].Shape, c.Output.Shape)
				}
				for i, w := range c.Output.Data {
					if !coreClose(float64(out[0].Data[i]), w, 2e-6) {
						t.Fatalf("inference=%v: output[%d] = %v, torch %v", inference, i, out[0].Data[i], w)
					}
				}
			}
		})
	}
}

func TestMultiHeadAttentionShapes(t *testing.T) {
	bad := []struct {
		a  ir.MultiHeadAttention
		in [][]int
	}{
		{ir.MultiHeadAttention{Heads: 0, KeyDim: 2}, [][]int{{3, 4}}},
		{ir.MultiHeadAttention{Heads: 2, KeyDim: 2}, [][]int{{4}}},
		{ir.MultiHeadAttention{Heads: 2, KeyDim: 2}, [][]int{{3, 4}, {5, 3}, {4, 3}}},
		{ir.MultiHeadAttention{Heads: 2, KeyDim: 2, Causal: true}, [][]int{{3, 4}, {5, 3}}},
		{ir.MultiHeadAttention{Heads: 2, KeyDim: 2, Dropout: 1}, [][]int{{3, 4}}},
	}
	for i, b := range bad {
		if _, err := b.a.OutputShape(b.in); err == nil {
			t.Errorf("case %d: %+v on %v accepted", i, b.a, b.in)
		}
	}
	a := ir.MultiHeadAttention{Heads: 2, KeyDim: 3, ValueDim: 5, OutputDim: 7}
	s, err := a.OutputShape([][]int{{-1, 4}, {6, 3}})
	if err != nil || fmt.Sprint(s) != "[-1 7]" {
		t.Fatalf("shape %v, %v", s, err)
	}
	var n int
	for _, p := range a.Params([][]int{{-1, 4}, {6, 3}}) {
		n += ir.NumElements(p.Shape)
	}
	if want := 4*6 + 3*6 + 3*10 + 10*7 + 6 + 6 + 10 + 7; n != want {
		t.Fatalf("%d parameters, want %d", n, want)
	}
}
