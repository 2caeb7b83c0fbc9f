package nn

import (
	"runtime"
	"sync"
)

// One pool of long-lived goroutines runs the parts of every parallel kernel
// (GEMM tiles, packing): starting goroutines per call allocated their
// closures and stacks on every product, and a training step runs hundreds.

// parter is work split into parts 0..n-1 that may run concurrently.
type parter interface{ runPart(i int) }

type workReq struct {
	t  parter
	i  int
	wg *sync.WaitGroup
}

var (
	workOnce sync.Once
	workCh   chan workReq
)

func startWorkers() {
	workCh = make(chan workReq)
	for range max(runtime.GOMAXPROCS(0), 2) - 1 {
		go func() {
			for r := range workCh {
				r.t.runPart(r.i)
				r.wg.Done()
			}
		}()
	}
}

// runParts runs t's parts 0..n-1, part 0 on the calling goroutine, the
// others on the pool's goroutines (or here when none is free), and returns
// when all are done. wg must outlive the call (callers keep it in t).
func runParts(t parter, n int, wg *sync.WaitGroup) {
	if n <= 1 {
		if n == 1 {
			t.runPart(0)
		}
		return
	}
	workOnce.Do(startWorkers)
	wg.Add(n - 1)
	for i := 1; i < n; i++ {
		select {
		case workCh <- workReq{t, i, wg}:
		default: // every worker busy (nested or concurrent calls): run it here
			t.runPart(i)
			wg.Done()
		}
	}
	t.runPart(0)
	wg.Wait()
}
