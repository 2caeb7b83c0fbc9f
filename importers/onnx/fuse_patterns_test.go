package onnx

import (
	"math"
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/internal/numtest"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// PyTorch 1.13's GELU (erf and tanh forms), SiLU, Hardswish and Mish
// subgraphs import as one Activation vertex named after the subgraph's
// last node. Parity with PyTorch is to 1e-5.
func TestFusedActivationFixtures(t *testing.T) {
	for _, tc := range []struct {
		file, hswish string
	}{
		{"fused_acts_op13", "/hswish/Mul"},       // x·HardSigmoid(x)
		{"fused_acts_op17", "/hswish/HardSwish"}, // the op
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := "../../testdata/onnx/" + tc.file + ".onnx"
			g, err := Import(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]ir.ActKind{"/gelu/Mul_1": ir.ActGELU, "/silu/Mul": ir.ActSwish, tc.hswish: ir.ActHardSwish,
				"/gelu_tanh/Mul_5": ir.ActGELUTanh, "/mish/Mul": ir.ActMish}
			for name, kind := range want {
				v := g.Vertex(name)
				if v == nil {
					t.Fatalf("no vertex %q", name)
				}
				a, ok := v.Layer.(*ir.ActivationLayer)
				if !ok || a.Activation.Kind != kind || len(v.Inputs) != 1 || v.Inputs[0] != "/Mul" {
					t.Errorf("%q: %s %+v on %v, want Activation %s on /Mul", name, v.Layer.Kind(), v.Layer, v.Inputs, kind)
				}
			}
			for _, v := range g.Vertices {
				if u, ok := v.Layer.(*ir.Unary); ok && u.Op == ir.UnaryErf {
					t.Errorf("erf vertex %q left after fusion", v.Name)
				}
				if a, ok := v.Layer.(*ir.ActivationLayer); ok && want[v.Name] == "" {
					t.Errorf("activation %s vertex %q besides the fused ones", a.Activation.Kind, v.Name)
				}
				for _, prefix := range []string{"/gelu/", "/silu/", "/hswish/", "/gelu_tanh/", "/mish/"} {
					if len(v.Name) > len(prefix) && v.Name[:len(prefix)] == prefix && want[v.Name] == "" {
						t.Errorf("vertex %q of a fused subgraph left", v.Name)
					}
				}
			}
			if d := checkParity(t, path); d < 0 || d > 1e-5 {
				t.Errorf("max abs diff vs PyTorch %g", d)
			}
		})
	}
}

// irBuilder writes graphs shaped as the converter writes them.
type irBuilder struct{ g *ir.Graph }

func newIRBuilder() *irBuilder {
	return &irBuilder{g: &ir.Graph{Inputs: []ir.Input{{Name: "in", Shape: []int{7}}},
		Vertices: []*ir.Vertex{{Name: "x", Layer: &ir.Dense{Units: 5}, Inputs: []string{"in"}}}}}
}

func (b *irBuilder) add(name string, l ir.Layer, in ...string) string {
	b.g.Vertices = append(b.g.Vertices, &ir.Vertex{Name: name, Layer: l, Inputs: in})
	return name
}

func (b *irBuilder) scalar(name string, v float32) string {
	b.g.Vertices = append(b.g.Vertices, &ir.Vertex{Name: name, Layer: &ir.Constant{Shape: []int{1}},
		Params: map[string]*ir.Tensor{"value": {Shape: []int{1}, Data: []float32{v}}}})
	return name
}

func (b *irBuilder) merge(name string, op ir.MergeOp, in ...string) string {
	return b.add(name, &ir.Merge{Op: op}, in...)
}

func act(a ir.Activation) *ir.ActivationLayer { return &ir.ActivationLayer{Activation: a} }

func (b *irBuilder) out(names ...string) *ir.Graph {
	for _, n := range names {
		b.g.Outputs = append(b.g.Outputs, ir.GraphOutput{Name: n, Vertex: n})
	}
	return b.g
}

