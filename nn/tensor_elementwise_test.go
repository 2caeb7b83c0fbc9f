package nn

import (
	"math"
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

func batchedIn(name string, shape ...int) ir.Input { return ir.Input{Name: name, Shape: shape} }
func freeIn(name string, shape ...int) ir.Input {
	return ir.Input{Name: name, Shape: shape, NoBatch: true}
}

func vx(name string, l ir.Layer, ins ...string) *ir.Vertex {
	return &ir.Vertex{Name: name, Layer: l, Inputs: ins}
}

// predictOne runs g in float32 on the given inputs and returns its output.
func predictOne(t *testing.T, g *ir.Graph, xs ...*ir.Tensor) *ir.Tensor {
	t.Helper()
	n, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	out, err := n.Predict(xs...)
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

func wantData(t *testing.T, got *ir.Tensor, shape []int, want []float32, tol float64) {
	t.Helper()
	if !ir.SameShape(got.Shape, shape) {
		t.Fatalf("shape %v, want %v", got.Shape, shape)
	}
	for i, w := range want {
		if math.Abs(float64(got.Data[i]-w)) > tol {
			t.Fatalf("got %v, want %v", got.Data, want)
		}
	}
}

func TestGradTensorBinary(t *testing.T) {
	for _, op := range []string{"add", "sub", "mul", "div", "pow", "max", "min"} {
		t.Run(op+"/ranks_differ_batch_moved", func(t *testing.T) {
			// [B,3,4] transposed to [3,B,4] combined with a batch-free [4]
			g := tensorProgram("bin_"+op, []ir.Input{batchedIn("a", 3, 4), freeIn("b", 4)},
				vx("t", &ir.TensorTranspose{Perm: []int{1, 0, 2}}, "a"),
				vx("y", &ir.TensorBinary{Op: op}, "t", "b"))
			rng := rand.New(rand.NewSource(3))
			lo := -1.0
			if op == "pow" || op == "div" {
				lo = 0.5 // a positive base and a divisor away from 0
			}
			GradCheck(t, g, []*ir.Tensor{RandTensor(rng, lo, 1.5, 2, 3, 4), RandTensor(rng, lo, 1.5, 4)}, nil)
		})
	}
	t.Run("mul/both_broadcast", func(t *testing.T) { // [B,1,3] × [2,1] → [B,2,3]
		g := tensorProgram("bin_bb", []ir.Input{batchedIn("a", 1, 3), freeIn("b", 2, 1)},
			vx("y", &ir.TensorBinary{Op: "mul"}, "a", "b"))
		checkTensorProgram(t, g, []int{3, 1, 3}, []int{2, 1})
	})
	t.Run("sub/interleaved_broadcast", func(t *testing.T) { // [B,2,1,3] - [4,1] → [B,2,4,3]
		g := tensorProgram("bin_il", []ir.Input{batchedIn("a", 2, 1, 3), freeIn("b", 4, 1)},
			vx("y", &ir.TensorBinary{Op: "sub"}, "a", "b"))
		checkTensorProgram(t, g, []int{2, 2, 1, 3}, []int{4, 1})
	})
	t.Run("div/scalar_first", func(t *testing.T) { // a scalar over a batch-moved value
		g := tensorProgram("bin_sf", []ir.Input{freeIn("s", 1), batchedIn("a", 3)},
			vx("t", &ir.TensorTranspose{Perm: []int{1, 0}}, "a"),
			vx("y", &ir.TensorBinary{Op: "div"}, "s", "t"))
		rng := rand.New(rand.NewSource(2))
		GradCheck(t, g, []*ir.Tensor{RandTensor(rng, 0.5, 1, 1), RandTensor(rng, 0.5, 1.5, 2, 3)}, nil)
	})
	t.Run("same_input_twice", func(t *testing.T) {
		g := tensorProgram("bin_sq", []ir.Input{batchedIn("a", 3)}, vx("y", &ir.TensorBinary{Op: "mul"}, "a", "a"))
		checkTensorProgram(t, g, []int{2, 3})
	})
	// comparisons and logic pass no gradient; the arithmetic around them does
	for _, op := range []string{"equal", "less", "greater", "less_equal", "greater_equal", "and", "or", "xor"} {
		t.Run(op+"/no_gradient", func(t *testing.T) {
			g := tensorProgram("cmp_"+op, []ir.Input{batchedIn("a", 4), freeIn("b", 4)},
				vx("c", &ir.TensorBinary{Op: op}, "a", "b"),
				vx("y", &ir.TensorBinary{Op: "mul"}, "c", "a"))
			checkTensorProgram(t, g, []int{3, 4}, []int{4})
		})
	}
}

func TestTensorBinaryValues(t *testing.T) {
	cases := []struct {
		op   string
		want []float32
	}{
		{"add", []float32{1, 3, 3, 5}},
		{"sub", []float32{-1, -1, 1, 1}},
		{"pow", []float32{0, 1, 2, 9}},
		{"equal", []float32{0, 0, 0, 0}},
		{"less", []float32{1, 1, 0, 0}},
		{"greater", []float32{0, 0, 1, 1}},
		{"less_equal", []float32{1, 1, 0, 0}},
		{"greater_equal", []float32{0, 0, 1, 1}},
		{"and", []float32{0, 1, 1, 1}},
		{"or", []float32{1, 1, 1, 1}},
		{"xor", []float32{1, 0, 0, 0}},
		{"max", []float32{1, 2, 2, 3}},
		{"min", []float32{0, 1, 1, 2}},
	}
	for _, c := range cases {
		g := tensorProgram("v_"+c.op, []ir.Input{batchedIn("a", 2), freeIn("b", 2)}, vx("y", &ir.TensorBinary{Op: c.op}, "a", "b"))
		got := predictOne(t, g, ir.FromData([]float32{0, 1, 2, 3}, 2, 2), ir.FromData([]float32{1, 2}, 2))
		wantData(t, got, []int{2, 2}, c.want, 1e-6)
	}
	g := tensorProgram("v_eq", []ir.Input{batchedIn("a", 2), freeIn("b", 1)}, vx("y", &ir.TensorBinary{Op: "equal"}, "a", "b"))
	wantData(t, predictOne(t, g, ir.FromData([]float32{0, 1, 0, 3}, 2, 2), ir.FromData([]float32{0}, 1)), []int{2, 2}, []float32{1, 0, 1, 0}, 0)
	if _, err := (&ir.TensorBinary{Op: "mod"}).OutputShape([][]int{{2}, {2}}); err == nil {
		t.Fatal("op mod accepted")
	}
	if _, err := (&ir.TensorBinary{Op: "add"}).OutputShape([][]int{{ir.Batch, 3}, {2}}); err == nil {
		t.Fatal("[B 3] + [2] broadcast")
	}
}

func TestGradTensorWhere(t *testing.T) {
	// the padding mask pattern: where(ids == 0, -inf-ish, scores)
	g := tensorProgram("where", []ir.Input{batchedIn("s", 2, 4), batchedIn("m", 4), freeIn("fill", 1)},
		vx("c", &ir.TensorBinary{Op: "greater"}, "m", "fill"),
		vx("t", &ir.TensorTranspose{Perm: []int{1, 0, 2}}, "s"), // [2,B,4]
		vx("y", &ir.TensorWhere{}, "c", "t", "fill"))
	full, err := g.FullShapes()
	if err != nil {
		t.Fatal(err)
	}
	if !ir.SameShape(full["y"], []int{2, ir.Batch, 4}) {
		t.Fatalf("where shape %v", ir.FormatShape(full["y"]))
	}
	checkTensorProgram(t, g, []int{3, 2, 4}, []int{3, 4}, []int{1})
	got := predictOne(t, tensorProgram("wv", []ir.Input{batchedIn("c", 2), freeIn("x", 2), freeIn("z", 1)},
		vx("y", &ir.TensorWhere{}, "c", "x", "z")),
		ir.FromData([]float32{1, 0, 0, 2}, 2, 2), ir.FromData([]float32{5, 6}, 2), ir.FromData([]float32{-1}, 1))
	wantData(t, got, []int{2, 2}, []float32{5, -1, -1, 6}, 0)
}

func TestGradTensorUnaryActivation(t *testing.T) {
	for _, op := range []ir.UnaryOp{ir.UnarySqrt, ir.UnaryExp, ir.UnaryLog, ir.UnaryNeg, ir.UnaryAbs, ir.UnaryErf, ir.UnaryReciprocal, ir.UnarySquare, ir.UnaryPow} {
		t.Run(string(op), func(t *testing.T) {
			g := tensorProgram("tu_"+string(op), []ir.Input{batchedIn("a", 3, 2)},
				vx("t", &ir.TensorTranspose{Perm: []int{2, 1, 0}}, "a"),
				vx("y", &ir.TensorUnary{Op: op, Exponent: 1.5}, "t"))
			rng := rand.New(rand.NewSource(5))
			GradCheck(t, g, []*ir.Tensor{RandTensor(rng, 0.5, 2, 2, 3, 2)}, nil)
		})
	}
	for _, k := range ir.KnownActivations {
		if k == ir.ActSoftmax || k == ir.ActLogSoftmax {
			if _, err := (&ir.TensorActivation{Activation: ir.Act(k)}).OutputShape([][]int{{3}}); err == nil {
				t.Errorf("TensorActivation %s accepted", k)
			}
			continue
		}
		act := ir.Activation{Kind: k}
		switch k {
		case ir.ActLeakyReLU, ir.ActELU:
			act.Alpha = 0.3
		case ir.ActThresholdReLU:
			act.Alpha = 0.2
		case ir.ActClip:
			act.Alpha, act.Beta = -0.5, 0.6
		}
		t.Run(string(k), func(t *testing.T) {
			g := tensorProgram("ta_"+string(k), []ir.Input{batchedIn("a", 5)},
				vx("t", &ir.TensorTranspose{Perm: []int{1, 0}}, "a"),
				vx("y", &ir.TensorActivation{Activation: act}, "t"))
			rng := rand.New(rand.NewSource(7))
			GradCheck(t, g, []*ir.Tensor{RandTensor(rng, -2, 2, 3, 5)}, nil)
		})
	}
}

func TestGradTensorSoftmaxLayerNorm(t *testing.T) {
	for _, c := range []struct {
		name string
		l    ir.Layer
	}{
		{"softmax_last", &ir.TensorSoftmax{Axis: -1}},
		{"softmax_mid", &ir.TensorSoftmax{Axis: 1}},
		{"softmax_over_batch", &ir.TensorSoftmax{Axis: 2}}, // the batch is axis 2 after the transpose
		{"log_softmax", &ir.TensorSoftmax{Axis: 0, Log: true}},
		{"layernorm_last", &ir.TensorLayerNorm{Axis: -1, Epsilon: 1e-5}},
		{"layernorm_two", &ir.TensorLayerNorm{Axis: 1, Epsilon: 1e-3}},
		{"layernorm_all", &ir.TensorLayerNorm{Axis: 0, Epsilon: 1e-3}},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := tensorProgram("sn_"+c.name, []ir.Input{batchedIn("a", 3, 4)},
				vx("t", &ir.TensorTranspose{Perm: []int{1, 2, 0}}, "a"), // [3,4,B]
				vx("y", c.l, "t"))
			checkTensorProgram(t, g, []int{2, 3, 4})
		})
	}
	// values: softmax of [0, ln 3] is [1/4, 3/4]; layer norm of [1, 3] is ±1
	x := ir.FromData([]float32{0, float32(math.Log(3)), 1, 3}, 2, 2)
	wantData(t, predictOne(t, tensorProgram("smv", []ir.Input{batchedIn("a", 2)}, vx("y", &ir.TensorSoftmax{Axis: -1}, "a")), x),
		[]int{2, 2}, []float32{0.25, 0.75, 0.11920292, 0.88079708}, 1e-6)
	wantData(t, predictOne(t, tensorProgram("lnv", []ir.Input{batchedIn("a", 2)}, vx("y", &ir.TensorLayerNorm{Axis: -1}, "a")), x),
		[]int{2, 2}, []float32{-1, 1, -1, 1}, 1e-4)
}

