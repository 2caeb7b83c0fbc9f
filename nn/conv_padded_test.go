package nn

import (
	"fmt"
	"math"
	"math/rand"
	"runtime"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// TestPaddedConvMatchesMaterialised runs float32 convolutions from a
// padded copy (forward, weight and, for stride 1, input gradients; bands
// of rows or several samples per product) and through materialised
// columns against the float64 materialised path, on every GEMM tier.
func TestPaddedConvMatchesMaterialised(t *testing.T) {
	start := GemmKernel()
	defer func() { _ = SetGemmKernel(start) }()
	cases := []struct {
		name   string
		core   convCore[float64]
		in     []int
		budget int
	}{
		{"same", convCore[float64]{rank: 2, filters: 8, groups: 1, kernel: []int{3, 3}, padding: ir.PadSame}, []int{3, 5, 9, 11}, 0},
		{"stride2_dilated", convCore[float64]{rank: 2, filters: 6, groups: 1, kernel: []int{3, 3}, strides: []int{2, 2},
			dil: []int{2, 1}, padding: ir.PadExplicit, pads: []int{2, 1, 0, 3}}, []int{2, 4, 13, 12}, 0},
		{"7x7_stride2_like_resnet_stem", convCore[float64]{rank: 2, filters: 16, groups: 1, kernel: []int{7, 7}, strides: []int{2, 2},
			padding: ir.PadExplicit, pads: []int{3, 3, 3, 3}}, []int{2, 3, 23, 20}, 0},
		{"3x3_stride2_bands", convCore[float64]{rank: 2, filters: 9, groups: 1, kernel: []int{3, 3}, strides: []int{2, 2},
			padding: ir.PadExplicit, pads: []int{1, 1, 1, 1}}, []int{2, 6, 16, 15}, 1500},
		{"1x1_stride2_rows_not_read", convCore[float64]{rank: 2, filters: 12, groups: 1, kernel: []int{1, 1}, strides: []int{2, 2},
			padding: ir.PadValid}, []int{3, 8, 10, 9}, 0},
		{"1d_stride3_dilated", convCore[float64]{rank: 1, filters: 5, groups: 1, kernel: []int{3}, strides: []int{3}, dil: []int{2},
			padding: ir.PadSame}, []int{3, 4, 29}, 0},
		{"stride_2x1", convCore[float64]{rank: 2, filters: 6, groups: 1, kernel: []int{2, 3}, strides: []int{2, 1},
			padding: ir.PadValid}, []int{2, 5, 11, 8}, 0},
		{"stride_2x1_padded_rows", convCore[float64]{rank: 2, filters: 5, groups: 1, kernel: []int{3, 3}, strides: []int{2, 1},
			padding: ir.PadExplicit, pads: []int{3, 1, 2, 2}}, []int{2, 4, 9, 7}, 0},
		{"per_sample_tiles", convCore[float64]{rank: 2, filters: 7, groups: 1, kernel: []int{5, 3}, padding: ir.PadSame}, []int{2, 3, 20, 21}, 600},
		{"runs_inside_the_padding", convCore[float64]{rank: 1, filters: 3, groups: 1, kernel: []int{1}, padding: ir.PadExplicit, pads: []int{2, 2}}, []int{5, 3, 7}, 0},
		{"1d_causal", convCore[float64]{rank: 1, filters: 5, groups: 1, kernel: []int{3}, dil: []int{2}, padding: ir.PadCausal}, []int{4, 6, 17}, 0},
		{"valid_dilated_wide_filters", convCore[float64]{rank: 2, filters: 40, groups: 1, kernel: []int{3, 2}, dil: []int{1, 3}}, []int{3, 17, 12, 14}, 0},
		{"asymmetric_pads_bands", convCore[float64]{rank: 2, filters: 20, groups: 1, kernel: []int{3, 3}, padding: ir.PadExplicit,
			pads: []int{0, 2, 1, 0}}, []int{2, 18, 13, 9}, 2000},
		{"pads_past_the_kernel", convCore[float64]{rank: 2, filters: 18, groups: 1, kernel: []int{3, 3}, padding: ir.PadExplicit,
			pads: []int{3, 1, 1, 1}}, []int{2, 17, 6, 7}, 0},
	}
	for _, kern := range GemmKernels() {
		if err := SetGemmKernel(kern); err != nil {
			t.Fatal(err)
		}
		for _, tc := range cases {
			for _, padded := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/padded=%v", kern, tc.name, padded), func(t *testing.T) {
					rng := rand.New(rand.NewSource(int64(len(tc.name))))
					ref := tc.core
					ref.generic, ref.colBudget = true, tc.budget
					c32 := convCore[float32]{rank: tc.core.rank, filters: tc.core.filters, groups: 1, kernel: tc.core.kernel,
						strides: tc.core.strides, dil: tc.core.dil, padding: tc.core.padding, pads: tc.core.pads, colBudget: tc.budget,
						noPadded: !padded}
					if err := ref.setup(tc.in); err != nil {
						t.Fatal(err)
					}
					if err := c32.setup(tc.in); err != nil {
						t.Fatal(err)
					}
					if c32.usePadded() != padded {
						t.Fatalf("usePadded %v: the case does not test the intended path", c32.usePadded())
					}
					if !padded && (tc.budget > 0 && c32.chunk != 1 || tc.budget == 0 && c32.chunk == 1) {
						t.Fatalf("chunk %d: the case does not test the intended path", c32.chunk)
					}
					if padded && tc.budget > 0 && c32.pf.bands() == 1 {
						t.Fatalf("one band: the case does not test the intended path")
					}
					nx, nw, ny := ir.NumElements(tc.in), ref.filters*ref.geo.c*ref.geo.k(), ir.NumElements(ref.outShape)
					x, w, d := randFloats(rng, nx), randFloats(rng, nw), randFloats(rng, ny)
					y := make([]float64, ny)
					ref.forward(x, w, y, nil)
					gw, dx := make([]float64, nw), make([]float64, nx)
					ref.backward(x, w, d, gw, dx)

					x32, w32, d32 := toFloat32(x), toFloat32(w), toFloat32(d)
					y32, gw32, dx32 := make([]float32, ny), make([]float32, nw), make([]float32, nx)
					for i := range dx32 {
						dx32[i] = float32(math.NaN()) // written whole, not accumulated
					}
					c32.forward(x32, w32, y32, nil)
					c32.backward(x32, w32, d32, gw32, dx32)
					close32(t, "forward", y32, y)
					close32(t, "dW", gw32, gw)
					close32(t, "dx", dx32, dx)
				})
			}
		}
	}
}

