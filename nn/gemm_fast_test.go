package nn

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/cpu"
)

// gemmCase is one product with its strides; pad is the extra leading
// dimension beyond the stored columns.
type gemmCase struct {
	ta, tb      bool
	m, n, k     int
	pad         int
	alpha, beta float32
}

// checkSgemm runs one case through kern with the given goroutine count and
// compares every element of C (and the untouched padding) with a float64
// triple loop.
func checkSgemm(t *testing.T, rng *rand.Rand, kern sgemmMicro, threads int, tc gemmCase) {
	t.Helper()
	ar, ac := tc.m, tc.k
	if tc.ta {
		ar, ac = tc.k, tc.m
	}
	br, bc := tc.k, tc.n
	if tc.tb {
		br, bc = tc.n, tc.k
	}
	lda, ldb, ldc := ac+tc.pad, bc+tc.pad, max(tc.n+tc.pad, 1)
	fill := func(rows, cols, ld int) []float32 {
		s := make([]float32, max(0, (rows-1)*ld+cols))
		for i := range s {
			s[i] = float32(rng.Float64()*2 - 1)
		}
		return s
	}
	a, b, c := fill(ar, ac, max(lda, 1)), fill(br, bc, max(ldb, 1)), fill(tc.m, tc.n, ldc)
	if tc.beta == 0 {
		for i := range c {
			if i%3 == 0 {
				c[i] = float32(math.NaN())
			}
		}
	}
	c0 := append([]float32(nil), c...)
	opA := func(i, p int) float64 {
		if tc.ta {
			return float64(a[p*lda+i])
		}
		return float64(a[i*lda+p])
	}
	opB := func(p, j int) float64 {
		if tc.tb {
			return float64(b[j*ldb+p])
		}
		return float64(b[p*ldb+j])
	}
	sgemmFast(kern, threads, tc.ta, tc.tb, tc.m, tc.n, tc.k, tc.alpha, a, max(lda, 1), b, max(ldb, 1), tc.beta, c, ldc)
	for i := 0; i < tc.m; i++ {
		for j := 0; j < ldc; j++ {
			at := i*ldc + j
			if at >= len(c) {
				break
			}
			if j >= tc.n { // padding must be untouched
				if math.Float32bits(c[at]) != math.Float32bits(c0[at]) {
					t.Fatalf("%+v: padding C[%d,%d] changed", tc, i, j)
				}
				continue
			}
			var s, mag float64
			for p := 0; p < tc.k; p++ {
				s += opA(i, p) * opB(p, j)
				mag += math.Abs(opA(i, p) * opB(p, j))
			}
			want := float64(tc.alpha) * s
			mag *= math.Abs(float64(tc.alpha))
			if tc.beta != 0 {
				want += float64(tc.beta) * float64(c0[at])
				mag += math.Abs(float64(tc.beta) * float64(c0[at]))
			}
			tol := float64(tc.k+4)*1.2e-7*mag + 1e-30
			if got := float64(c[at]); !(math.Abs(got-want) <= tol) {
				t.Fatalf("%s threads=%d %+v: C[%d,%d] = %g, want %g (tol %g)", kern.name, threads, tc, i, j, got, want, tol)
			}
		}
	}
}

// TestSgemmFastEdges covers every transpose pair, alpha/beta kinds and small
// edge sizes (1, odd, primes, just past the micro-tiles) on each kernel.
func TestSgemmFastEdges(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	sizes := []int{1, 2, 3, 5, 6, 7, 13, 14, 15, 16, 17, 23, 29, 32, 33, 45}
	scalars := [][2]float32{{1, 0}, {1, 1}, {-0.5, 2.5}, {0.75, 0}}
	for _, kern := range sgemmKernels() {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for it := 0; it < 60; it++ {
					s := scalars[it%len(scalars)]
					tc := gemmCase{ta: ta, tb: tb, m: sizes[rng.Intn(len(sizes))], n: sizes[rng.Intn(len(sizes))],
						k: sizes[rng.Intn(len(sizes))], pad: rng.Intn(3), alpha: s[0], beta: s[1]}
					checkSgemm(t, rng, kern, 1+it%3, tc)
				}
			}
		}
	}
}

// TestSgemmFastPanelRemainders runs every count of rows a last, partial A
// panel can have (the AVX-512 kernels for the first 1 … 13 rows of a panel,
// the tile copy of the others) over full and partial column panels, with C
// overwritten and accumulated.
func TestSgemmFastPanelRemainders(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	for _, kern := range sgemmKernels() {
		for r := 1; r < kern.mr; r++ {
			for _, beta := range []float32{0, 1} {
				checkSgemm(t, rng, kern, 1+r%2, gemmCase{m: kern.mr + r, n: 2*kern.nr + 5, k: 37, pad: 1, alpha: 1, beta: beta})
			}
		}
	}
}

