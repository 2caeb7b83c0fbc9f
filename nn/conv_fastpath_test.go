package nn

import (
	"fmt"
	"math"
	"math/rand"
	"runtime"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// TestConvFastPathsMatchIm2col runs the depthwise and pointwise kernels and
// the im2col + GEMM path (itself gradient-checked and compared with
// PyTorch) on the same data: forward, weight gradient and input gradient.
func TestConvFastPathsMatchIm2col(t *testing.T) {
	cases := []struct {
		name string
		core convCore[float64]
		in   []int
	}{
		{"dw3x3_same", convCore[float64]{rank: 2, filters: 6, groups: 6, kernel: []int{3, 3}, padding: ir.PadSame}, []int{3, 6, 7, 9}},
		{"dw_mult2_stride2", convCore[float64]{rank: 2, filters: 8, groups: 4, kernel: []int{3, 3}, strides: []int{2, 2}, padding: ir.PadSame}, []int{2, 4, 9, 8}},
		{"dw_dil_explicit", convCore[float64]{rank: 2, filters: 3, groups: 3, kernel: []int{3, 2}, dil: []int{2, 3},
			padding: ir.PadExplicit, pads: []int{2, 0, 1, 3}, strides: []int{1, 3}}, []int{2, 3, 8, 10}},
		{"dw_valid_5x5", convCore[float64]{rank: 2, filters: 2, groups: 2, kernel: []int{5, 5}, padding: ir.PadValid}, []int{2, 2, 6, 7}},
		{"dw_1d_causal", convCore[float64]{rank: 1, filters: 4, groups: 4, kernel: []int{3}, dil: []int{2}, padding: ir.PadCausal}, []int{2, 4, 11}},
		{"dw_kernel_wider_than_input", convCore[float64]{rank: 2, filters: 2, groups: 2, kernel: []int{3, 5}, padding: ir.PadSame}, []int{2, 2, 2, 3}},
		{"pw", convCore[float64]{rank: 2, filters: 5, groups: 1, kernel: []int{1, 1}, padding: ir.PadValid}, []int{3, 4, 16, 17}},
		{"pw_grouped", convCore[float64]{rank: 2, filters: 6, groups: 2, kernel: []int{1, 1}, padding: ir.PadSame}, []int{2, 4, 16, 16}},
		{"pw_1d", convCore[float64]{rank: 1, filters: 3, groups: 1, kernel: []int{1}, padding: ir.PadValid}, []int{2, 5, 300}},
		// under pointwiseMinP: forward per sample, backward batched through im2col
		{"pw_small_plane", convCore[float64]{rank: 2, filters: 5, groups: 1, kernel: []int{1, 1}, padding: ir.PadValid}, []int{3, 4, 5, 6}},
		{"pw_grouped_small_plane", convCore[float64]{rank: 2, filters: 6, groups: 2, kernel: []int{1, 1}, padding: ir.PadValid}, []int{3, 4, 5, 6}},
		// an inference network's: forward per sample with no im2col buffers
		{"pw_small_plane_inference", convCore[float64]{rank: 2, filters: 5, groups: 1, kernel: []int{1, 1}, padding: ir.PadValid, pooled: true}, []int{3, 4, 5, 6}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(int64(len(tc.name))))
			fast, slow := tc.core, tc.core
			slow.generic, slow.pooled = true, false
			if err := fast.setup(tc.in); err != nil {
				t.Fatal(err)
			}
			if err := slow.setup(tc.in); err != nil {
				t.Fatal(err)
			}
			if !fast.isDepthwise() && !fast.isPointwise() {
				t.Fatal("the case does not take a fast path")
			}
			randv := func(n int) []float64 {
				v := make([]float64, n)
				for i := range v {
					v[i] = rng.Float64()*2 - 1
				}
				return v
			}
			x := randv(ir.NumElements(tc.in))
			w := randv(fast.filters * fast.geo.c * fast.geo.k())
			nOut := ir.NumElements(fast.outShape)
			d := randv(nOut)
			yf, ys := make([]float64, nOut), make([]float64, nOut)
			fast.forward(x, w, yf, nil)
			slow.forward(x, w, ys, nil)
			near(t, "forward", yf, ys)
			if fast.pooled {
				if fast.col != nil || fast.tmp != nil {
					t.Fatal("an inference pointwise convolution holds im2col buffers")
				}
				return // inference networks run no backward pass
			}
			gwf, gws := randv(len(w)), make([]float64, len(w))
			copy(gws, gwf) // weight gradients accumulate
			dxf, dxs := randv(len(x)), randv(len(x))
			fast.backward(x, w, d, gwf, dxf)
			slow.backward(x, w, d, gws, dxs)
			near(t, "dW", gwf, gws)
			near(t, "dx", dxf, dxs)
		})
	}
}

func near(t *testing.T, what string, a, b []float64) {
	t.Helper()
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-9*(1+math.Abs(b[i])) {
			t.Fatalf("%s[%d] = %v, im2col path %v", what, i, a[i], b[i])
		}
	}
}