func randFloats(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.Float64()*2 - 1
	}
	return v
}

func toFloat32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func close32(t *testing.T, what string, got []float32, want []float64) {
	t.Helper()
	for i, w := range want {
		if d := math.Abs(float64(got[i]) - w); !(d <= 1e-4*(1+math.Abs(w))) {
			t.Fatalf("%s[%d] = %v, float64 im2col %v", what, i, got[i], w)
		}
	}
}

// BenchmarkConvPadded compares the forward pass and the weight gradient
// with the columns read from a padded copy and materialised:
// go test -run XXX -bench ConvPadded ./nn
func BenchmarkConvPadded(b *testing.B) {
	for _, s := range []struct {
		name string
		in   []int
		k    int
	}{{"resblock_64x28x28_b32", []int{32, 64, 28, 28}, 64}, {"vgg_64x224x224_b8", []int{8, 64, 224, 224}, 64}, {"cnn_32x16x16_b32", []int{32, 32, 16, 16}, 64}} {
		for _, mode := range []string{"padded", "materialised"} {
			c := convCore[float32]{rank: 2, filters: s.k, groups: 1, kernel: []int{3, 3}, padding: ir.PadSame,
				noPadded: mode != "padded", noWinograd: true}
			if err := c.setup(s.in); err != nil {
				b.Fatal(err)
			}
			x := make([]float32, ir.NumElements(s.in))
			w := make([]float32, s.k*s.in[1]*9)
			y := make([]float32, ir.NumElements(c.outShape))
			gw := make([]float32, len(w))
			b.Run(fmt.Sprintf("%s/forward/%s", s.name, mode), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					c.forward(x, w, y, nil)
				}
			})
			b.Run(fmt.Sprintf("%s/dW/%s", s.name, mode), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					c.backward(x, w, y, gw, nil)
				}
			})
		}
	}
}

