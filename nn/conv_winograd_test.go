package nn

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"golang.org/x/sys/cpu"

	"github.com/retarget-dev/retarget/ir"
)

// TestConvWinogradMatchesIm2col runs Winograd and the im2col + GEMM path
// on the same data: exact in float64 (to rounding), within float32
// rounding of the float64 result in float32.
func TestConvWinogradMatchesIm2col(t *testing.T) {
	lowerWinogradThresholds(t)
	cases := []struct {
		name string
		core convCore[float64]
		in   []int
	}{
		{"same_even", convCore[float64]{rank: 2, filters: 8, groups: 1, kernel: []int{3, 3}, padding: ir.PadSame}, []int{2, 16, 10, 12}},
		{"same_odd", convCore[float64]{rank: 2, filters: 5, groups: 1, kernel: []int{3, 3}, padding: ir.PadSame}, []int{1, 17, 11, 13}},
		{"valid", convCore[float64]{rank: 2, filters: 4, groups: 1, kernel: []int{3, 3}, padding: ir.PadValid}, []int{2, 16, 13, 12}},
		{"explicit_uneven", convCore[float64]{rank: 2, filters: 3, groups: 1, kernel: []int{3, 3}, padding: ir.PadExplicit,
			pads: []int{2, 0, 1, 2}}, []int{2, 20, 11, 10}},
		{"chunked_rows", convCore[float64]{rank: 2, filters: 64, groups: 1, kernel: []int{3, 3}, padding: ir.PadSame}, []int{1, 64, 70, 70}},
		// float32: tile rows cut by V's panels into runs shorter than the
		// vector window; filters that pad the last row panel of U
		{"short_runs_same", convCore[float64]{rank: 2, filters: 20, groups: 1, kernel: []int{3, 3}, padding: ir.PadSame}, []int{3, 16, 9, 22}},
		{"short_runs_odd", convCore[float64]{rank: 2, filters: 20, groups: 1, kernel: []int{3, 3}, padding: ir.PadSame}, []int{2, 16, 7, 29}},
		{"short_runs_valid", convCore[float64]{rank: 2, filters: 20, groups: 1, kernel: []int{3, 3}, padding: ir.PadValid}, []int{2, 16, 6, 21}},
		{"short_runs_uneven", convCore[float64]{rank: 2, filters: 20, groups: 1, kernel: []int{3, 3}, padding: ir.PadExplicit,
			pads: []int{0, 2, 1, 3}}, []int{2, 16, 7, 25}},
		// channels over two of the packed U's column slabs, the last partial
		{"slabs", convCore[float64]{rank: 2, filters: 17, groups: 1, kernel: []int{3, 3}, padding: ir.PadSame}, []int{1, 150, 6, 9}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(int64(len(tc.name))))
			wino, slow := tc.core, tc.core
			slow.noWinograd = true
			for _, c := range []*convCore[float64]{&wino, &slow} {
				if err := c.setup(tc.in); err != nil {
					t.Fatal(err)
				}
			}
			if !wino.isWinograd() || slow.isWinograd() {
				t.Fatal("the case does not take the Winograd path")
			}
			x := make([]float64, ir.NumElements(tc.in))
			w := make([]float64, wino.filters*wino.geo.c*9)
			for _, v := range [][]float64{x, w} {
				for i := range v {
					v[i] = rng.Float64()*2 - 1
				}
			}
			nOut := ir.NumElements(wino.outShape)
			yw, ys := make([]float64, nOut), make([]float64, nOut)
			wino.forward(x, w, yw, nil)
			slow.forward(x, w, ys, nil)
			near(t, "forward", yw, ys)

			w32 := convCore[float32]{rank: 2, filters: tc.core.filters, groups: 1, kernel: tc.core.kernel,
				padding: tc.core.padding, pads: tc.core.pads}
			if err := w32.setup(tc.in); err != nil {
				t.Fatal(err)
			}
			x32, wt32, y32 := make([]float32, len(x)), make([]float32, len(w)), make([]float32, nOut)
			for i, v := range x {
				x32[i] = float32(v)
			}
			for i, v := range w {
				wt32[i] = float32(v)
			}
			// the fused path (every case's U is small), then the staged one
			defer func(u int) { winogradFusedU = u }(winogradFusedU)
			var fused []float32
			for _, u := range []int{winogradFusedU, 0} {
				winogradFusedU = u
				clear(y32)
				w32.forward(x32, wt32, y32, nil)
				var worst float64
				for i, v := range ys {
					// the sum has C·9 terms of size ≤ 1: float32 rounding of
					// the inputs and of the sum stays far below 1e-4 relative
					worst = math.Max(worst, math.Abs(float64(y32[i])-v)/(1+math.Abs(v)))
				}
				// rounding grows with the square root of the terms summed:
				// 1e-5 up to 64 channels
				if limit := 1e-5 * math.Sqrt(math.Max(1, float64(tc.in[1])/64)); worst > limit {
					t.Fatalf("float32 Winograd (fused %v) differs from float64 im2col by %.2g (relative), limit %.2g", u > 0, worst, limit)
				}
				if fused == nil {
					fused = append([]float32(nil), y32...)
				} else if i := firstDiff(fused, y32); i >= 0 {
					t.Fatalf("output %d: fused %g, staged %g (the same operations: want the same bits)", i, fused[i], y32[i])
				}
			}
		})
	}
}

