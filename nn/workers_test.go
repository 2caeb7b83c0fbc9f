package nn

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// teamCounter records, per part, the steps it ran in; a part that runs
// in a step other than the current one, or twice, breaks the counts.
type teamCounter struct {
	step  int
	ran   []atomic.Int64
	wrong atomic.Int64
}

func (c *teamCounter) runPart(i int) {
	if c.ran[i].Add(1) != int64(c.step) {
		c.wrong.Add(1)
	}
}

// TestStepTeam runs many steps with more parts than workers, as many, and
// one, with GOMAXPROCS below and above the part count: every part runs once
// per step, and a step's parts see what the caller wrote before it.
func TestStepTeam(t *testing.T) {
	for _, procs := range []int{1, 2, 4} {
		saved := runtime.GOMAXPROCS(procs)
		for _, parts := range []int{1, 2, 3, 5} {
			var m stepTeam
			c := &teamCounter{ran: make([]atomic.Int64, parts)}
			for range 3 { // start and stop again, as passes do
				m.start(c, parts)
				for range 200 {
					c.step++
					m.step()
				}
				m.stop()
			}
			for i := range c.ran {
				if got := c.ran[i].Load(); got != int64(c.step) {
					t.Errorf("GOMAXPROCS %d, %d parts: part %d ran %d times in %d steps", procs, parts, i, got, c.step)
				}
			}
			if w := c.wrong.Load(); w != 0 {
				t.Errorf("GOMAXPROCS %d, %d parts: %d runs out of step", procs, parts, w)
			}
		}
		runtime.GOMAXPROCS(saved)
	}
}

// countParts counts the runs of each part.
type countParts struct {
	runs []atomic.Int32
	w    partsWait
}

func (c *countParts) runPart(i int) { c.runs[i].Add(1) }

// TestRunPartsOnceEach runs parallel calls back to back (the workers
// spinning), after pauses longer than the spin (the workers blocked),
// nested (a part running parts: no worker is free, so the caller runs
// them) and from two goroutines at once: every part runs exactly once per
// call, and each call returns only when its parts are done.
func TestRunPartsOnceEach(t *testing.T) {
	check := func(c *countParts, want int32) {
		t.Helper()
		for i := range c.runs {
			if got := c.runs[i].Load(); got != want {
				t.Fatalf("part %d ran %d times, want %d", i, got, want)
			}
		}
	}
	for n := 1; n <= 5; n++ {
		c := &countParts{runs: make([]atomic.Int32, n)}
		for k := int32(1); k <= 200; k++ {
			runParts(c, n, &c.w)
			check(c, k)
			if k%50 == 0 {
				time.Sleep(3 * workSpin)
			}
		}
	}
	nested := &nestedParts{outer: countParts{runs: make([]atomic.Int32, 2)}}
	for i := range nested.inner {
		nested.inner[i] = &countParts{runs: make([]atomic.Int32, 3)}
	}
	for k := int32(1); k <= 50; k++ {
		runParts(nested, 2, &nested.outer.w)
		check(&nested.outer, k)
	}
	for _, c := range nested.inner {
		check(c, 50)
	}
	var wg sync.WaitGroup
	cs := []*countParts{{runs: make([]atomic.Int32, 4)}, {runs: make([]atomic.Int32, 4)}}
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 300 {
				runParts(c, 4, &c.w)
			}
		}()
	}
	wg.Wait()
	for _, c := range cs {
		check(c, 300)
	}
}

// nestedParts runs, in each of its two parts, three parts of its own.
type nestedParts struct {
	outer countParts
	inner [2]*countParts
}

func (n *nestedParts) runPart(i int) {
	n.outer.runs[i].Add(1)
	runParts(n.inner[i], 3, &n.inner[i].w)
}

// stallingParts makes the caller block in every step while a worker is in
// the team: part 0 waits until part 1 has begun in this step, and part 1
// until the caller has given up spinning. Each wait gives up after 100 ms.
type stallingParts struct {
	team  *stepTeam
	began atomic.Int64 // the step in which part 1 began
}

func (s *stallingParts) runPart(i int) {
	step := s.team.gen.Load()
	if s.team.members == 1 {
		return
	}
	if i == 1 {
		s.began.Store(step)
		for t0 := time.Now(); !s.team.mainSleeps.Load() && time.Since(t0) < 100*time.Millisecond; {
		}
		return
	}
	for t0 := time.Now(); s.began.Load() != step && time.Since(t0) < 100*time.Millisecond; {
	}
}

// TestStepTeamStallsAllocateNothing: steps in which the caller blocks on a
// slow worker, until it sends the workers away, allocate nothing (a defer
// in step's loop once made a heap record each time, which a loaded CI
// machine met in training steps).
func TestStepTeamStallsAllocateNothing(t *testing.T) {
	// a team needs a second thread (go test -cpu 1)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(2, runtime.GOMAXPROCS(0))))
	workOnce.Do(startWorkers)
	var m stepTeam
	s := &stallingParts{team: &m}
	run := func() {
		m.start(s, 2)
		for tries := 0; m.members < 2; tries++ { // the workers may not have reached their loop yet
			m.stop()
			if tries == 1000 {
				t.Fatal("no worker joined the team in 1000 tries")
			}
			time.Sleep(time.Millisecond)
			m.start(s, 2)
		}
		for range teamStalls + 2 {
			m.step()
		}
		stalls, members := m.stalls, m.members
		m.stop()
		if stalls != teamStalls || members != 1 {
			t.Fatalf("after %d steps: %d stalls, %d members, want %d and 1 (released)", teamStalls+2, stalls, members, teamStalls)
		}
	}
	run() // the first sequence makes the team's buffers
	// not testing.AllocsPerRun: it sets GOMAXPROCS to 1, and no worker
	// would join. The runtime's own rare allocations (a WaitGroup waiter
	// record, a new thread) do not repeat; a step's would, so three tries.
	var allocs uint64
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		run()
		runtime.ReadMemStats(&after)
		if allocs = after.Mallocs - before.Mallocs; allocs == 0 {
			break
		}
	}
	if allocs != 0 {
		t.Errorf("%d allocations in a sequence of stalled steps, want 0", allocs)
	}
}
