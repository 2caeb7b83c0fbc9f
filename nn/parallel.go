package nn

import (
	"runtime"
	"sync"
)

// parGrain is the least work (elements touched) worth a goroutine of its own.
const parGrain = 1 << 15

// parallelFor splits [0, n) into at most GOMAXPROCS contiguous ranges and
// runs f on each, concurrently when every range has at least
// grain/perItem items. perItem is the work of one item (elements).
// f must only write state owned by its range.
func parallelFor(n, perItem int, f func(lo, hi int)) {
	if n <= 0 {
		return
	}
	parts := min(runtime.GOMAXPROCS(0), n, n*max(perItem, 1)/parGrain)
	if parts <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for i := 1; i < parts; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(n*i/parts, n*(i+1)/parts)
		}()
	}
	f(0, n/parts)
	wg.Wait()
}
