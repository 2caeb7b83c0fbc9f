package retarget

import (
	"errors"
	"fmt"
	"strings"
)

// EditError is a problem with one recorded edit. Index is the edit's
// position in the order it was recorded (plans map it to a YAML line).
type EditError struct {
	Index  int
	Op     string
	Vertex string
	Err    error
}

func (e *EditError) Error() string {
	if e.Vertex != "" {
		return fmt.Sprintf("edit %d (%s %q): %v", e.Index+1, e.Op, e.Vertex, e.Err)
	}
	return fmt.Sprintf("edit %d (%s): %v", e.Index+1, e.Op, e.Err)
}

func (e *EditError) Unwrap() error { return e.Err }

// BuildError lists every problem Build found: edit problems (*EditError)
// and problems of the resulting graph (*ir.VertexError and others).
type BuildError struct {
	Problems []error
}

func (e *BuildError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "retarget: %d problem(s)", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.Error())
	}
	return b.String()
}

func (e *BuildError) Unwrap() []error { return e.Problems }

// Problems returns the list inside a *BuildError, or the error itself.
func Problems(err error) []error {
	var be *BuildError
	if errors.As(err, &be) {
		return be.Problems
	}
	if err == nil {
		return nil
	}
	return []error{err}
}
