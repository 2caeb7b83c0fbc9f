package main

import (
	"fmt"
	"runtime"
	"testing"
)

// TestTrainStepAllocs: after the first steps have made the buffers, a
// training step of the cnn, resblock, lstm and head workloads allocates
// nothing (it was 28 to 81 allocations per step, lstm 4). What is left is
// the runtime's own: a WaitGroup waiter record (a sudog, 112 bytes) when
// its cache runs dry, so that size class is not counted, and now and then
// some GC or timer bookkeeping, which a second window does not repeat.
func TestTrainStepAllocs(t *testing.T) {
	names := []string{"cnn", "resblock", "lstm", "head"}
	if testing.Short() {
		names = names[:3] // head's setup initialises 107M parameters
	}
	for _, name := range names {
		step, err := trainStep(name)
		if err != nil {
			t.Fatal(err)
		}
		// the first steps make the buffers; the collection empties the
		// runtime's caches, which the next step refills
		for i := range 3 {
			if i == 2 {
				runtime.GC()
			}
			if err := step(); err != nil {
				t.Fatal(err)
			}
		}
		steps := 8
		if name == "head" {
			steps = 3
		}
		// a step that allocates does so in every window; the runtime's own
		// rare allocations (GC work, timers) do not, so three tries
		var bad []string
		for range 3 {
			if bad = windowAllocs(step, steps); bad == nil {
				break
			}
		}
		for _, b := range bad {
			t.Errorf("%s: %s in %d steps, want none", name, b, steps)
		}
	}
}

// windowAllocs runs step steps times and describes the allocations made,
// but for the 112-byte class (the runtime's WaitGroup waiter records).
func windowAllocs(step func() error, steps int) []string {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range steps {
		if err := step(); err != nil {
			return []string{err.Error()}
		}
	}
	runtime.ReadMemStats(&after)
	var bad []string
	small := uint64(0)
	for i, c := range after.BySize {
		n := c.Mallocs - before.BySize[i].Mallocs
		small += n
		if n > 0 && c.Size != 112 {
			bad = append(bad, fmt.Sprintf("%d allocations of %d bytes", n, c.Size))
		}
	}
	if n := after.Mallocs - before.Mallocs - small; n > 0 {
		bad = append(bad, fmt.Sprintf("%d allocations over 32 kB", n))
	}
	return bad
}