// firstDiff is the first index where a and b differ, or -1.
func firstDiff(a, b []float32) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// TestGradConvWinograd gradient-checks a network whose convolution runs
// through Winograd in its forward pass.
func TestGradConvWinograd(t *testing.T) {
	lowerWinogradThresholds(t)
	c := &ir.Conv{Rank: 2, Filters: 4, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: ir.Act(ir.ActTanh)}
	probe := convCore[float64]{rank: 2, filters: 4, groups: 1, kernel: []int{3, 3}, padding: ir.PadSame}
	if err := probe.setup([]int{2, 16, 10, 10}); err != nil || !probe.isWinograd() {
		t.Fatalf("the case does not take the Winograd path (%v)", err)
	}
	coreCheckLayer(t, "winograd", []int{16, 10, 10}, c, -1, 1)
}

// lowerWinogradThresholds lets small test convolutions take Winograd.
func lowerWinogradThresholds(t *testing.T) {
	c, cw, n, on := winogradMinC, winogradMinCW, winogradChannelsPerTile, winogradOn
	winogradMinC, winogradMinCW, winogradChannelsPerTile, winogradOn = 1, 0, 1<<20, true
	t.Cleanup(func() { winogradMinC, winogradMinCW, winogradChannelsPerTile, winogradOn = c, cw, n, on })
}

