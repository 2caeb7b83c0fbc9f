package main

import "testing"

// BenchmarkTrainStep is one training step of each workload of `make bench`
// (go test -bench TrainStep -benchmem ./bench/speed): allocs/op is what a
// steady-state step allocates.
func BenchmarkTrainStep(b *testing.B) {
	for _, name := range []string{"head", "cnn", "resblock", "lstm"} {
		b.Run(name, func(b *testing.B) {
			step, err := trainStep(name)
			if err != nil {
				b.Fatal(err)
			}
			if err := step(); err != nil { // first step allocates the buffers
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := step(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestWorkloadsBuild(t *testing.T) {
	for _, name := range []string{"head", "cnn", "resblock", "lstm"} {
		if _, err := trainStep(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := trainStep("nope"); err == nil {
		t.Error("unknown workload accepted")
	}
}
