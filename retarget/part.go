package retarget

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/retarget-dev/retarget/data"
	"github.com/retarget-dev/retarget/ir"
)

// Part is part Index of Count of a data source (0 ≤ Index < Count), for
// featurizing on many machines at once: each machine runs the same command
// with its own Index. The zero value is the whole source.
type Part struct {
	Index, Count int
}

// Whole reports whether p is the whole source (no partition).
func (p Part) Whole() bool { return p.Count <= 1 }

func (p Part) String() string {
	if p.Whole() {
		return "0/1"
	}
	return fmt.Sprintf("%d/%d", p.Index, p.Count)
}

// Name is the folder a part writes under the featurized folder:
// part-00003-of-00007.
func (p Part) Name() string { return fmt.Sprintf("part-%05d-of-%05d", p.Index, p.Count) }

// Bounds is the examples [lo, hi) of part p of a source of total examples
// read in batches of batch: whole batches of the source's order, spread as
// evenly as integer division allows (part i gets batches [i·B/N, (i+1)·B/N)
// of the B batches), so every part starts on a batch boundary of a
// single-process run and computes each example with the same batch
// neighbours: the union of the parts equals a single-process featurize bit
// for bit. A part may hold no example (more parts than batches).
func (p Part) Bounds(total, batch int) (lo, hi int) {
	if p.Whole() {
		return 0, total
	}
	batch = max(batch, 1)
	nb := (total + batch - 1) / batch
	lo = min(p.Index*nb/p.Count*batch, total)
	hi = min((p.Index+1)*nb/p.Count*batch, total)
	return lo, hi
}

func (p Part) check() error {
	if p.Count < 0 || (p.Count > 0 && (p.Index < 0 || p.Index >= p.Count)) {
		return fmt.Errorf("part %d of %d: the index must be in [0, %d)", p.Index, p.Count, max(p.Count, 1))
	}
	if p.Count > maxParts {
		return fmt.Errorf("part %d of %d: at most %d parts", p.Index, p.Count, maxParts)
	}
	return nil
}

// maxParts bounds the number of parts (and so of part folders a reader lists).
const maxParts = 99999

// ParsePart reads "I/N" (0 ≤ I < N), as --shard takes it.
func ParsePart(s string) (Part, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(a))
	n, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || n < 1 {
		return Part{}, fmt.Errorf("%q is not a part I/N (e.g. 0/4 for the first of 4; I counts from 0)", s)
	}
	p := Part{Index: i, Count: n}
	return p, p.check()
}

// ErrNoPartEnv is returned by PartFromEnv when no scheduler variable is set.
var ErrNoPartEnv = errors.New("no array-job index in the environment: set JOB_COMPLETION_INDEX and JOB_COMPLETIONS (Kubernetes Indexed Job), or run in a Slurm job array (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT), or give --shard I/N")

// PartFromEnv takes the part from a batch scheduler's environment:
// JOB_COMPLETION_INDEX (set by a Kubernetes Indexed Job) with the count in
// JOB_COMPLETIONS (which the Job's manifest sets to its completions), or a
// Slurm job array's SLURM_ARRAY_TASK_ID (less SLURM_ARRAY_TASK_MIN, so
// arrays numbered from 1 work) and SLURM_ARRAY_TASK_COUNT. count, when
// positive, is the number of parts if the environment does not say it.
func PartFromEnv(getenv func(string) string, count int) (Part, error) {
	num := func(name string) (int, bool, error) {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return 0, false, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, true, fmt.Errorf("%s=%q is not a number", name, v)
		}
		return n, true, nil
	}
	pick := func(idxVar, countVar, minVar string) (Part, bool, error) {
		i, ok, err := num(idxVar)
		if !ok || err != nil {
			return Part{}, ok, err
		}
		n, okN, err := num(countVar)
		if err != nil {
			return Part{}, true, err
		}
		if !okN {
			if count <= 0 {
				return Part{}, true, fmt.Errorf("%s is set but %s is not: set it (or give --shard auto/N)", idxVar, countVar)
			}
			n = count
		}
		if minVar != "" {
			m, _, err := num(minVar)
			if err != nil {
				return Part{}, true, err
			}
			i -= m
		}
		p := Part{Index: i, Count: n}
		if err := p.check(); err != nil {
			return Part{}, true, fmt.Errorf("%s/%s: %w", idxVar, countVar, err)
		}
		return p, true, nil
	}
	if p, ok, err := pick("JOB_COMPLETION_INDEX", "JOB_COMPLETIONS", ""); ok {
		return p, err
	}
	if p, ok, err := pick("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN"); ok {
		return p, err
	}
	return Part{}, ErrNoPartEnv
}

// partDirs lists the part folders under dir, by part name.
func partDirs(dir string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "part-*-of-*"))
	if err != nil {
		return nil, err
	}
	if len(m) > maxParts {
		return nil, fmt.Errorf("%s: %d part folders, more than %d", dir, len(m), maxParts)
	}
	return m, nil
}

// parsePartName reads a part folder's name back.
func parsePartName(name string) (Part, bool) {
	var p Part
	if _, err := fmt.Sscanf(name, "part-%05d-of-%05d", &p.Index, &p.Count); err != nil || p.Name() != name || p.check() != nil || p.Whole() {
		return Part{}, false
	}
	return p, true
}

// rowsOf is rows [lo, hi) of t (a view, no copy); t's first axis is examples.
func rowsOf(t *ir.Tensor, lo, hi int) *ir.Tensor {
	if t == nil {
		return nil
	}
	per := 1
	for _, d := range t.Shape[1:] {
		per *= d
	}
	return ir.FromData(t.Data[lo*per:hi*per:hi*per], append([]int{hi - lo}, t.Shape[1:]...)...)
}

func tableRows(t *data.Table, lo, hi int) {
	t.X, t.Y = rowsOf(t.X, lo, hi), rowsOf(t.Y, lo, hi)
}

func sequenceRows(s *data.Sequences, lo, hi int) {
	s.X, s.Y, s.Mask, s.LabelMask = rowsOf(s.X, lo, hi), rowsOf(s.Y, lo, hi), rowsOf(s.Mask, lo, hi), rowsOf(s.LabelMask, lo, hi)
	if len(s.Names) >= hi {
		s.Names = s.Names[lo:hi]
	}
}