// BenchmarkConvWinograd compares Winograd with im2col on VGG16-like
// layers (batch 8): go test -bench ConvWinograd ./nn
func BenchmarkConvWinograd(b *testing.B) {
	defer func(on bool) { winogradOn = on }(winogradOn)
	winogradOn = true
	for _, s := range [][3]int{{64, 64, 224}, {64, 128, 112}, {64, 64, 56}, {64, 64, 28}, {128, 128, 56}, {128, 128, 28}, {256, 256, 28}, {256, 256, 14}, {128, 128, 112}, {128, 256, 56}, {256, 256, 56}, {256, 512, 28}, {512, 512, 28}, {512, 512, 14}, {512, 512, 7}, {16, 16, 32}} {
		in := []int{8, s[0], s[2], s[2]}
		for _, wino := range []bool{true, false} {
			c := convCore[float32]{rank: 2, filters: s[1], groups: 1, kernel: []int{3, 3}, padding: ir.PadSame, noWinograd: !wino}
			if err := c.setup(in); err != nil {
				b.Fatal(err)
			}
			x := make([]float32, ir.NumElements(in))
			w := make([]float32, s[1]*s[0]*9)
			y := make([]float32, ir.NumElements(c.outShape))
			name := fmt.Sprintf("C%d_K%d_%dx%d/winograd=%v", s[0], s[1], s[2], s[2], c.isWinograd())
			b.Run(name, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					c.forward(x, w, y, nil)
				}
				b.ReportMetric(float64(8*2*s[0]*s[1]*9*s[2]*s[2])*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// TestWinogradTilesSIMDMatchesPortable: the vector input transform does
// the portable loop's operations in its order, so V is bit-identical, for
// runs that are and are not multiples of its 8 tiles.
func TestWinogradTilesSIMDMatchesPortable(t *testing.T) {
	defer func(on bool) { useSIMD = on }(useSIMD)
	rng := rand.New(rand.NewSource(3))
	const tw, per = 37, 50
	var rows [4][]float32
	for r := range rows {
		rows[r] = make([]float32, 2*tw+2)
		for i := range rows[r] {
			rows[r][i] = float32(rng.NormFloat64())
		}
	}
	for _, run := range [][2]int{{0, 37}, {3, 16}, {5, 7}, {20, 17}} {
		tx, n := run[0], run[1]
		var got [2][]float32
		for k, simd := range []bool{false, true} {
			useSIMD = simd
			got[k] = make([]float32, 16*per)
			winogradTiles(&rows, tx, n, got[k], per)
		}
		for i, want := range got[0] {
			if got[1][i] != want || (i%per < n) != (want != 0) {
				t.Fatalf("tiles %d+%d: V[%d][%d] = %g with SIMD, %g without", tx, n, i/per, i%per, got[1][i], want)
			}
		}
	}
}

// TestWinogradFilterSIMDMatchesPortable: the vector filter transform
// writes the packed U[ξ] bit for bit as the portable loop does, for full
// and partial row panels and column slabs.
func TestWinogradFilterSIMDMatchesPortable(t *testing.T) {
	if !cpu.X86.HasAVX512F || !useWinogradFilterAVX512 {
		t.Skip("no AVX-512F: only the portable filter transform runs here")
	}
	defer func(on bool) { useWinogradFilterAVX512 = on }(useWinogradFilterAVX512)
	rng := rand.New(rand.NewSource(6))
	for _, s := range [][2]int{{20, 150}, {14, 3}, {5, 17}, {33, 128}} {
		K, C := s[0], s[1]
		w := make([]float32, K*C*9)
		for i := range w {
			w[i] = float32(rng.NormFloat64())
		}
		const mr, kc = 14, 128
		mpad := (K + mr - 1) / mr * mr
		var got [2][16][]float32
		for k, simd := range []bool{false, true} {
			useWinogradFilterAVX512 = simd
			for xi := range got[k] {
				got[k][xi] = make([]float32, mpad*C)
			}
			winogradFilterPanels(w, C, K, 0, mpad/mr, mr, kc, &got[k])
		}
		for xi := range got[0] {
			for i, want := range got[0][xi] {
				if g := got[1][xi][i]; math.Float32bits(g) != math.Float32bits(want) {
					t.Fatalf("K %d C %d: U[%d][%d] = %g with SIMD, %g without", K, C, xi, i, g, want)
				}
			}
		}
	}
}

// TestWinogradOutputsSIMDMatchesPortable: the vector output transform is
// bit-identical to the portable loop, for even and odd planes, with and
// without the bottom row, and tile counts that are and are not multiples
// of its 8.
func TestWinogradOutputsSIMDMatchesPortable(t *testing.T) {
	defer func(on bool) { useSIMD = on }(useSIMD)
	rng := rand.New(rand.NewSource(4))
	const stride = 40
	m := make([]float32, 16*stride)
	for i := range m {
		m[i] = float32(rng.NormFloat64())
	}
	for _, c := range []struct {
		ow  int
		bot bool
	}{{16, true}, {34, true}, {37, false}, {21, true}, {9, true}, {7, true}} {
		tw := (c.ow + 1) / 2
		var got [2][]float32
		for k, simd := range []bool{false, true} {
			useSIMD = simd
			got[k] = make([]float32, 2*c.ow)
			top, bot := got[k][:c.ow], got[k][c.ow:]
			if !c.bot {
				bot = nil
			}
			winogradOutputs(m, stride, top, bot, tw)
		}
		for i, want := range got[0] {
			if got[1][i] != want || (want == 0) != (!c.bot && i >= c.ow) {
				t.Fatalf("ow %d bottom %v: output [%d] = %g with SIMD, %g without", c.ow, c.bot, i, got[1][i], want)
			}
		}
	}
}

// TestConvWinogradPost: the fused post-processing runs on every output
// plane of a Winograd pass, as on the im2col path's, odd planes included.
// (Running it on each row pair as the output transform writes it, in
// cache, measured no faster on VGG16.)
func TestConvWinogradPost(t *testing.T) {
	lowerWinogradThresholds(t)
	defer func(u int) { winogradFusedU = u }(winogradFusedU)
	in := []int{3, 16, 11, 13}
	rng := rand.New(rand.NewSource(5))
	x := make([]float32, ir.NumElements(in))
	w := make([]float32, 24*16*9)
	for _, v := range [][]float32{x, w} {
		for i := range v {
			v[i] = float32(rng.Float64()*2 - 1)
		}
	}
	// depends on the plane and on the position in it
	post := func(plane int, row []float32) {
		for i, v := range row {
			row[i] = max(0, v*float32(plane%7+1)-0.25+0.01*float32(i%5))
		}
	}
	for _, fusedU := range []int{1 << 20, 0} {
		winogradFusedU = fusedU
		var ys [2][]float32
		for k, wino := range []bool{true, false} {
			c := convCore[float32]{rank: 2, filters: 24, groups: 1, kernel: []int{3, 3}, padding: ir.PadSame, noWinograd: !wino}
			if err := c.setup(in); err != nil {
				t.Fatal(err)
			}
			if c.isWinograd() != wino {
				t.Fatalf("winograd %v: the case takes the other path", wino)
			}
			ys[k] = make([]float32, ir.NumElements(c.outShape))
			c.forward(x, w, ys[k], post)
		}
		for i, want := range ys[1] {
			if d := math.Abs(float64(ys[0][i] - want)); d > 1e-4*(1+math.Abs(float64(want))) {
				t.Fatalf("fused %v: [%d] = %g with Winograd, %g without", fusedU > 0, i, ys[0][i], want)
			}
		}
	}
}
