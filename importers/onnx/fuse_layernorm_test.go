package onnx

import (
	"testing"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// lnParts writes the decomposition y = (x−μ)/√(σ²+ε) [·γ] [+β] over the
// last axis of x (shape [5]) with vertices named p+….
type lnParts struct {
	square       string // "mul", "pow" or "square"
	gamma, beta  bool
	extraCenter  bool  // the centred value also feeds the graph output
	meanAxes     []int // default [0]
	varianceAxes []int // default meanAxes
}

func (b *irBuilder) constVec(name string, v ...float32) string {
	b.g.Vertices = append(b.g.Vertices, &ir.Vertex{Name: name, Layer: &ir.Constant{Shape: []int{len(v)}},
		Params: map[string]*ir.Tensor{"value": {Shape: []int{len(v)}, Data: v}}})
	return name
}

func (b *irBuilder) layerNorm(p string, o lnParts) string {
	mAxes := o.meanAxes
	if mAxes == nil {
		mAxes = []int{0}
	}
	axes := o.varianceAxes
	if axes == nil {
		axes = mAxes
	}
	mu := b.add(p+"mean", &ir.Reduce{Op: "mean", Axes: mAxes, KeepDims: true}, "x")
	c := b.merge(p+"center", ir.MergeSubtract, "x", mu)
	var sq string
	switch o.square {
	case "mul":
		sq = b.merge(p+"square", ir.MergeMultiply, c, c)
	case "pow":
		sq = b.add(p+"square", &ir.Unary{Op: ir.UnaryPow, Exponent: 2}, c)
	default:
		sq = b.add(p+"square", &ir.Unary{Op: ir.UnarySquare}, c)
	}
	vr := b.add(p+"var", &ir.Reduce{Op: "mean", Axes: axes, KeepDims: true}, sq)
	sd := b.add(p+"std", &ir.Unary{Op: ir.UnarySqrt}, b.merge(p+"eps", ir.MergeAdd, b.scalar(p+"epsilon", 1e-3), vr))
	y := b.merge(p+"normalise", ir.MergeDivide, c, sd)
	if o.gamma {
		y = b.merge(p+"scaled", ir.MergeMultiply, b.constVec(p+"gamma", 0.5, 1, 1.5, 2, 2.5), y)
	}
	if o.beta {
		y = b.merge(p+"shifted", ir.MergeAdd, y, b.constVec(p+"beta", -1, 0, 1, 2, 3))
	}
	if o.extraCenter {
		y = b.merge(p+"plus_center", ir.MergeAdd, y, c)
	}
	return y
}

func TestFuseLayerNormsIR(t *testing.T) {
	for _, tc := range []struct {
		name       string
		parts      lnParts
		final      string // the vertex that becomes the LayerNorm, "" for none
		scale, ctr bool
	}{
		{"mul_gamma_beta", lnParts{square: "mul", gamma: true, beta: true}, "shifted", true, true},
		{"pow_gamma_beta", lnParts{square: "pow", gamma: true, beta: true}, "shifted", true, true},
		{"square_gamma", lnParts{square: "square", gamma: true}, "scaled", true, false},
		{"pow_beta", lnParts{square: "pow", beta: true}, "shifted", false, true},
		{"pow_plain", lnParts{square: "pow"}, "normalise", false, false},
		{"centre_used_elsewhere", lnParts{square: "pow", gamma: true, beta: true, extraCenter: true}, "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			build := func() *ir.Graph {
				b := newIRBuilder()
				return b.out(b.layerNorm("", tc.parts))
			}
			g, ref := build(), build()
			if err := nn.InitGraph(g, ir.InitXavierUniform, 1); err != nil {
				t.Fatal(err)
			}
			ref.Vertices[0].Params = g.Vertices[0].Params
			fuseLayerNorms(g)
			(&converter{g: g}).prune()
			var lns []*ir.Vertex
			for _, v := range g.Vertices {
				if _, ok := v.Layer.(*ir.LayerNorm); ok {
					lns = append(lns, v)
				}
			}
			if tc.final == "" {
				if len(lns) != 0 {
					t.Fatalf("fused %q although a piece has another consumer", lns[0].Name)
				}
				return
			}
			if len(lns) != 1 || lns[0].Name != tc.final || len(g.Vertices) != 2 {
				var names []string
				for _, v := range g.Vertices {
					names = append(names, v.Name+":"+v.Layer.Kind())
				}
				t.Fatalf("vertices %v, want x and one LayerNorm %q", names, tc.final)
			}
			l := lns[0].Layer.(*ir.LayerNorm)
			if l.Axis != -1 || l.Epsilon != 1e-3 || l.NoScale == tc.scale || l.NoCenter == tc.ctr || lns[0].Inputs[0] != "x" {
				t.Errorf("LayerNorm %+v on %v", l, lns[0].Inputs)
			}
			if d := maxOutputDiff(t, g, ref); d > 1e-5 {
				t.Errorf("fused graph differs by %g", d)
			}
		})
	}
	// On x of shape [3, 5]: over the last axis it fuses; with the variance
	// over other axes than the mean, or over a leading axis, it does not.
	for _, tc := range []struct {
		mean, variance []int
		fused          bool
	}{{[]int{1}, nil, true}, {[]int{1}, []int{0, 1}, false}, {[]int{0}, nil, false}} {
		b := newIRBuilder()
		b.g.Inputs[0].Shape = []int{3, 7}
		g := b.out(b.layerNorm("", lnParts{square: "pow", meanAxes: tc.mean, varianceAxes: tc.variance}))
		if _, err := g.Shapes(); err != nil {
			t.Fatal(err)
		}
		fuseLayerNorms(g)
		n := 0
		for _, v := range g.Vertices {
			if _, ok := v.Layer.(*ir.LayerNorm); ok {
				n++
			}
		}
		if n != map[bool]int{true: 1, false: 0}[tc.fused] {
			t.Errorf("mean over %v, variance over %v: %d LayerNorm vertices, fused=%v wanted", tc.mean, tc.variance, n, tc.fused)
		}
	}
}
