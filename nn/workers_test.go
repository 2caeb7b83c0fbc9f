package nn

import (
	"runtime"
	"sync/atomic"
	"testing"
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