// gelu writes x·0.5·(1+erf(x/√2)) in one of PyTorch's orders.
func (b *irBuilder) gelu(p string, viaMul, halfFirst bool) string {
	var s string
	if viaMul {
		s = b.merge(p+"scale", ir.MergeMultiply, b.scalar(p+"c", float32(1/math.Sqrt2)), "x")
	} else {
		s = b.merge(p+"div", ir.MergeDivide, "x", b.scalar(p+"c", float32(math.Sqrt2)))
	}
	e := b.add(p+"erf", &ir.Unary{Op: ir.UnaryErf}, s)
	a := b.merge(p+"add", ir.MergeAdd, b.scalar(p+"one", 1), e)
	if halfFirst {
		h := b.merge(p+"half", ir.MergeMultiply, "x", b.scalar(p+"h", 0.5))
		return b.merge(p+"gelu", ir.MergeMultiply, a, h)
	}
	m := b.merge(p+"mul", ir.MergeMultiply, "x", a)
	return b.merge(p+"gelu", ir.MergeMultiply, m, b.scalar(p+"h", 0.5))
}

// geluTanh writes x·0.5·(1+tanh(√(2/π)·(x+0.044715·x³))) as PyTorch does,
// with x³ written as cube says: "mul" x·(x·x), "pow" Pow(x, 3), "square"
// x·Square(x); halfFirst multiplies 0.5·x before the tail.
func (b *irBuilder) geluTanh(p, cube string, halfFirst bool) string {
	var c string
	switch cube {
	case "mul":
		c = b.merge(p+"x3", ir.MergeMultiply, "x", b.merge(p+"x2", ir.MergeMultiply, "x", "x"))
	case "pow":
		c = b.add(p+"x3", &ir.Unary{Op: ir.UnaryPow, Exponent: 3}, "x")
	case "square":
		c = b.merge(p+"x3", ir.MergeMultiply, b.add(p+"x2", &ir.Unary{Op: ir.UnarySquare}, "x"), "x")
	}
	k := b.merge(p+"kx3", ir.MergeMultiply, b.scalar(p+"k", 0.044715), c)
	sum := b.merge(p+"sum", ir.MergeAdd, "x", k)
	sc := b.merge(p+"scaled", ir.MergeMultiply, b.scalar(p+"c", float32(math.Sqrt(2/math.Pi))), sum)
	th := b.add(p+"tanh", act(ir.Act(ir.ActTanh)), sc)
	a := b.merge(p+"add", ir.MergeAdd, b.scalar(p+"one", 1), th)
	if halfFirst {
		h := b.merge(p+"half", ir.MergeMultiply, b.scalar(p+"h", 0.5), "x")
		return b.merge(p+"gelu", ir.MergeMultiply, h, a)
	}
	m := b.merge(p+"mul", ir.MergeMultiply, "x", a)
	return b.merge(p+"gelu", ir.MergeMultiply, b.scalar(p+"h", 0.5), m)
}

// mish writes x·tanh(softplus(x)).
func (b *irBuilder) mish(p string) string {
	th := b.add(p+"tanh", act(ir.Act(ir.ActTanh)), b.add(p+"sp", act(ir.Act(ir.ActSoftplus)), "x"))
	return b.merge(p+"mish", ir.MergeMultiply, "x", th)
}

