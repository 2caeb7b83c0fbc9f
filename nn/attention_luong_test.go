package nn

import (
	"math"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// luongGraph is one ir.Attention vertex on batched inputs of the given
// shapes (without batch); self repeats the first input as the value.
func luongGraph(name string, a *ir.Attention, self bool, shapes ...[]int) *ir.Graph {
	v := &ir.Vertex{Name: "att", Layer: a}
	g := &ir.Graph{Name: name, Vertices: []*ir.Vertex{v}, Outputs: []ir.GraphOutput{{Name: "att", Vertex: "att"}}}
	for i, s := range shapes {
		n := [...]string{"query", "value", "key"}[i]
		g.Inputs = append(g.Inputs, ir.Input{Name: n, Shape: s})
		v.Inputs = append(v.Inputs, n)
	}
	if self {
		v.Inputs = append(v.Inputs, v.Inputs[0])
	}
	return g
}

func TestGradAttention(t *testing.T) {
	cases := []struct {
		name   string
		a      ir.Attention
		self   bool
		shapes [][]int
		mask   bool
	}{
		{"dot", ir.Attention{Score: ir.ScoreDot}, false, [][]int{{3, 4}, {5, 2}, {5, 4}}, false},
		{"dot_scale", ir.Attention{Score: ir.ScoreDot, UseScale: true}, false, [][]int{{3, 4}, {5, 4}}, false},
		{"dot_self_causal", ir.Attention{Score: ir.ScoreDot, UseScale: true, Causal: true}, true, [][]int{{4, 3}}, false},
		{"concat", ir.Attention{Score: ir.ScoreConcat}, false, [][]int{{3, 4}, {5, 4}}, false},
		{"concat_scale", ir.Attention{Score: ir.ScoreConcat, UseScale: true}, false, [][]int{{3, 4}, {5, 2}, {5, 4}}, false},
		{"additive", ir.Attention{Score: ir.ScoreAdditive}, false, [][]int{{3, 4}, {5, 4}}, false},
		{"additive_scale", ir.Attention{Score: ir.ScoreAdditive, UseScale: true, Dim: 4}, false, [][]int{{3, 4}, {5, 3}, {5, 4}}, false},
		{"across_the_batch", ir.Attention{Score: ir.ScoreDot, UseScale: true}, true, [][]int{{4}}, false},
		{"additive_across_the_batch", ir.Attention{Score: ir.ScoreAdditive, UseScale: true, Dim: 3}, false, [][]int{{3}, {3}}, false},
		{"value_and_query_mask", ir.Attention{Score: ir.ScoreDot, UseScale: true}, true, [][]int{{4, 3}}, true},
		{"additive_mask", ir.Attention{Score: ir.ScoreAdditive, UseScale: true, Dim: 3}, false, [][]int{{4, 3}, {4, 3}}, true},
		{"dropout", ir.Attention{Score: ir.ScoreConcat, UseScale: true, Dropout: 0.4}, false, [][]int{{3, 4}, {5, 4}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := c.a
			var mask []float32
			if c.mask {
				mask = []float32{1, 1, 0, 0, 1, 1, 1, 0}
			}
			checkAttentionGrads(t, luongGraph(c.name, &a, c.self, c.shapes...), c.shapes, 0.2, mask)
		})
	}
}

// The forward pass against the formulas written out directly: dot with a
// scale on the batch axis (the rank-2 case), additive over time with a
// padding mask (hidden keys get no weight, padded queries give zeros).
func TestAttentionForward(t *testing.T) {
	t.Run("across_the_batch", func(t *testing.T) {
		g := luongGraph("b", &ir.Attention{Score: ir.ScoreDot, UseScale: true}, true, []int{2})
		g.Vertices[0].Params = map[string]*ir.Tensor{"scale": ir.FromData([]float32{0.5}, 1)}
		x := ir.FromData([]float32{1, 0, 0, 2, 1, 1}, 3, 2)
		net, err := Compile(g)
		if err != nil {
			t.Fatal(err)
		}
		out, err := net.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			var s [3]float64
			var z float64
			for j := 0; j < 3; j++ {
				s[j] = math.Exp(0.5 * float64(x.Data[2*i]*x.Data[2*j]+x.Data[2*i+1]*x.Data[2*j+1]))
				z += s[j]
			}
			for f := 0; f < 2; f++ {
				var want float64
				for j := 0; j < 3; j++ {
					want += s[j] / z * float64(x.Data[2*j+f])
				}
				if got := out[0].Data[2*i+f]; math.Abs(float64(got)-want) > 1e-6 {
					t.Fatalf("row %d feature %d: %v, want %v", i, f, got, want)
				}
			}
		}
	})
	t.Run("additive_masked", func(t *testing.T) {
		g := luongGraph("m", &ir.Attention{Score: ir.ScoreAdditive}, false, []int{3, 2}, []int{3, 2})
		net, err := Compile(g)
		if err != nil {
			t.Fatal(err)
		}
		q := ir.FromData([]float32{1, 0, 0, 1, 2, 2}, 1, 3, 2)
		v := ir.FromData([]float32{1, 2, 3, 4, 5, 6}, 1, 3, 2)
		net.SetInputMask([]float32{1, 1, 0})
		out, err := net.Forward([]*Mat[float32]{MatFromTensor[float32](q), MatFromTensor[float32](v)}, false)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			s0 := math.Exp(math.Tanh(float64(q.Data[2*i]+v.Data[0])) + math.Tanh(float64(q.Data[2*i+1]+v.Data[1])))
			s1 := math.Exp(math.Tanh(float64(q.Data[2*i]+v.Data[2])) + math.Tanh(float64(q.Data[2*i+1]+v.Data[3])))
			for f := 0; f < 2; f++ {
				want := (s0*float64(v.Data[f]) + s1*float64(v.Data[2+f])) / (s0 + s1)
				if got := out[0].Data[2*i+f]; math.Abs(float64(got)-want) > 1e-5 {
					t.Fatalf("query %d feature %d: %v, want %v", i, f, got, want)
				}
			}
		}
		if out[0].Data[4] != 0 || out[0].Data[5] != 0 {
			t.Fatalf("the padded query step gives %v, want zeros", out[0].Data[4:])
		}
	})
}
