package main

import (
	"runtime"
	"testing"
)

// TestTrainStepAllocs: after the first steps have made the buffers, a
// training step of the cnn, resblock and head workloads allocates nothing
// of ours. The runtime may still allocate a waiter record for a WaitGroup
// now and then (its cache is emptied by collections), so the bar is fewer
// allocations than steps: allocs/op 0, where it was 28 to 81 per step.
func TestTrainStepAllocs(t *testing.T) {
	names := []string{"cnn", "resblock", "head"}
	if testing.Short() {
		names = names[:2] // head's setup initialises 107M parameters
	}
	for _, name := range names {
		step, err := trainStep(name)
		if err != nil {
			t.Fatal(err)
		}
		// the first steps make the buffers; the collection empties the
		// runtime's own caches (WaitGroup waiters), which the next step refills
		for i := range 3 {
			if i == 2 {
				runtime.GC()
			}
			if err := step(); err != nil {
				t.Fatal(err)
			}
		}
		steps := uint64(8)
		if name == "head" {
			steps = 3
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range steps {
			if err := step(); err != nil {
				t.Fatal(err)
			}
		}
		runtime.ReadMemStats(&after)
		if n := after.Mallocs - before.Mallocs; n >= steps {
			t.Errorf("%s: %d allocations in %d steps (%d bytes), want 0 per step", name, n, steps, after.TotalAlloc-before.TotalAlloc)
		} else if n > 0 {
			t.Logf("%s: %d allocations in %d steps (%d bytes)", name, n, steps, after.TotalAlloc-before.TotalAlloc)
		}
	}
}