// TestEvensSIMD: the vector stride-2 gather of the phase planes copies
// src[2i] for the multiple of 8 of dst whose pairs src holds, nothing past.
func TestEvensSIMD(t *testing.T) {
	src := make([]float32, 41)
	for i := range src {
		src[i] = float32(i + 1)
	}
	for _, c := range []struct{ dst, src int }{{3, 41}, {20, 41}, {20, 33}, {20, 32}, {16, 31}} {
		dst := make([]float32, c.dst)
		n := evensSIMD(dst, src[:c.src])
		if useSIMD && n != min(c.dst, c.src/2)&^7 || n > c.dst || 2*n > c.src {
			t.Fatalf("dst %d src %d: did %d", c.dst, c.src, n)
		}
		for i, v := range dst {
			if want := float32(0); i < n {
				want = src[2*i]
				if v != want {
					t.Fatalf("dst %d src %d: [%d] = %v, want %v", c.dst, c.src, i, v, want)
				}
			} else if v != 0 {
				t.Fatalf("dst %d src %d: [%d] written past %d", c.dst, c.src, i, n)
			}
		}
	}
}

// TestPaddedConvBySample runs the sample-parallel passes (one range of
// samples per goroutine, the weight gradient summed per goroutine) on
// batches that do not split evenly, with a weight gradient that already
// holds a sum (backward adds to it), against the float64 im2col path.
func TestPaddedConvBySample(t *testing.T) {
	cases := []struct {
		name string
		core convCore[float64]
		in   []int
	}{
		{"same_3x3", convCore[float64]{rank: 2, filters: 16, groups: 1, kernel: []int{3, 3}, padding: ir.PadSame}, []int{7, 5, 9, 11}},
		{"stride2", convCore[float64]{rank: 2, filters: 20, groups: 1, kernel: []int{3, 3}, strides: []int{2, 2},
			padding: ir.PadExplicit, pads: []int{1, 1, 1, 1}}, []int{5, 6, 16, 15}},
		{"1d", convCore[float64]{rank: 1, filters: 9, groups: 1, kernel: []int{5}, padding: ir.PadSame}, []int{4, 3, 40}},
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{2, 3} {
		runtime.GOMAXPROCS(procs)
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/procs=%d", tc.name, procs), func(t *testing.T) {
				rng := rand.New(rand.NewSource(int64(len(tc.name))))
				ref := tc.core
				ref.generic = true
				c32 := convCore[float32]{rank: tc.core.rank, filters: tc.core.filters, groups: 1, kernel: tc.core.kernel,
					strides: tc.core.strides, dil: tc.core.dil, padding: tc.core.padding, pads: tc.core.pads}
				if err := ref.setup(tc.in); err != nil {
					t.Fatal(err)
				}
				if err := c32.setup(tc.in); err != nil {
					t.Fatal(err)
				}
				if _, fast := gemm32.(fastGemm32); !fast {
					t.Skip("the padded passes need the fast GEMM")
				}
				if !c32.usePadded() || c32.pf.bySample(tc.in[0]) == 0 {
					t.Fatalf("padded %v, chunk %d: the case does not test the sample-parallel path", c32.usePadded(), c32.pf.chunk)
				}
				if wantPB := tc.core.strides == nil; c32.pb.ok != wantPB || wantPB && c32.pb.bySample(tc.in[0]) == 0 {
					t.Fatalf("the input gradient does not run by sample")
				}
				nx, nw, ny := ir.NumElements(tc.in), ref.filters*ref.geo.c*ref.geo.k(), ir.NumElements(ref.outShape)
				x, w, d := randFloats(rng, nx), randFloats(rng, nw), randFloats(rng, ny)
				y, gw, dx := make([]float64, ny), randFloats(rng, nw), make([]float64, nx)
				gw32 := toFloat32(gw)
				ref.forward(x, w, y, nil)
				ref.backward(x, w, d, gw, dx)

				x32, w32, d32 := toFloat32(x), toFloat32(w), toFloat32(d)
				y32, dx32 := make([]float32, ny), make([]float32, nx)
				c32.forward(x32, w32, y32, nil)
				c32.backward(x32, w32, d32, gw32, dx32)
				close32(t, "forward", y32, y)
				close32(t, "dW", gw32, gw)
				close32(t, "dx", dx32, dx)
			})
		}
	}
}

