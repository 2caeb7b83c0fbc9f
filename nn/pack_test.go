package nn

import (
	"fmt"
	"math/rand"
	"testing"
)

// BenchmarkPackA packs a convolution's weights (row-major, the gather case)
// into 14-row panels, with and without the AVX-512 transposes:
// go test -run XXX -bench PackA ./nn
func BenchmarkPackA(b *testing.B) {
	m, k := 256, 2304 // ResNet50's layer3 3×3 convolution
	a := make([]float32, m*k)
	mpad := (m + 13) / 14 * 14
	d := make([]float32, mpad*k)
	for _, transpose := range []bool{false, true} {
		b.Run(fmt.Sprintf("transpose=%v", transpose), func(b *testing.B) {
			defer func(v bool) { useTransposeAVX512 = v }(useTransposeAVX512)
			useTransposeAVX512 = useTransposeAVX512 && transpose
			for range b.N {
				for pc := 0; pc < k; pc += 256 {
					packA(d[pc*mpad:], a, k, false, 1, 0, m, pc, min(256, k-pc), 14)
				}
			}
			b.ReportMetric(float64(m*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gfloats/s")
		})
	}
}

// TestPackBTAtTransposes compares packBTAt with the AVX-512 transposes
// (where the CPU has them) against the portable loop: any column count up
// to the panel width, rows not a multiple of 16, scattered offsets.
func TestPackBTAtTransposes(t *testing.T) {
	if !useTransposeAVX512 {
		t.Skip("no AVX-512: packBTAt has only the portable loop")
	}
	rng := rand.New(rand.NewSource(3))
	b := make([]float32, 5000)
	for i := range b {
		b[i] = float32(i)
	}
	for _, nr := range []int{6, 14, 16, 32, 64} {
		for cols := 1; cols <= nr; cols += 1 + cols/5 {
			for _, kb := range []int{1, 15, 16, 17, 47, 128} {
				off := make([]int, cols)
				for c := range off {
					off[c] = rng.Intn(len(b) - kb)
				}
				got, want := make([]float32, kb*nr), make([]float32, kb*nr)
				for i := range got {
					got[i], want[i] = -1, -1
				}
				packBTAt(got, b, off, kb, nr)
				func() {
					defer func(v bool) { useTransposeAVX512 = v }(useTransposeAVX512)
					useTransposeAVX512 = false
					packBTAt(want, b, off, kb, nr)
				}()
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("nr %d cols %d kb %d: d[%d] = %v, want %v", nr, cols, kb, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// TestTakeFitting: the least buffer that holds the request, else the
// largest, else a new one; values of another type are passed over.
func TestTakeFitting(t *testing.T) {
	l := newFreeList()
	for _, n := range []int{10, 1000, 100} {
		b := make([]float32, n)
		l.put(&b)
	}
	l.put(new(int))
	for _, c := range []struct{ n, want int }{{50, 100}, {5000, 1000}, {5, 10}, {1, 0}} {
		if got := cap(*takeFitting[float32](l, c.n)); got != c.want {
			t.Fatalf("takeFitting(%d): capacity %d, want %d", c.n, got, c.want)
		}
	}
}