// TestSgemmFastBlocks crosses the kc, mc and nc block edges and the
// goroutine splits.
func TestSgemmFastBlocks(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	cases := []gemmCase{
		{m: 150, n: 70, k: 300, alpha: 1},
		{m: 301, n: 33, k: 257, pad: 5, alpha: 0.5, beta: -1, ta: true},
		{m: 97, n: 131, k: 521, pad: 1, alpha: 1, beta: 1, tb: true},
		{m: 289, n: 61, k: 64, alpha: 2, ta: true, tb: true},
		{m: 7, n: sgemmNC + 13, k: 5, pad: 3, alpha: 1, beta: 0.5},
		{m: 4, n: sgemmNC + 40, k: 3, alpha: -1, tb: true},
		{m: 1, n: 523, k: 263, alpha: 1},
		{m: 523, n: 1, k: 263, alpha: 1, ta: true},
	}
	if testing.Short() {
		cases = cases[:5]
	}
	for _, kern := range sgemmKernels() {
		for i, tc := range cases {
			for _, th := range []int{1, 2, 5} {
				t.Run(fmt.Sprintf("%s/%d/threads%d", kern.name, i, th), func(t *testing.T) {
					checkSgemm(t, rng, kern, th, tc)
				})
			}
		}
	}
}

// TestSgemmFastStreamedB: a B large enough to be read in place in sweeps of
// sgemmInPlaceSub rows (one goroutine, k·n over sgemmStreamB), with partial
// row and column panels, kc blocks and sweeps.
func TestSgemmFastStreamedB(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for _, kern := range sgemmKernels() {
		for _, tc := range []gemmCase{
			{m: 10, n: 1100, k: 1000, alpha: 1},
			{m: 19, n: 1061, k: 1001, pad: 2, alpha: 0.5, beta: 1},
		} {
			if tc.n*tc.k <= sgemmStreamB {
				t.Fatalf("%+v: B too small to stream", tc)
			}
			checkSgemm(t, rng, kern, 1, tc)
		}
		// one or two rows of A: B split by columns between goroutines
		for _, tc := range []gemmCase{
			{m: 1, n: 1100, k: 1000, alpha: 1},
			{m: 2, n: 1030, k: 1020, pad: 1, alpha: -0.5, beta: 1, tb: true},
			{m: 2, n: 1030, k: 1020, alpha: 1, ta: true},
		} {
			if tc.n*tc.k < sgemmSmallSplit {
				t.Fatalf("%+v: B too small to split", tc)
			}
			checkSgemm(t, rng, kern, 3, tc)
		}
	}
}

// TestSgemmFastDegenerate checks k = 0 and alpha = 0 (C is only scaled, and
// beta 0 clears NaNs) and the m = 0 or n = 0 no-ops.
func TestSgemmFastDegenerate(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, tc := range []gemmCase{
		{m: 5, n: 4, k: 0, alpha: 1, beta: 0},
		{m: 5, n: 4, k: 0, alpha: 1, beta: 3},
		{m: 5, n: 4, k: 9, alpha: 0, beta: 0, pad: 2},
		{m: 5, n: 4, k: 9, alpha: 0, beta: -2},
		{m: 0, n: 4, k: 3, alpha: 1},
		{m: 3, n: 0, k: 3, alpha: 1, ta: true},
	} {
		checkSgemm(t, rng, sgemmKernel, 2, tc)
	}
}

func TestSgemmFastBadArgsPanic(t *testing.T) {
	for i, f := range []func(){
		func() {
			sgemmFast(sgemmKernel, 1, false, false, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
		},
		func() {
			sgemmFast(sgemmKernel, 1, false, false, 2, 2, 2, 1, make([]float32, 4), 1, make([]float32, 4), 2, 0, make([]float32, 4), 2)
		},
		func() {
			sgemmFast(sgemmKernel, 1, false, true, 2, 3, 2, 1, make([]float32, 4), 2, make([]float32, 6), 2, 0, make([]float32, 5), 3)
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("case %d: no panic", i)
				}
			}()
			f()
		}()
	}
}

// TestSgemmFastMatchesGonum runs the engine-facing backend against the old
// gonum one on a conv-shaped product.
func TestSgemmFastMatchesGonum(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	// 64 rows pack B; 33 and 56 read it in place (several row panels, a
	// partial last one); B's rows are wider than n in the strided cases
	for _, s := range []struct{ m, n, k, ldb int }{{64, 300, 144, 300}, {33, 300, 144, 300}, {56, 97, 600, 130}, {20, 64, 300, 70}} {
		a, b := make([]float32, s.m*s.k), make([]float32, s.k*s.ldb)
		for i := range a {
			a[i] = float32(rng.NormFloat64())
		}
		for i := range b {
			b[i] = float32(rng.NormFloat64())
		}
		for _, beta := range []float32{0, 1} {
			c1, c2 := make([]float32, s.m*s.n), make([]float32, s.m*s.n)
			for i := range c1 {
				c1[i] = float32(i % 7)
				c2[i] = c1[i]
			}
			fastGemm32{}.Gemm(false, false, s.m, s.n, s.k, 1, a, s.k, b, s.ldb, beta, c1, s.n)
			gonumGemm32{}.Gemm(false, false, s.m, s.n, s.k, 1, a, s.k, b, s.ldb, beta, c2, s.n)
			for i := range c1 {
				if d := math.Abs(float64(c1[i] - c2[i])); !(d <= 1e-4*(1+math.Abs(float64(c2[i])))) {
					t.Fatalf("%+v beta %v element %d: fast %g, gonum %g", s, beta, i, c1[i], c2[i])
				}
			}
		}
	}
}