func TestGradConvFastPaths(t *testing.T) {
	cases := []ir.Conv{
		{Kernel: []int{1, 1}, Filters: 3, Padding: ir.PadValid, Activation: ir.Act(ir.ActReLU6)},
		{Kernel: []int{3, 3}, Filters: 2, Groups: 2, Padding: ir.PadSame, Dilations: []int{2, 1}},
	}
	for i, c := range cases {
		c.Rank = 2
		t.Run(fmt.Sprintf("case%d", i), func(t *testing.T) {
			coreCheckLayer(t, fmt.Sprintf("fast_%d", i), []int{2, 16, 16}, &c, -1, 1)
		})
	}
}

// TestPointwiseConvFloat32 runs float32 pointwise convolutions, whose
// kernel reads each sample's input in place (full panels) or packed (the
// last columns), against the float64 im2col path on every GEMM tier: two
// kc-deep blocks of input channels, rows short of a micro-tile, columns
// short of a panel, the goroutines taking whole samples (large planes; of
// 3 samples two, the third split) or shares of the filters (small
// planes) over all samples' planes side by side (panels spanning two or
// more samples, planes of one position), and the epilogue that runs on
// every plane once.
func TestPointwiseConvFloat32(t *testing.T) {
	start := GemmKernel()
	defer func() { _ = SetGemmKernel(start) }()
	shapes := []struct{ filters, c, h, w int }{{30, 300, 5, 10}, {64, 8, 7, 7}, {17, 33, 1, 40}, {20, 140, 17, 31},
		{45, 270, 3, 5}, {29, 20, 1, 1}, {16, 24, 4, 8}, {20, 40, 7, 9}}
	for _, kern := range GemmKernels() {
		if err := SetGemmKernel(kern); err != nil {
			t.Fatal(err)
		}
		for _, sh := range shapes {
			t.Run(fmt.Sprintf("%s/%dx%dx%dx%d", kern, sh.filters, sh.c, sh.h, sh.w), func(t *testing.T) {
				in := []int{3, sh.c, sh.h, sh.w}
				ref := convCore[float64]{rank: 2, filters: sh.filters, groups: 1, kernel: []int{1, 1}, padding: ir.PadValid, generic: true}
				c32 := convCore[float32]{rank: 2, filters: sh.filters, groups: 1, kernel: []int{1, 1}, padding: ir.PadValid, pooled: true}
				if err := ref.setup(in); err != nil {
					t.Fatal(err)
				}
				if err := c32.setup(in); err != nil {
					t.Fatal(err)
				}
				if !c32.isPointwise() {
					t.Fatal("the case does not take the pointwise path")
				}
				rng := rand.New(rand.NewSource(int64(sh.c)))
				x, w := randFloats(rng, ir.NumElements(in)), randFloats(rng, sh.filters*sh.c)
				y := make([]float64, ir.NumElements(ref.outShape))
				ref.forward(x, w, y, nil)
				P := sh.h * sh.w
				for i := range y {
					y[i] += float64(i / P) // what post adds: its plane
				}
				y32 := make([]float32, len(y))
				post := planeFn[float32](func(plane int, row []float32) {
					for i := range row {
						row[i] += float32(plane)
					}
				})
				c32.forward(toFloat32(x), toFloat32(w), y32, post)
				ran, want := 0, 0 // samples in one parallel region: a multiple of the goroutines by sample, or all by filters
				if c32.pwSplit != nil {
					ran = c32.pwSplit.n
				}
				if g := runtime.GOMAXPROCS(0); g >= 2 && kern != gonumKernel {
					want = in[0] - in[0]%g
					if P < pointwiseBySampleMinP {
						want = in[0]
					}
				}
				if ran != want {
					t.Fatalf("%d samples in one parallel region, want %d", ran, want)
				}
				for i := range y {
					if math.Abs(float64(y32[i])-y[i]) > 1e-4*(1+math.Abs(y[i])) {
						t.Fatalf("y[%d] = %v, float64 im2col %v", i, y32[i], y[i])
					}
				}
			})
		}
	}
}

// BenchmarkConvPointwise is ResNet50's 1×1 stride-1 layers at inference
// on 8 images, alone and with the epilogue of a residual block's last
// convolution (bias, the skip's sum, ReLU): go test -bench ConvPointwise ./nn
func BenchmarkConvPointwise(b *testing.B) {
	for _, s := range [][3]int{{64, 256, 56}, {256, 64, 56}, {128, 512, 28}, {512, 128, 28}, {256, 1024, 14}, {1024, 256, 14}, {512, 2048, 7}, {2048, 512, 7}} {
		in := []int{8, s[0], s[2], s[2]}
		c := convCore[float32]{rank: 2, filters: s[1], groups: 1, kernel: []int{1, 1}, padding: ir.PadValid, pooled: true}
		if err := c.setup(in); err != nil {
			b.Fatal(err)
		}
		x := make([]float32, ir.NumElements(in))
		w := make([]float32, s[1]*s[0])
		y := make([]float32, ir.NumElements(c.outShape))
		skip := make([]float32, len(y))
		P := s[2] * s[2]
		post := planeFn[float32](func(plane int, row []float32) {
			affineRange(row, row, 1, 0.5)
			addTo(row, skip[plane*P:][:len(row)])
			clampRange(row, row, 0, float32(math.Inf(1)))
		})
		for _, epi := range []planeFn[float32]{nil, post} {
			b.Run(fmt.Sprintf("C%d_K%d_%dx%d/post=%v", s[0], s[1], s[2], s[2], epi != nil), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					c.forward(x, w, y, epi)
				}
				b.ReportMetric(float64(8*2*s[0]*s[1]*P)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
