package layout

import (
	"slices"
	"testing"
)

func TestTransposeMatchesIndexing(t *testing.T) {
	shape := []int{2, 3, 4}
	data := make([]float32, 24)
	for i := range data {
		data[i] = float32(i)
	}
	perm := []int{2, 0, 1}
	got, gs := Transpose(data, shape, perm)
	if !slices.Equal(gs, []int{4, 2, 3}) {
		t.Fatalf("shape %v", gs)
	}
	for a := 0; a < 2; a++ {
		for b := 0; b < 3; b++ {
			for c := 0; c < 4; c++ {
				want := data[a*12+b*4+c]
				if g := got[c*6+a*3+b]; g != want {
					t.Fatalf("out[%d,%d,%d] = %v, want %v", c, a, b, g, want)
				}
			}
		}
	}
}

func TestPermsAreInverse(t *testing.T) {
	for r := 1; r <= 5; r++ {
		shape := []int{2, 3, 4, 5, 6}[:r]
		data := make([]float32, 720)[:prod(shape)]
		for i := range data {
			data[i] = float32(i)
		}
		cl, cls := Transpose(data, shape, CLPerm(r))
		if !slices.Equal(cls, CLShape(shape)) {
			t.Fatalf("rank %d: CLPerm gives %v, CLShape %v", r, cls, CLShape(shape))
		}
		back, bs := Transpose(cl, cls, CFPerm(r))
		if !slices.Equal(bs, shape) || !slices.Equal(back, data) {
			t.Fatalf("rank %d: CFPerm does not undo CLPerm", r)
		}
	}
}

func TestFlatRowPermMatchesCLTranspose(t *testing.T) {
	pre := []int{3, 2, 4}
	data := make([]float32, prod(pre))
	for i := range data {
		data[i] = float32(i)
	}
	cl, _ := Transpose(data, pre, CLPerm(len(pre)))
	for i, r := range FlatRowPerm(pre) {
		if cl[r] != data[i] {
			t.Fatalf("position %d goes to %d, which holds %v, want %v", i, r, cl[r], data[i])
		}
	}
}

func TestKerasAxis(t *testing.T) {
	cases := []struct {
		rank, ax int
		cl       bool
		want     int
	}{
		{3, 0, false, 1}, {3, 2, false, 3}, {3, -1, false, 3},
		{3, 0, true, 3}, {3, 1, true, 1}, {3, -1, true, 2}, {1, 0, true, 1},
	}
	for _, c := range cases {
		if got := KerasAxis(c.rank, c.ax, c.cl); got != c.want {
			t.Errorf("KerasAxis(%d, %d, %v) = %d, want %d", c.rank, c.ax, c.cl, got, c.want)
		}
	}
}

func prod(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}
