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
	t        ranger
	n, parts int
	wg       partsWait
}

func (j *forJob) runPart(i int) {
	lo, hi := j.n*i/j.parts, j.n*(i+1)/j.parts
	if j.t != nil {
		j.t.runRange(lo, hi)
		return
	}
	j.f(lo, hi)
}

// ranger is a parallelFor body kept in a long-lived struct (an op's field):
// a closure handed to the workers escapes and costs an allocation per call,
// a pointer already on the heap does not.
type ranger interface{ runRange(lo, hi int) }

var forJobs = newFreeList()

// clearRange is a parallelRange body that zeroes d.
type clearRange[F Float] struct{ d []F }

func (c *clearRange[F]) runRange(lo, hi int) { clear(c.d[lo:hi]) }

// parallelFor splits [0, n) into at most GOMAXPROCS contiguous ranges and
// runs f on each, concurrently when every range has at least
// grain/perItem items. perItem is the work of one item (elements).
// f must only write state owned by its range.
func parallelFor(n, perItem int, f func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if parts := forParts(n, perItem); parts > 1 {
		runFor(n, parts, f, nil)
		return
	}
	f(0, n)
}

// parallelRange is parallelFor with t.runRange as the body; it allocates
// nothing when t points to a struct that outlives the call.
func parallelRange(n, perItem int, t ranger) {
	if n <= 0 {
		return
	}
	if parts := forParts(n, perItem); parts > 1 {
		runFor(n, parts, nil, t)
		return
	}
	t.runRange(0, n)
}

func forParts(n, perItem int) int {
	return min(runtime.GOMAXPROCS(0), n, n*max(perItem, 1)/parGrain)
}

func runFor(n, parts int, f func(lo, hi int), t ranger) {
	j := takeFree[forJob](forJobs)
	j.f, j.t, j.n, j.parts = f, t, n, parts
	runParts(j, parts, &j.wg)
	j.f, j.t = nil, nil
	forJobs.put(j)
}

// freeList keeps released values for reuse. Unlike a sync.Pool the GC does
// not empty it and giving a value back does not allocate, so a steady state
// (a training step after the first) allocates nothing. It is a stack: a
// sequence of calls reuses the same values (buffers grown to the largest
// request stay with it). It holds at most freeCap values (more are
// dropped); one list may serve several types (the instantiations of a
// generic task): a value of another type is dropped.
type freeList struct {
	mu sync.Mutex
	s  []any
}

const freeCap = 32

func newFreeList() *freeList { return &freeList{s: make([]any, 0, freeCap)} }

// takeFree returns a kept *T, or a new one.
func takeFree[T any](l *freeList) *T {
	l.mu.Lock()
	var x any
	if n := len(l.s); n > 0 {
		x, l.s[n-1] = l.s[n-1], nil
		l.s = l.s[:n-1]
	}
	l.mu.Unlock()
	if t, ok := x.(*T); ok {
		return t
	}
	return new(T)
}

// takeFitting returns the kept buffer of the least capacity that holds n
// values, else the largest (to be grown), else a new one: buffers of many
// sizes (a Winograd layer's 16 packed filter sets beside whole packed
// weight matrices) then keep their sizes instead of all growing toward the
// largest, as the stack order of takeFree would make them.
func takeFitting[T any](l *freeList, n int) *[]T {
	l.mu.Lock()
	best, bc := -1, 0
	for i, x := range l.s {
		if b, ok := x.(*[]T); ok && (best < 0 || fitsBetter(cap(*b), bc, n)) {
			best, bc = i, cap(*b)
		}
	}
	var x any
	if best >= 0 {
		x = swapRemove(&l.s, best)
	}
	l.mu.Unlock()
	if b, ok := x.(*[]T); ok {
		return b
	}
	return new([]T)
}

// fitsBetter reports whether a buffer of capacity c serves a request for n
// values better than one of capacity best: it holds them and best does not
// or is larger, or neither holds them and c is larger (less to grow).
func fitsBetter(c, best, n int) bool {
	if c >= n {
		return best < n || c < best
	}
	return best < n && c > best
}

// swapRemove takes element i out of *s, moving the last into its place.
func swapRemove[E any](s *[]E, i int) E {
	var zero E
	x, last := (*s)[i], len(*s)-1
	(*s)[i], (*s)[last] = (*s)[last], zero
	*s = (*s)[:last]
	return x
}

func (l *freeList) put(x any) {
	l.mu.Lock()
	if len(l.s) < cap(l.s) {
		l.s = append(l.s, x)
	}
	l.mu.Unlock()
}
