package nn

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// TestConvTilesMatchWholePlane runs the im2col + GEMM path with a column
// budget small enough to cut each sample's output positions into tiles
// (part rows, whole rows, one position) against the same convolution with
// the default budget: the forward pass must be bit-identical (each output is
// the same dot product), the gradients equal up to summation order.
func TestConvTilesMatchWholePlane(t *testing.T) {
	cases := []struct {
		name string
		core convCore[float64]
		in   []int
	}{
		{"3x3_same", convCore[float64]{rank: 2, filters: 5, groups: 1, kernel: []int{3, 3}, padding: ir.PadSame}, []int{2, 3, 9, 11}},
		{"stride2_dil", convCore[float64]{rank: 2, filters: 4, groups: 1, kernel: []int{3, 2}, strides: []int{2, 3}, dil: []int{1, 2},
			padding: ir.PadExplicit, pads: []int{1, 2, 0, 3}}, []int{2, 2, 13, 14}},
		{"grouped", convCore[float64]{rank: 2, filters: 6, groups: 2, kernel: []int{3, 3}, padding: ir.PadValid}, []int{3, 4, 8, 10}},
		{"1d_causal", convCore[float64]{rank: 1, filters: 3, groups: 1, kernel: []int{4}, dil: []int{2}, padding: ir.PadCausal}, []int{2, 3, 37}},
		{"1x1_stride2", convCore[float64]{rank: 2, filters: 3, groups: 1, kernel: []int{1, 1}, strides: []int{2, 2}, padding: ir.PadValid}, []int{2, 2, 11, 9}},
		{"3d_pad_dil", convCore[float64]{rank: 3, filters: 3, groups: 1, kernel: []int{2, 3, 2}, strides: []int{2, 1, 2}, dil: []int{2, 1, 1},
			padding: ir.PadExplicit, pads: []int{1, 1, 0, 2, 0, 1}}, []int{2, 2, 7, 6, 7}},
	}
	for _, tc := range cases {
		for _, budgetCols := range []int{1, 5, 17, 23} {
			t.Run(fmt.Sprintf("%s_cols%d", tc.name, budgetCols), func(t *testing.T) {
				whole, tiled := tc.core, tc.core
				if err := whole.setup(tc.in); err != nil {
					t.Fatal(err)
				}
				rows := whole.geo.c * whole.geo.k()
				tiled.colBudget = budgetCols * rows
				if err := tiled.setup(tc.in); err != nil {
					t.Fatal(err)
				}
				if tiled.chunk != 1 || tiled.tile >= tiled.geo.p() || len(tiled.col) != rows*tiled.tile {
					t.Fatalf("chunk %d, tile %d of %d positions, col %d: not tiled", tiled.chunk, tiled.tile, tiled.geo.p(), len(tiled.col))
				}
				rng := rand.New(rand.NewSource(int64(budgetCols)))
				randv := func(n int) []float64 {
					v := make([]float64, n)
					for i := range v {
						v[i] = rng.Float64()*2 - 1
					}
					return v
				}
				x := randv(ir.NumElements(tc.in))
				w := randv(whole.filters * rows)
				nOut := ir.NumElements(whole.outShape)
				yw, yt := make([]float64, nOut), make([]float64, nOut)
				whole.forward(x, w, yw, nil)
				tiled.forward(x, w, yt, nil)
				for i := range yw {
					if yw[i] != yt[i] {
						t.Fatalf("forward[%d] = %v tiled, %v whole", i, yt[i], yw[i])
					}
				}
				d := randv(nOut)
				gww := randv(len(w))
				gwt := append([]float64(nil), gww...) // weight gradients accumulate
				dxw, dxt := randv(len(x)), randv(len(x))
				whole.backward(x, w, d, gww, dxw)
				tiled.backward(x, w, d, gwt, dxt)
				near(t, "dW", gwt, gww)
				near(t, "dx", dxt, dxw)
			})
		}
	}
}

// TestConvTilesFloat32BitIdentical checks the float32 forward (the fast
// GEMM's micro-tiles fall differently on a tile's columns) and the float32
// gradients against the untiled ones.
func TestConvTilesFloat32BitIdentical(t *testing.T) {
	core := convCore[float32]{rank: 2, filters: 19, groups: 1, kernel: []int{3, 3}, padding: ir.PadSame}
	in := []int{2, 7, 23, 29}
	whole, tiled := core, core
	if err := whole.setup(in); err != nil {
		t.Fatal(err)
	}
	rows := 7 * 9
	tiled.colBudget = 61 * rows
	if err := tiled.setup(in); err != nil {
		t.Fatal(err)
	}
	if tiled.chunk != 1 || tiled.tile != 58 {
		t.Fatalf("chunk %d, tile %d, want 1 and 58 (two output rows)", tiled.chunk, tiled.tile)
	}
	rng := rand.New(rand.NewSource(3))
	randv := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = rng.Float32()*2 - 1
		}
		return v
	}
	x, w := randv(ir.NumElements(in)), randv(19*rows)
	nOut := ir.NumElements(whole.outShape)
	yw, yt := make([]float32, nOut), make([]float32, nOut)
	whole.forward(x, w, yw, nil)
	tiled.forward(x, w, yt, nil)
	for i := range yw {
		if yw[i] != yt[i] {
			t.Fatalf("forward[%d] = %v tiled, %v whole", i, yt[i], yw[i])
		}
	}
	d := randv(nOut)
	gww, gwt := make([]float32, len(w)), make([]float32, len(w))
	dxw, dxt := make([]float32, len(x)), make([]float32, len(x))
	whole.backward(x, w, d, gww, dxw)
	tiled.backward(x, w, d, gwt, dxt)
	for _, c := range []struct {
		what string
		a, b []float32
	}{{"dW", gwt, gww}, {"dx", dxt, dxw}} {
		for i := range c.a {
			if math.Abs(float64(c.a[i]-c.b[i])) > 1e-4*(1+math.Abs(float64(c.b[i]))) {
				t.Fatalf("%s[%d] = %v tiled, %v whole", c.what, i, c.a[i], c.b[i])
			}
		}
	}
}

// BenchmarkConvVGG16Block1 is the forward pass of VGG16's conv1_2 (64→64,
// 3×3, 224×224), whose untiled im2col buffer is 115 MB.
func BenchmarkConvVGG16Block1(b *testing.B) {
	core := convCore[float32]{rank: 2, filters: 64, groups: 1, kernel: []int{3, 3}, padding: ir.PadSame}
	in := []int{1, 64, 224, 224}
	if err := core.setup(in); err != nil {
		b.Fatal(err)
	}
	x := make([]float32, ir.NumElements(in))
	w := make([]float32, 64*64*9)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	for i := range w {
		w[i] = float32(i%5) - 2
	}
	y := make([]float32, ir.NumElements(core.outShape))
	b.ResetTimer()
	for range b.N {
		core.forward(x, w, y, nil)
	}
}
