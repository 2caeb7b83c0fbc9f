package keras

import (
	"math/rand"
	"slices"
	"testing"
)

// TestTakeWeight: the first tensor of a weight holds its storage, rows
// moved in place; later ones (a shared layer's other vertices) are copies
// in the row order each asks for (as stored without a row length too),
// whatever order the first took.
func TestTakeWeight(t *testing.T) {
	const rows, rowLen = 5, 3
	orig := make([]float32, rows*rowLen)
	for i := range orig {
		orig[i] = float32(i)
	}
	gather := func(perm []int) []float32 {
		if perm == nil {
			return orig
		}
		d := make([]float32, 0, len(orig))
		for _, r := range perm {
			d = append(d, orig[r*rowLen:(r+1)*rowLen]...)
		}
		return d
	}
	p1, p2 := []int{2, 0, 4, 1, 3}, []int{1, 2, 3, 4, 0}
	for _, first := range [][]int{nil, p1} {
		b := newBuilder(nil)
		w := &kWeight{shape: []int{rows, rowLen}, data: slices.Clone(orig)}
		t0 := b.takeWeight(w, first, rowLen)
		if &t0.Data[0] != &w.data[0] || !slices.Equal(t0.Data, gather(first)) {
			t.Fatalf("first take (perm %v): %v, shared %v", first, t0.Data, &t0.Data[0] == &w.data[0])
		}
		for _, perm := range [][]int{first, nil, p2, p1} {
			tk := b.takeWeight(w, perm, rowLen)
			if &tk.Data[0] == &w.data[0] || !slices.Equal(tk.Data, gather(perm)) {
				t.Fatalf("after %v, take with %v: %v", first, perm, tk.Data)
			}
		}
		if tk := b.takeWeight(w, nil, 0); !slices.Equal(tk.Data, orig) { // as tensorOf takes it
			t.Fatalf("after %v, take as stored: %v", first, tk.Data)
		}
		if !slices.Equal(t0.Data, gather(first)) {
			t.Fatalf("the first tensor changed: %v", t0.Data)
		}
	}
}

// TestPermuteRows against a gather into a second matrix, on random
// permutations (cycles of every length) and the identity.
func TestPermuteRows(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, n := range []int{1, 2, 7, 100} {
		for _, perm := range [][]int{rng.Perm(n), rng.Perm(n)} {
			data := make([]float32, n*4)
			for i := range data {
				data[i] = float32(i)
			}
			want := make([]float32, 0, len(data))
			for _, r := range perm {
				want = append(want, data[r*4:(r+1)*4]...)
			}
			permuteRows(data, perm, 4)
			if !slices.Equal(data, want) {
				t.Fatalf("perm %v: %v, want %v", perm, data, want)
			}
		}
	}
}