func TestGradTensorReduce(t *testing.T) {
	for _, c := range []struct {
		name string
		l    *ir.TensorReduce
	}{
		{"sum_over_batch", &ir.TensorReduce{Op: "sum", Axes: []int{0}}},
		{"mean_keep", &ir.TensorReduce{Op: "mean", Axes: []int{-1}, KeepDims: true}},
		{"max_two", &ir.TensorReduce{Op: "max", Axes: []int{1, 2}}},
		{"min", &ir.TensorReduce{Op: "min", Axes: []int{1}}},
		{"prod", &ir.TensorReduce{Op: "prod", Axes: []int{2}}},
		{"sum_all", &ir.TensorReduce{Op: "sum"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := tensorProgram("red_"+c.name, []ir.Input{batchedIn("a", 3, 4)}, vx("y", c.l, "a"))
			checkTensorProgram(t, g, []int{2, 3, 4})
		})
	}
	full, err := tensorProgram("rs", []ir.Input{batchedIn("a", 3)}, vx("y", &ir.TensorReduce{Op: "sum", Axes: []int{0}}, "a")).FullShapes()
	if err != nil || !ir.SameShape(full["y"], []int{3}) {
		t.Fatalf("sum over the batch: %v %v", full, err)
	}
	// prod with zeros: the gradient is the product of the others
	g := tensorProgram("prod0", []ir.Input{batchedIn("a", 3)}, vx("y", &ir.TensorReduce{Op: "prod", Axes: []int{1}}, "a"))
	GradCheck(t, g, []*ir.Tensor{ir.FromData([]float32{0, 2, 3, 0, 0, 5, 1, 2, 0.5}, 3, 3)}, nil)
	wantData(t, predictOne(t, g, ir.FromData([]float32{0, 2, 3, 1, 2, 0.5}, 2, 3)), []int{2}, []float32{0, 1}, 0)
}

