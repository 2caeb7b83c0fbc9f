package nn

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// withSIMD runs f with the AVX2 loops on (where the CPU has them) and off.
func withSIMD(t *testing.T, f func(t *testing.T)) {
	saved := useSIMD
	defer func() { useSIMD = saved }()
	for _, on := range []bool{saved, false} {
		useSIMD = on
		t.Run(fmt.Sprintf("simd=%v", on), f)
	}
}

// TestDepthwise3x3MatchesIm2col compares the 3×3 row kernels (float32:
// AVX2 and portable; float64: portable) with the im2col + GEMM path on odd
// widths, asymmetric and oversized padding, row and column strides, row
// dilation and depth multipliers.
func TestDepthwise3x3MatchesIm2col(t *testing.T) {
	type tc struct {
		strides, dil, pads []int
		pad                ir.Padding
		mult               int
	}
	geoms := []tc{
		{pad: ir.PadSame, mult: 1},
		{pad: ir.PadValid, mult: 1},
		{pad: ir.PadSame, strides: []int{2, 2}, mult: 1},
		{pad: ir.PadValid, strides: []int{2, 2}, mult: 2},
		{pad: ir.PadSame, strides: []int{1, 2}, mult: 1},
		{pad: ir.PadSame, strides: []int{3, 1}, dil: []int{2, 1}, mult: 1},
		{pad: ir.PadExplicit, pads: []int{0, 2, 1, 0}, mult: 2},
		{pad: ir.PadExplicit, pads: []int{2, 1, 3, 4}, strides: []int{1, 2}, mult: 1},
		{pad: ir.PadExplicit, pads: []int{1, 1, 0, 1}, strides: []int{2, 2}, mult: 1},
	}
	widths := []int{3, 5, 8, 9, 16, 17, 23, 28, 33}
	for gi, ge := range geoms {
		for _, w := range widths {
			h := 4 + w%5
			ch := 3
			core := convCore[float64]{rank: 2, filters: ch * ge.mult, groups: ch, kernel: []int{3, 3},
				strides: ge.strides, dil: ge.dil, padding: ge.pad, pads: ge.pads}
			in := []int{2, ch, h, w}
			name := fmt.Sprintf("geom%d_w%d", gi, w)
			slow := core
			slow.generic = true
			if err := slow.setup(in); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !slow.geo.is3x3Row() {
				t.Fatalf("%s: not a 3×3 row geometry", name)
			}
			rng := rand.New(rand.NewSource(int64(gi*100 + w)))
			x := make([]float64, ir.NumElements(in))
			wt := make([]float64, core.filters*9)
			for _, v := range [][]float64{x, wt} {
				for i := range v {
					// float32-exact values, so both precisions see the same data
					v[i] = float64(float32(rng.Float64()*2 - 1))
				}
			}
			want := make([]float64, ir.NumElements(slow.outShape))
			slow.forward(x, wt, want, nil)

			t.Run(name+"/float64", func(t *testing.T) {
				fast := core
				if err := fast.setup(in); err != nil {
					t.Fatal(err)
				}
				got := make([]float64, len(want))
				fast.forward(x, wt, got, nil)
				near(t, "forward", got, want)
			})
			t.Run(name+"/float32", func(t *testing.T) {
				withSIMD(t, func(t *testing.T) {
					fast := convCore[float32]{rank: 2, filters: core.filters, groups: ch, kernel: []int{3, 3},
						strides: ge.strides, dil: ge.dil, padding: ge.pad, pads: ge.pads}
					if err := fast.setup(in); err != nil {
						t.Fatal(err)
					}
					got := make([]float32, len(want))
					for i := range got {
						got[i] = float32(math.NaN()) // every output must be written
					}
					fast.forward(f32s(x), f32s(wt), got, nil)
					for i, v := range got {
						if d := math.Abs(float64(v) - want[i]); !(d <= 1e-5*(1+math.Abs(want[i]))) {
							t.Fatalf("out[%d] = %v, im2col path %v", i, v, want[i])
						}
					}
				})
			})
		}
	}
}

func f32s(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// TestDwRow3x3Bounds runs the row kernels on rows that end at the last
// element a row may read, followed by NaN sentinels, and checks that no
// sentinel reaches the output and nothing past dst is written.
func TestDwRow3x3Bounds(t *testing.T) {
	withSIMD(t, func(t *testing.T) {
		rng := rand.New(rand.NewSource(5))
		nan := float32(math.NaN())
		for _, sw := range []int{1, 2} {
			for n := 1; n <= 41; n++ {
				need := (n-1)*sw + 3
				var rows [3][]float32
				for i := range rows {
					buf := make([]float32, need+8)
					for k := range buf {
						buf[k] = nan
					}
					for k := range need {
						buf[k] = float32(rng.Float64()*2 - 1)
					}
					rows[i] = buf[:need]
				}
				w := f32s([]float64{0.5, -1, 2, 0.25, 3, -0.75, 1.5, -2, 1})
				dbuf := make([]float32, n+8)
				for k := range dbuf {
					dbuf[k] = 7
				}
				dwRow3x3(dbuf[:n], rows[0], rows[1], rows[2], w, sw)
				for x := range n {
					var want float64
					for i := range 3 {
						for j := range 3 {
							want += float64(w[3*i+j]) * float64(rows[i][x*sw+j])
						}
					}
					if d := math.Abs(float64(dbuf[x]) - want); !(d <= 1e-5*(1+math.Abs(want))) {
						t.Fatalf("sw=%d n=%d: dst[%d] = %v, want %v", sw, n, x, dbuf[x], want)
					}
				}
				for k := n; k < len(dbuf); k++ {
					if dbuf[k] != 7 {
						t.Fatalf("sw=%d n=%d: dst[%d] written past the row", sw, n, k)
					}
				}
			}
		}
	})
}