// BenchmarkConvStride2 is ResNet50's 3×3 stride-2 layers at inference on 8
// images: go test -bench ConvStride2 ./nn
func BenchmarkConvStride2(b *testing.B) {
	for _, s := range [][2]int{{128, 56}, {256, 28}, {512, 14}} {
		in := []int{8, s[0], s[1], s[1]}
		c := convCore[float32]{rank: 2, filters: s[0], groups: 1, kernel: []int{3, 3}, strides: []int{2, 2},
			padding: ir.PadExplicit, pads: []int{1, 1, 1, 1}, pooled: true}
		if err := c.setup(in); err != nil {
			b.Fatal(err)
		}
		c.col, c.tmp = make([]float32, c.colN), make([]float32, c.tmpN)
		x := make([]float32, ir.NumElements(in))
		w := make([]float32, s[0]*s[0]*9)
		y := make([]float32, ir.NumElements(c.outShape))
		P := c.geo.p()
		b.Run(fmt.Sprintf("C%d_%dx%d", s[0], s[1], s[1]), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				c.forward(x, w, y, nil)
			}
			b.ReportMetric(float64(8*2*s[0]*s[0]*9*P)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// TestFillStride2MatchesPhases: the one-pass 2×2-stride fill writes the
// phase planes the phase-by-phase fill writes, bit for bit, with and
// without AVX2, for odd and even widths and left pads, bands that start
// inside the input and past its end.
func TestFillStride2MatchesPhases(t *testing.T) {
	withSIMD(t, func(t *testing.T) {
		for _, c := range []struct{ h, w, pt, pb, pl, pr, oy0, band int }{
			{9, 45, 1, 1, 1, 1, 0, 0}, {8, 40, 1, 1, 1, 1, 0, 0}, {8, 37, 3, 3, 3, 3, 0, 0}, {11, 20, 0, 2, 2, 0, 0, 0},
			{16, 33, 1, 1, 1, 1, 2, 3},
		} {
			oh, ow := (c.h+c.pt+c.pb-3)/2+1, (c.w+c.pl+c.pr-3)/2+1
			var pc paddedConv
			limit := 1 << 20
			if c.band > 0 {
				limit = 4 * ((c.w + c.pl + c.pr + 1) / 2) * (c.band + 1)
			}
			pc.setup(1, 4, c.h, c.w, 3, 3, 2, 2, 1, 1, c.pt, c.pb, c.pl, c.pr, oh, ow, 4, limit)
			if !pc.ok || pc.np != 4 || c.band > 0 && pc.band == oh {
				t.Fatalf("%+v: the geometry does not take the 2×2-stride fill (ok %v, %d phases, band %d)", c, pc.ok, pc.np, pc.band)
			}
			src := make([]float32, c.h*c.w)
			for i := range src {
				src[i] = float32(i + 1)
			}
			got, want := make([]float32, pc.per), make([]float32, pc.per)
			for i := range got {
				got[i], want[i] = -1, -1 // what neither writes stays -1 in both
			}
			for ch := 0; ch < 4; ch++ {
				pc.fillStride2(got, src, ch, c.oy0)
				pc.fillPhases(want, src, ch, c.oy0)
			}
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%+v: unit[%d] = %v, phase by phase %v", c, i, got[i], want[i])
				}
			}
		}
	})
}