func TestGradTensorConstant(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	for _, trainable := range []bool{false, true} {
		c := &ir.Vertex{Name: "pos", Layer: &ir.TensorConstant{Shape: []int{1, 3, 2}, Trainable: trainable},
			Params: map[string]*ir.Tensor{"value": RandTensor(rng, -1, 1, 1, 3, 2)}}
		g := tensorProgram("const", []ir.Input{batchedIn("x", 3, 2)}, c, vx("y", &ir.TensorBinary{Op: "add"}, "x", "pos"))
		specs := c.Layer.Params(nil)
		if specs[0].Trainable != trainable {
			t.Fatalf("trainable %v: spec %+v", trainable, specs[0])
		}
		checkTensorProgram(t, g, []int{2, 3, 2})
	}
}

func TestGradTensorEinsum(t *testing.T) {
	for _, c := range []struct {
		eq     string
		inputs []ir.Input
		shapes [][]int
		out    []int
	}{
		{"bij,jk->bik", []ir.Input{batchedIn("a", 3, 4), freeIn("b", 4, 5)}, [][]int{{2, 3, 4}, {4, 5}}, []int{ir.Batch, 3, 5}},
		{"bhqd,bhkd->bhqk", []ir.Input{batchedIn("a", 2, 3, 4), batchedIn("b", 2, 5, 4)}, [][]int{{2, 2, 3, 4}, {2, 2, 5, 4}}, []int{ir.Batch, 2, 3, 5}},
		{"bi,bj->ij", []ir.Input{batchedIn("a", 3), batchedIn("b", 2)}, [][]int{{4, 3}, {4, 2}}, []int{3, 2}},
		{"bii->bi", []ir.Input{batchedIn("a", 3, 3)}, [][]int{{2, 3, 3}}, []int{ir.Batch, 3}},
		{"bij->b", []ir.Input{batchedIn("a", 3, 2)}, [][]int{{2, 3, 2}}, []int{ir.Batch}},
		{"bij->jib", []ir.Input{batchedIn("a", 3, 2)}, [][]int{{2, 3, 2}}, []int{2, 3, ir.Batch}},
		{"bi,j", []ir.Input{batchedIn("a", 3), freeIn("b", 2)}, [][]int{{2, 3}, {2}}, []int{ir.Batch, 3, 2}}, // implicit output: "bij"
		{"bij,bkj->bj", []ir.Input{batchedIn("a", 2, 3), batchedIn("b", 4, 3)}, [][]int{{2, 2, 3}, {2, 4, 3}}, []int{ir.Batch, 3}},
		{"...ij,...jk->...ik", []ir.Input{batchedIn("a", 2, 3, 4), freeIn("b", 4, 5)}, [][]int{{2, 2, 3, 4}, {4, 5}}, []int{ir.Batch, 2, 3, 5}},
		{"...ij,...jk", []ir.Input{batchedIn("a", 1, 3, 4), freeIn("b", 2, 4, 5)}, [][]int{{2, 1, 3, 4}, {2, 4, 5}}, []int{ir.Batch, 2, 3, 5}}, // size-1 broadcast
		{"b...->...", []ir.Input{batchedIn("a", 3, 2)}, [][]int{{2, 3, 2}}, []int{3, 2}},
	} {
		t.Run(c.eq, func(t *testing.T) {
			ins := []string{"a"}
			if len(c.inputs) == 2 {
				ins = append(ins, "b")
			}
			g := tensorProgram("einsum", c.inputs, vx("y", &ir.TensorEinsum{Equation: c.eq}, ins...))
			full, err := g.FullShapes()
			if err != nil {
				t.Fatal(err)
			}
			if !ir.SameShape(full["y"], c.out) {
				t.Fatalf("shape %s, want %s", ir.FormatShape(full["y"]), ir.FormatShape(c.out))
			}
			checkTensorProgram(t, g, c.shapes...)
		})
	}
	// the values agree with TensorMatMul
	rng := rand.New(rand.NewSource(4))
	a, b := RandTensor(rng, -1, 1, 2, 3, 4), RandTensor(rng, -1, 1, 2, 5, 4)
	in := []ir.Input{batchedIn("a", 3, 4), batchedIn("b", 5, 4)}
	e := predictOne(t, tensorProgram("e", in, vx("y", &ir.TensorEinsum{Equation: "bqd,bkd->bqk"}, "a", "b")), a, b)
	m := predictOne(t, tensorProgram("m", in, vx("bt", &ir.TensorTranspose{Perm: []int{0, 2, 1}}, "b"), vx("y", &ir.TensorMatMul{}, "a", "bt")), a, b)
	wantData(t, e, m.Shape, m.Data, 1e-5)
	for _, bad := range []struct {
		eq string
		in [][]int
	}{{"ij,jk->ik", [][]int{{2, 3}, {4, 5}}}, {"ij->ik", [][]int{{2, 3}}}, {"...ij->i", [][]int{{2, 3, 4}}}, {"i.j->ij", [][]int{{2, 3}}}, {"ij,jk,kl", [][]int{{1, 1}, {1, 1}, {1, 1}}}, {"ijk->ij", [][]int{{2, 3}}}} {
		if _, err := (&ir.TensorEinsum{Equation: bad.eq}).OutputShape(bad.in); err == nil {
			t.Errorf("einsum %q on %v accepted", bad.eq, bad.in)
		}
	}
}

