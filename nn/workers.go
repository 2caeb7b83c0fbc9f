package nn

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// One pool of long-lived goroutines runs the parts of every parallel kernel
// (GEMM tiles, packing): starting goroutines per call allocated their
// closures and stacks on every product, and a training step runs hundreds.
//
// A worker that finished a part spins a while (workSpin) for the next one
// before it blocks, and runParts spins on its parts before it blocks:
// waking a blocked thread on an idle CPU costs tens of microseconds here (an
// inter-processor interrupt through the hypervisor), as long as a small
// GEMM — a 64×784×576 product was 1.2× faster on 2 threads than on 1 with
// blocking hand-offs, a training step of a small CNN no faster at all.

// parter is work split into parts 0..n-1 that may run concurrently.
type parter interface{ runPart(i int) }

// partsWait is what a runParts call waits on; callers keep one in the
// struct that runs the parts, so that a call allocates nothing.
type partsWait struct {
	left atomic.Int32   // parts handed out and not finished
	wg   sync.WaitGroup // the same count, for blocking once spinning gave up
}

func (w *partsWait) done() {
	w.left.Add(-1)
	w.wg.Done()
}

// worker states
const (
	workerBusy     = iota // running a part (or starting)
	workerSpinning        // waiting for a part, spinning
	workerParked          // waiting for a part, blocked on wake
	workerClaimed         // a runParts is writing its part into the worker
	workerHanded          // the part is written
)

type worker struct {
	state atomic.Int32
	t     parter
	i     int
	w     *partsWait
	wake  chan struct{}
}

// workSpin is how long a worker or a runParts spins before blocking: a
// training step's parallel regions follow each other closer than that, an
// idle process stops spinning soon.
const workSpin = 200 * time.Microsecond

var (
	workOnce sync.Once
	workers  []*worker
	spinning bool // GOMAXPROCS > 1 at start-up: with one thread a spinner would hold the only one
)

func startWorkers() {
	spinning = runtime.GOMAXPROCS(0) > 1
	for range max(runtime.GOMAXPROCS(0), 2) - 1 {
		wk := &worker{wake: make(chan struct{}, 1)}
		wk.state.Store(workerBusy)
		workers = append(workers, wk)
		go wk.loop()
	}
}

func (wk *worker) loop() {
	for {
		wk.state.Store(workerSpinning)
		if !spinUntil(func() bool { return wk.state.Load() == workerHanded }) &&
			wk.state.CompareAndSwap(workerSpinning, workerParked) {
			<-wk.wake
		}
		for wk.state.Load() != workerHanded { // claimed: the part is being written
		}
		t, i, w := wk.t, wk.i, wk.w
		wk.t, wk.w = nil, nil
		wk.state.Store(workerBusy)
		t.runPart(i)
		w.done()
	}
}

// hand gives part i of t to the worker if it waits for one.
func (wk *worker) hand(t parter, i int, w *partsWait) bool {
	parked := false
	if !wk.state.CompareAndSwap(workerSpinning, workerClaimed) {
		if !wk.state.CompareAndSwap(workerParked, workerClaimed) {
			return false
		}
		parked = true
	}
	wk.t, wk.i, wk.w = t, i, w
	wk.state.Store(workerHanded)
	if parked {
		wk.wake <- struct{}{}
	}
	return true
}

// handOff gives part i of t to a worker that waits for one, if any; w
// counts it already.
func handOff(t parter, i int, w *partsWait) bool {
	for _, wk := range workers {
		if wk.hand(t, i, w) {
			return true
		}
	}
	return false
}

// spinUntil spins until cond holds (true) or workSpin has passed (false);
// it yields to other goroutines now and then and does not spin at all with
// one thread.
func spinUntil(cond func() bool) bool {
	if !spinning {
		return cond()
	}
	var start time.Time
	for n := 0; ; n++ {
		if cond() {
			return true
		}
		if n&255 == 255 {
			if start.IsZero() {
				start = time.Now()
			} else if time.Since(start) > workSpin {
				return false
			}
			runtime.Gosched()
		}
	}
}

// runParts runs t's parts 0..n-1, part 0 on the calling goroutine, the
// others on the pool's workers that wait for one (or here when none does),
// and returns when all are done. w must outlive the call (callers keep it
// in t).
func runParts(t parter, n int, w *partsWait) {
	if n <= 1 {
		if n == 1 {
			t.runPart(0)
		}
		return
	}
	workOnce.Do(startWorkers)
	w.left.Store(int32(n - 1))
	w.wg.Add(n - 1)
	for i := 1; i < n; i++ {
		if !handOff(t, i, w) { // every worker busy (nested or concurrent calls): run it here
			t.runPart(i)
			w.done()
		}
	}
	t.runPart(0)
	if w.left.Load() > 0 {
		spinUntil(func() bool { return w.left.Load() == 0 })
	}
	w.wg.Wait()
}
