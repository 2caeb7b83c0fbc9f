package hugemem

import "testing"

// TestMake: below and above Min, Make gives a zeroed slice of the length
// asked that takes writes everywhere (the advice covers only whole 2 MiB
// pages inside it, never memory outside).
func TestMake(t *testing.T) {
	for _, n := range []int{0, 1, Min/4 - 1, Min/4 + 12345} {
		s := Make[float32](n)
		if len(s) != n {
			t.Fatalf("len %d, want %d", len(s), n)
		}
		for i := range s {
			if s[i] != 0 {
				t.Fatalf("n=%d: element %d is %v", n, i, s[i])
			}
			s[i] = float32(i)
		}
		for i := range s {
			if s[i] != float32(i) {
				t.Fatalf("n=%d: element %d reads %v", n, i, s[i])
			}
		}
	}
}
