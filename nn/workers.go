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

// stepTeam runs a sequence of short parallel steps (a recurrence's time
// steps): the pool's free workers join for the whole sequence and wait
// for each step spinning a little before they block, instead of being
// handed every step's parts (a wake-up per step costs about what a step
// computes). Each member takes its own parts first (the same ones every
// step, so that their data stay in its core's caches), then any left:
// the steps complete, in order, even when no worker is free or one is
// descheduled.
type stepTeam struct {
	t          parter
	parts      int
	members    int            // the caller and the workers that joined
	gen        atomic.Int64   // step number: bumped when a step's parts may be claimed
	started    int64          // gen when the sequence started
	claimed    []atomic.Int64 // per part, the step that claimed it
	done       atomic.Int32   // the current step's parts finished
	quit       atomic.Bool
	sleepers   atomic.Int32  // workers blocked on wake, less the tokens sent
	wake       chan struct{} // a token per worker to wake
	mainSleeps atomic.Bool   // the caller is (about to be) blocked on fin
	fin        chan struct{}
	stalls     int // steps in which the caller blocked
	wg         partsWait
}

// teamSpins bounds a wait's spinning before it blocks (about 70 µs here,
// a part or two of an LSTM step: 2^14, 5 µs, had the workers block and be
// woken late at most steps, and the forward pass took 8.5 ms instead of
// 4.7): on a loaded machine a spinning thread would take the core from the
// one it waits for.
const teamSpins = 1 << 18

// teamStalls is how many times in a sequence the caller may block waiting
// for a worker's part before it sends the workers away and runs the rest
// alone: that happens when the OS deschedules a worker in the middle of a
// part (another process wants the core), and each time costs more than
// the worker's help brings.
const teamStalls = 4

// start readies the team for steps of parts parts of t.
func (m *stepTeam) start(t parter, parts int) {
	m.t, m.parts, m.members, m.stalls = t, parts, 1, 0
	m.quit.Store(false)
	if parts <= 1 {
		return
	}
	if len(m.claimed) < parts {
		m.claimed = make([]atomic.Int64, parts)
		m.wake, m.fin = make(chan struct{}, parts), make(chan struct{}, 1)
	}
	g := m.gen.Load()
	m.started = g
	for i := range parts {
		m.claimed[i].Store(g)
	}
	workOnce.Do(startWorkers)
	for range min(parts, runtime.GOMAXPROCS(0)) - 1 {
		m.wg.left.Add(1)
		m.wg.wg.Add(1)
		if !handOff(m, m.members, &m.wg) {
			m.wg.done()
			break
		}
		m.members++
	}
}

// step runs t's parts once, the caller taking part; whatever the caller
// wrote before is visible to the parts, and what they wrote is visible
// after.
func (m *stepTeam) step() {
	if m.parts <= 1 {
		m.t.runPart(0)
		return
	}
	m.done.Store(0)
	g := m.gen.Add(1)
	m.wakeAll()
	m.claim(0, g)
	for spin := 0; m.done.Load() < int32(m.parts); spin++ {
		if spin < teamSpins {
			continue
		}
		m.mainSleeps.Store(true)
		if m.done.Load() < int32(m.parts) || !m.mainSleeps.CompareAndSwap(true, false) {
			<-m.fin // a part that finished after mainSleeps was set sends one
		}
		spin = 0
		m.stalls++
	}
	if m.stalls >= teamStalls && m.members > 1 {
		m.release()
	}
}

// claim runs the parts of step g that member me gets: its own (me,
// me+members, …), then any still unclaimed.
func (m *stepTeam) claim(me int, g int64) {
	for pass := range 2 {
		i0, di := me, m.members
		if pass == 1 {
			i0, di = 0, 1
		}
		for i := i0; i < m.parts; i += di {
			if !m.claimed[i].CompareAndSwap(g-1, g) {
				continue
			}
			m.t.runPart(i)
			m.done.Add(1)
			if m.mainSleeps.CompareAndSwap(true, false) {
				m.fin <- struct{}{}
			}
		}
	}
}

// wakeAll sends a token to each blocked worker.
func (m *stepTeam) wakeAll() {
	for {
		k := m.sleepers.Load()
		if k == 0 {
			return
		}
		if m.sleepers.CompareAndSwap(k, k-1) {
			m.wake <- struct{}{}
		}
	}
}

// release sends the workers back to the pool; the caller takes every part
// from then on.
func (m *stepTeam) release() {
	m.quit.Store(true)
	m.wakeAll()
	m.wg.wg.Wait()
	m.members = 1
}

// stop ends the sequence.
func (m *stepTeam) stop() {
	m.release()
	m.t = nil
}

// runPart is worker me's stay in the team.
func (m *stepTeam) runPart(me int) {
	// from the sequence's start, not now: a worker woken late, after the
	// first step began, still takes its parts of that step
	seen := m.started
	ready := func() bool { return m.gen.Load() != seen || m.quit.Load() }
	for {
		for spin := 0; !ready(); spin++ {
			if spin < teamSpins {
				continue
			}
			m.sleepers.Add(1)
			if !ready() {
				<-m.wake
				continue
			}
			// ready after all: take back the count, or take the token
			// sent for it
			for {
				k := m.sleepers.Load()
				if k == 0 {
					<-m.wake
					break
				}
				if m.sleepers.CompareAndSwap(k, k-1) {
					break
				}
			}
		}
		if m.quit.Load() {
			return
		}
		seen = m.gen.Load()
		m.claim(me, seen)
	}
}
