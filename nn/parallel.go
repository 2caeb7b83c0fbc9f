package nn

import (
	"runtime"
	"sync"
)

// parGrain is the least work (elements touched) worth a goroutine of its own.
const parGrain = 1 << 15

// forJob is one parallelFor call, run by the shared workers (workers.go).
type forJob struct {
	f        func(lo, hi int)
	n, parts int
	wg       sync.WaitGroup
}

func (j *forJob) runPart(i int) { j.f(j.n*i/j.parts, j.n*(i+1)/j.parts) }

var forJobs = sync.Pool{New: func() any { return new(forJob) }}

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
	j := forJobs.Get().(*forJob)
	j.f, j.n, j.parts = f, n, parts
	runParts(j, parts, &j.wg)
	j.f = nil
	forJobs.Put(j)
}