// TestGemmKernelSwitch runs a product through every public tier (the one
// chosen at start-up first) and compares it with a float64 reference within
// 1e-4.
func TestGemmKernelSwitch(t *testing.T) {
	start := GemmKernel()
	defer func() {
		if err := SetGemmKernel(start); err != nil {
			t.Fatal(err)
		}
	}()
	names := GemmKernels()
	if names[len(names)-1] != "gonum" || names[len(names)-2] != "go" {
		t.Fatalf("GemmKernels() = %v, want the portable tiers last", names)
	}
	if cpu.X86.HasAVX512F && names[0] != "avx512" {
		t.Errorf("AVX-512 CPU, but the first kernel is %s", names[0])
	}
	if err := SetGemmKernel("vnni-bogus"); err == nil || !strings.Contains(err.Error(), "available:") {
		t.Errorf("unknown kernel: err = %v", err)
	}
	rng := rand.New(rand.NewSource(5))
	m, n, k := 45, 77, 300
	a, b := make([]float32, m*k), make([]float32, k*n)
	for i := range a {
		a[i] = float32(rng.NormFloat64())
	}
	for i := range b {
		b[i] = float32(rng.NormFloat64())
	}
	for _, name := range names {
		if err := SetGemmKernel(name); err != nil {
			t.Fatal(err)
		}
		if got := GemmKernel(); got != name {
			t.Fatalf("GemmKernel() = %s after SetGemmKernel(%s)", got, name)
		}
		c := make([]float32, m*n)
		gemm(false, false, m, n, k, float32(1), a, k, b, n, 0, c, n)
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var want float64
				for p := 0; p < k; p++ {
					want += float64(a[i*k+p]) * float64(b[p*n+j])
				}
				if d := math.Abs(float64(c[i*n+j]) - want); d > 1e-4*(1+math.Abs(want)) {
					t.Fatalf("%s: C[%d,%d] = %g, want %g", name, i, j, c[i*n+j], want)
				}
			}
		}
	}
}

// TestGemmKernelEnv runs this test binary again with RETARGET_GEMM set to
// each tier (and to an unknown name, which keeps the best one).
func TestGemmKernelEnv(t *testing.T) {
	if os.Getenv("RETARGET_GEMM_CHILD") != "" {
		fmt.Printf("kernel=%s\n", GemmKernel())
		return
	}
	for _, name := range append(GemmKernels(), "no-such") {
		want := name
		if name == "no-such" {
			want = GemmKernels()[0]
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestGemmKernelEnv$")
		cmd.Env = append(os.Environ(), "RETARGET_GEMM_CHILD=1", GemmKernelEnv+"="+name)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		if !strings.Contains(string(out), "kernel="+want+"\n") {
			t.Errorf("RETARGET_GEMM=%s: child said %q, want kernel=%s", name, out, want)
		}
	}
}

// TestPackedA multiplies one packed left operand by several right operands
// (transposed or not, beta 0 and 1) on every tier and for float64, against
// plain gemm within 1e-4.
func TestPackedA(t *testing.T) {
	start := GemmKernel()
	defer func() { _ = SetGemmKernel(start) }()
	rng := rand.New(rand.NewSource(6))
	randSlice := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.NormFloat64())
		}
		return s
	}
	for _, name := range GemmKernels() {
		if err := SetGemmKernel(name); err != nil {
			t.Fatal(err)
		}
		for _, ta := range []bool{false, true} {
			m, k := 37, 300
			a := randSlice(m * k)
			lda := k
			if ta {
				lda = m
			}
			var p packedA[float32]
			p.pack(ta, m, k, 0.5, a, lda)
			for i, n := range []int{1, 33, 5000} {
				tb, beta := i%2 == 1, float32(i%2)
				b, c := randSlice(n*k), randSlice(m*n)
				ldb := n
				if tb {
					ldb = k
				}
				want := append([]float32(nil), c...)
				gonumGemm32{}.Gemm(ta, tb, m, n, k, 0.5, a, lda, b, ldb, beta, want, n)
				p.mul(tb, n, b, ldb, beta, c, n)
				for x := range c {
					if d := math.Abs(float64(c[x] - want[x])); d > 1e-4*(1+math.Abs(float64(want[x]))) {
						t.Fatalf("%s ta=%v n=%d: C[%d] = %g, want %g", name, ta, n, x, c[x], want[x])
					}
				}
			}
			p.release()
		}
	}
	var p64 packedA[float64]
	a := []float64{1, 2, 3, 4, 5, 6} // 3×2
	p64.pack(false, 3, 2, 1, a, 2)
	c := make([]float64, 3)
	p64.mul(false, 1, []float64{1, 1}, 1, 0, c, 1)
	if c[0] != 3 || c[1] != 7 || c[2] != 11 {
		t.Fatalf("float64: %v", c)
	}
}
