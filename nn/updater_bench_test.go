package nn

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// BenchmarkUpdate runs one updater step over the head's first dense layer
// (25088×4096 weights), on one thread and on all.
func BenchmarkUpdate(b *testing.B) {
	const n = 25088 * 4096
	w, g, s1, s2 := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range w {
		w[i], g[i] = float32(i%97)*1e-3, float32(i%89)*1e-4-4e-3
	}
	for _, upd := range []ir.Updater{ir.UpdNesterov, ir.UpdAdam} {
		c := withDefaults(&ir.TrainConfig{Updater: upd})
		for _, threads := range []int{1, runtime.GOMAXPROCS(0)} {
			b.Run(fmt.Sprintf("%s/threads=%d", upd, threads), func(b *testing.B) {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
				u := &paramUpdate[float32]{c: c, lr: c.LearningRate, normScale: 1, alpha: 1e-3, plain: true, w: w, g: g, s1: s1, s2: s2}
				b.SetBytes(n * 4)
				for range b.N {
					parallelRange(n, 8, u)
				}
			})
		}
	}
}