// The two-operand einsums that are batched products run as GEMMs; their
// forward and backward equal the index walk's.
func TestEinsumProductMatchesWalk(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	for _, c := range []struct {
		eq   string
		a, b []int
		prod bool
	}{
		{"bhqd,bhkd->bhqk", []int{2, 3, 4, 5}, []int{2, 3, 6, 5}, true},
		{"bqk,bkd->bdq", []int{2, 4, 3}, []int{2, 3, 5}, true},
		{"ij,k->kji", []int{3, 2}, []int{4}, true},
		{"bij,bkj->bj", []int{2, 3, 4}, []int{2, 5, 4}, false}, // i and k summed out of one operand
		{"ii,ij->j", []int{3, 3}, []int{3, 2}, false},
	} {
		a, b := RandTensor(rng, -1, 1, c.a...), RandTensor(rng, -1, 1, c.b...)
		run := func(walk bool) (y, da, db []float64) {
			v := &ir.Vertex{Name: "e", Layer: &ir.TensorEinsum{Equation: c.eq}, Inputs: []string{"a", "b"}}
			op, err := newTensorEinsum[float64](v, [][]int{c.a, c.b}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			o := op.(*einsumOp[float64])
			xs := []*Mat[float64]{MatFromTensor[float64](a), MatFromTensor[float64](b)}
			o.setup(xs)
			if (o.mm != nil) != c.prod {
				t.Fatalf("%s: product path %v, want %v", c.eq, o.mm != nil, c.prod)
			}
			if walk {
				o.mm = nil
			}
			out := o.Forward(&Pass[float64]{}, xs)
			y = append(y, out.Data...)
			g := NewMat[float64](out.Shape...)
			for i := range g.Data {
				g.Data[i] = float64(i%7) - 3
			}
			d := o.Backward(&Pass[float64]{}, g)
			return y, append([]float64(nil), d[0].Data...), append([]float64(nil), d[1].Data...)
		}
		y1, a1, b1 := run(false)
		y2, a2, b2 := run(true)
		for _, p := range [][2][]float64{{y1, y2}, {a1, a2}, {b1, b2}} {
			for i := range p[0] {
				if math.Abs(p[0][i]-p[1][i]) > 1e-12 {
					t.Fatalf("%s: product %v, walk %v", c.eq, p[0], p[1])
				}
			}
		}
	}
}

func BenchmarkTensorEinsumScores(b *testing.B) {
	// attention scores of 8 examples, 4 heads, 64 steps, 32 per head
	for _, walk := range []bool{false, true} {
		name := "gemm"
		if walk {
			name = "walk"
		}
		b.Run(name, func(b *testing.B) {
			rng := rand.New(rand.NewSource(1))
			sh := []int{8, 4, 64, 32}
			v := &ir.Vertex{Name: "e", Layer: &ir.TensorEinsum{Equation: "bhqd,bhkd->bhqk"}, Inputs: []string{"q", "k"}}
			op, err := newTensorEinsum[float32](v, [][]int{sh, sh}, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			o := op.(*einsumOp[float32])
			xs := []*Mat[float32]{MatFromTensor[float32](RandTensor(rng, -1, 1, sh...)), MatFromTensor[float32](RandTensor(rng, -1, 1, sh...))}
			o.setup(xs)
			if walk {
				o.mm = nil
			}
			p := &Pass[float32]{}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				o.Forward(p, xs)
			}
		})
	}
}

func BenchmarkTensorBinaryMask(b *testing.B) {
	// attention scores plus a key-padding mask: [96 197 197] + [96 1 197]
	rng := rand.New(rand.NewSource(1))
	x := MatFromTensor[float32](RandTensor(rng, -1, 1, 96, 197, 197))
	m := MatFromTensor[float32](RandTensor(rng, -1, 1, 96, 1, 197))
	v := &ir.Vertex{Name: "y", Layer: &ir.TensorBinary{Op: "add"}, Inputs: []string{"x", "m"}}
	op, err := newTensorBinary[float32](v, [][]int{x.Shape, m.Shape}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	p := &Pass[float32]{Train: true}
	dy := NewMat[float32](x.Shape...)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		op.Forward(p, []*Mat[float32]{x, m})
		op.Backward(p, dy)
	}
}