func TestFuseActivationsIR(t *testing.T) {
	type fused = map[string]ir.ActKind
	cases := []struct {
		name  string
		build func(b *irBuilder) *ir.Graph
		want  fused // vertex → kind after fusion; absent: left as it was
	}{
		{"gelu_div", func(b *irBuilder) *ir.Graph { return b.out(b.gelu("", false, false)) }, fused{"gelu": ir.ActGELU}},
		{"gelu_mul_half_first", func(b *irBuilder) *ir.Graph { return b.out(b.gelu("", true, true)) }, fused{"gelu": ir.ActGELU}},
		{"two_gelus", func(b *irBuilder) *ir.Graph {
			return b.out(b.merge("sum", ir.MergeAdd, b.gelu("a/", false, false), b.gelu("b/", true, false)))
		}, fused{"a/gelu": ir.ActGELU, "b/gelu": ir.ActGELU}},
		{"swish", func(b *irBuilder) *ir.Graph {
			return b.out(b.merge("swish", ir.MergeMultiply, b.add("sig", act(ir.Act(ir.ActSigmoid)), "x"), "x"))
		}, fused{"swish": ir.ActSwish}},
		{"hard_swish_hardsigmoid", func(b *irBuilder) *ir.Graph {
			hs := b.add("hs", act(ir.Activation{Kind: ir.ActHardSigmoid, Alpha: 1.0 / 6, Beta: 0.5}), "x")
			return b.out(b.merge("hswish", ir.MergeMultiply, "x", hs))
		}, fused{"hswish": ir.ActHardSwish}},
		{"hard_swish_relu6", func(b *irBuilder) *ir.Graph {
			r := b.add("r6", act(ir.Act(ir.ActReLU6)), b.merge("plus3", ir.MergeAdd, "x", b.scalar("three", 3)))
			m := b.merge("m", ir.MergeMultiply, "x", r)
			return b.out(b.merge("hswish", ir.MergeDivide, m, b.scalar("six", 6)))
		}, fused{"hswish": ir.ActHardSwish}},
		{"gelu_tanh_mul", func(b *irBuilder) *ir.Graph { return b.out(b.geluTanh("", "mul", false)) }, fused{"gelu": ir.ActGELUTanh}},
		{"gelu_tanh_pow_half_first", func(b *irBuilder) *ir.Graph { return b.out(b.geluTanh("", "pow", true)) }, fused{"gelu": ir.ActGELUTanh}},
		{"gelu_tanh_square", func(b *irBuilder) *ir.Graph { return b.out(b.geluTanh("", "square", false)) }, fused{"gelu": ir.ActGELUTanh}},
		{"mish", func(b *irBuilder) *ir.Graph { return b.out(b.mish("")) }, fused{"mish": ir.ActMish}},
		{"mish_and_gelu_tanh", func(b *irBuilder) *ir.Graph {
			return b.out(b.merge("sum", ir.MergeAdd, b.mish("a/"), b.geluTanh("b/", "mul", false)))
		}, fused{"a/mish": ir.ActMish, "b/gelu": ir.ActGELUTanh}},
		// not fused:
		{"gelu_tanh_tanh_also_an_output", func(b *irBuilder) *ir.Graph { return b.out(b.geluTanh("", "mul", false), "tanh") }, nil},
		{"gelu_tanh_square_read_twice", func(b *irBuilder) *ir.Graph {
			g := b.geluTanh("", "mul", false)
			return b.out(b.merge("both", ir.MergeAdd, g, "x2"))
		}, nil},
		{"gelu_tanh_wrong_kappa", func(b *irBuilder) *ir.Graph {
			g := b.geluTanh("", "pow", false)
			b.g.Vertex("k").Params["value"].Data[0] = 0.05
			return b.out(g)
		}, nil},
		{"gelu_tanh_square_not_cube", func(b *irBuilder) *ir.Graph {
			g := b.geluTanh("", "pow", false)
			b.g.Vertex("x3").Layer = &ir.Unary{Op: ir.UnaryPow, Exponent: 2}
			return b.out(g)
		}, nil},
		{"gelu_tanh_cube_of_other_value", func(b *irBuilder) *ir.Graph {
			b.add("y", &ir.Dense{Units: 5}, "in")
			g := b.geluTanh("", "mul", false)
			b.g.Vertex("x2").Inputs[1] = "y"
			return b.out(g)
		}, nil},
		{"mish_softplus_of_other_value", func(b *irBuilder) *ir.Graph {
			b.add("y", &ir.Dense{Units: 5}, "in")
			g := b.mish("")
			b.g.Vertex("sp").Inputs[0] = "y"
			return b.out(g)
		}, nil},
		{"mish_softplus_also_an_output", func(b *irBuilder) *ir.Graph { return b.out(b.mish(""), "sp") }, nil},
		{"tanh_of_x_times_x", func(b *irBuilder) *ir.Graph {
			return b.out(b.merge("m", ir.MergeMultiply, "x", b.add("tanh", act(ir.Act(ir.ActTanh)), "x")))
		}, nil},
		{"erf_also_an_output", func(b *irBuilder) *ir.Graph { return b.out(b.gelu("", false, false), "erf") }, nil},
		{"add_read_twice", func(b *irBuilder) *ir.Graph {
			g := b.gelu("", false, false)
			return b.out(b.merge("sum", ir.MergeAdd, g, "add"))
		}, nil},
		{"wrong_half", func(b *irBuilder) *ir.Graph {
			g := b.gelu("", false, false)
			b.g.Vertex("h").Params["value"].Data[0] = 0.45
			return b.out(g)
		}, nil},
		{"gelu_of_other_value", func(b *irBuilder) *ir.Graph {
			b.add("y", &ir.Dense{Units: 5}, "in")
			g := b.gelu("", false, false)
			b.g.Vertex("mul").Inputs[0] = "y" // y·(1+erf(x/√2))·0.5
			return b.out(g)
		}, nil},
		{"sigmoid_of_other_value", func(b *irBuilder) *ir.Graph {
			b.add("y", &ir.Dense{Units: 5}, "in")
			return b.out(b.merge("swish", ir.MergeMultiply, b.add("sig", act(ir.Act(ir.ActSigmoid)), "y"), "x"))
		}, nil},
		{"hardsigmoid_keras_slope", func(b *irBuilder) *ir.Graph {
			hs := b.add("hs", act(ir.Activation{Kind: ir.ActHardSigmoid, Alpha: 0.2, Beta: 0.5}), "x")
			return b.out(b.merge("hswish", ir.MergeMultiply, "x", hs))
		}, nil},
		{"broadcast_constant_grows_rank", func(b *irBuilder) *ir.Graph {
			b.g.Vertices = append(b.g.Vertices, &ir.Vertex{Name: "one", Layer: &ir.Constant{Shape: []int{1, 1}},
				Params: map[string]*ir.Tensor{"value": {Shape: []int{1, 1}, Data: []float32{1}}}})
			x1 := b.merge("x1", ir.MergeMultiply, "x", "one") // shape (1, 5)
			return b.out(b.merge("swish", ir.MergeMultiply, b.add("sig", act(ir.Act(ir.ActSigmoid)), "x"), x1))
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.build(newIRBuilder())
			if err := nn.InitGraph(g, ir.InitXavierUniform, 1); err != nil {
				t.Fatal(err)
			}
			before := g.Clone()
			fuseActivations(g)
			for _, v := range g.Vertices {
				kind, isFused := tc.want[v.Name]
				a, isAct := v.Layer.(*ir.ActivationLayer)
				switch {
				case isFused && (!isAct || a.Activation.Kind != kind || len(v.Inputs) != 1 || v.Inputs[0] != "x"):
					t.Errorf("%q: %s on %v, want Activation %s on x", v.Name, v.Layer.Kind(), v.Inputs, kind)
				case !isFused && v.Layer.Kind() != before.Vertex(v.Name).Layer.Kind():
					t.Errorf("%q changed to %s", v.Name, v.Layer.Kind())
				}
			}
			if err := g.Validate(); err != nil {
				t.Fatal(err)
			}
			if d := maxOutputDiff(t, before, g); d > 1e-6 {
				t.Errorf("fused graph differs from the decomposed one by %g", d)
			}
		})
	}
}

// maxOutputDiff runs two graphs on the same random batch.
func maxOutputDiff(t *testing.T, a, b *ir.Graph) float64 {
	t.Helper()
	rng := rand.New(rand.NewSource(3))
	x := nn.NewMat[float32](6, 7)
	for k := range x.Data {
		x.Data[k] = float32(rng.Float64()*8 - 4)
	}
	run := func(g *ir.Graph) []*nn.Mat[float32] {
		net, err := nn.Compile(g)
		if err != nil {
			t.Fatal(err)
		}
		outs, err := net.Forward([]*nn.Mat[float32]{x}, false)
		if err != nil {
			t.Fatal(err)
		}
		return outs
	}
	oa, ob := run(a), run(b)
	d := 0.0
	for k := range oa {
		d = math.Max(d, numtest.MaxAbsDiff(oa[k].Data, ob[k].Data))
	}
	return d
}
