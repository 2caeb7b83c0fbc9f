package ir

import (
	"fmt"
	"math"
)

// The general shape ops (ONNX Reshape, Slice, Concat, Gather, Expand,
// Tile) on full shapes: any axis, the batch axis included.

// batchAxis is the axis holding Batch in a full shape, -1 when none.
func batchAxis(full []int) (int, error) {
	b := -1
	for k, d := range full {
		if d == Batch {
			if b >= 0 {
				return 0, fmt.Errorf("shape %s has the batch twice", FormatShape(full))
			}
			b = k
		}
	}
	return b, nil
}

// knownProd is the product of s, ok false when a size is unknown.
func knownProd(s []int) (int, bool) {
	n := 1
	for _, d := range s {
		if d < 0 {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// TensorReshape is ONNX Reshape to Shape: sizes, Batch (the input's batch
// axis, which stays an axis of its own: the sizes before it multiply to
// the same number in the input and the output) or one -1 (inferred; it is
// the batch when it takes exactly the batch's place).
type TensorReshape struct {
	Shape []int `json:"shape"`
}

func (*TensorReshape) Kind() string { return "TensorReshape" }
func (*TensorReshape) FullShapes()  {}
func (r *TensorReshape) OutputShape(in [][]int) ([]int, error) {
	if err := need(in, 1, "TensorReshape"); err != nil {
		return nil, err
	}
	ib, err := batchAxis(in[0])
	if err != nil {
		return nil, err
	}
	ob, infer := -1, -1
	out := append([]int(nil), r.Shape...)
	outKnown := 1
	for k, d := range out {
		switch {
		case d == Batch && ob < 0:
			ob = k
		case d == -1 && infer < 0:
			infer = k
		case d <= 0:
			return nil, fmt.Errorf("TensorReshape target %s: sizes are positive, with at most one batch and one -1", FormatShape(r.Shape))
		default:
			outKnown *= d
		}
	}
	per := append(append([]int(nil), in[0][:max(ib, 0)]...), in[0][ib+1:]...)
	if ib < 0 {
		per = in[0]
	}
	inKnown, known := knownProd(per)
	if ob >= 0 && ib < 0 && known {
		// an input of unknown size may hold the batch merged with other
		// axes (batch × heads): the engine takes the batch size of the pass
		return nil, fmt.Errorf("TensorReshape target %s has the batch, its input %s has none", FormatShape(r.Shape), FormatShape(in[0]))
	}
	if ib >= 0 && ob < 0 {
		if infer < 0 {
			return nil, fmt.Errorf("TensorReshape of %s to %s fixes the batch size", FormatShape(in[0]), FormatShape(r.Shape))
		}
		// the -1 takes the batch: it is the batch axis when nothing else
		// joins it and the axes before it hold the same values
		pi, ok1 := knownProd(in[0][:ib])
		if po, ok2 := knownProd(out[:infer]); known && ok1 && ok2 && inKnown == outKnown && pi == po {
			out[infer] = Batch
		}
		return out, nil
	}
	if ob >= 0 && ib >= 0 {
		pi, ok1 := knownProd(in[0][:ib])
		po, ok2 := knownProd(out[:ob])
		if ok1 && ok2 && infer < 0 && pi != po {
			return nil, fmt.Errorf("TensorReshape of %s to %s moves the batch across other axes", FormatShape(in[0]), FormatShape(r.Shape))
		}
	}
	switch {
	case infer >= 0 && known:
		if outKnown == 0 || inKnown%outKnown != 0 {
			return nil, fmt.Errorf("TensorReshape of %s to %s: sizes do not divide", FormatShape(in[0]), FormatShape(r.Shape))
		}
		out[infer] = inKnown / outKnown
	case infer < 0 && known && inKnown != outKnown:
		return nil, fmt.Errorf("TensorReshape of %s (%d values per example) to %s", FormatShape(in[0]), inKnown, FormatShape(r.Shape))
	}
	return out, nil
}
func (*TensorReshape) Params([][]int) []ParamSpec { return nil }

// TensorSlice is ONNX Slice on full axes: [Starts[i], Ends[i]) with
// Steps[i] (1 when absent) along Axes[i]; negative starts and ends count
// from the end, ends are clamped. On the batch axis the whole axis keeps
// the batch; bounds from one end give that many values (the batch is
// assumed at least that large; the engine clamps to the real one), others
// an unknown size.
type TensorSlice struct {
	Axes   []int `json:"axes"`
	Starts []int `json:"starts"`
	Ends   []int `json:"ends"`
	Steps  []int `json:"steps,omitempty"`
}

func (*TensorSlice) Kind() string { return "TensorSlice" }
func (*TensorSlice) FullShapes()  {}

// Range resolves start, end and step of the i-th sliced axis of size n
// (ONNX clamping).
func (s *TensorSlice) Range(i, n int) (start, end, step int) {
	return (&Slice{Axes: s.Axes, Starts: s.Starts, Ends: s.Ends, Steps: s.Steps}).Range(i, n)
}

// sliceLen is the number of values start:end:step takes from an axis of
// size n.
func sliceLen(start, end, step int) int {
	switch {
	case step > 0 && end > start:
		return (end - start + step - 1) / step
	case step < 0 && start > end:
		return (start - end - step - 1) / -step
	}
	return 0
}

// batchSliceLen is the size start:end:step leaves of the batch axis:
// Batch for the whole axis, a size when both bounds count from the same
// end, -1 (unknown) when the size depends on the batch.
func batchSliceLen(start, end, step int) int {
	const huge = math.MaxInt32
	if step == 1 && start == 0 && end >= huge {
		return Batch
	}
	if step > 0 && end >= huge { // to the end: only a tail has a fixed size
		if start >= 0 {
			return -1
		}
		return sliceLen(start, 0, step)
	}
	if step < 0 {
		if start >= huge {
			start = -1
		}
		if end <= -huge { // down to the first value: only a head has a fixed size
			if start < 0 {
				return -1
			}
			return sliceLen(start, -1, step)
		}
	}
	if (start >= 0) != (end >= 0) {
		return -1
	}
	return sliceLen(start, end, step)
}

func (s *TensorSlice) OutputShape(in [][]int) ([]int, error) {
	if err := need(in, 1, "TensorSlice"); err != nil {
		return nil, err
	}
	if len(s.Starts) != len(s.Axes) || len(s.Ends) != len(s.Axes) || len(s.Steps) != 0 && len(s.Steps) != len(s.Axes) {
		return nil, fmt.Errorf("TensorSlice needs as many starts, ends (and steps) as axes")
	}
	out := append([]int(nil), in[0]...)
	seen := map[int]bool{}
	for i, a := range s.Axes {
		if a < 0 {
			a += len(out)
		}
		if a < 0 || a >= len(out) || seen[a] {
			return nil, fmt.Errorf("TensorSlice axis %d out of range or repeated for %s", s.Axes[i], FormatShape(in[0]))
		}
		seen[a] = true
		step := 1
		if len(s.Steps) > 0 {
			step = s.Steps[i]
		}
		if step == 0 {
			return nil, fmt.Errorf("TensorSlice step 0")
		}
		switch d := in[0][a]; {
		case d == Batch:
			out[a] = batchSliceLen(s.Starts[i], s.Ends[i], step)
		case d < 0:
		default:
			st, en, sp := s.Range(i, d)
			out[a] = sliceLen(st, en, sp)
		}
		if out[a] == 0 {
			return nil, fmt.Errorf("TensorSlice leaves axis %d of %s empty", s.Axes[i], FormatShape(in[0]))
		}
	}
	return out, nil
}
func (*TensorSlice) Params([][]int) []ParamSpec { return nil }

// TensorConcat joins its inputs along Axis (negative counts from the
// end), which must not be the batch axis.
type TensorConcat struct {
	Axis int `json:"axis"`
}

func (*TensorConcat) Kind() string { return "TensorConcat" }
func (*TensorConcat) FullShapes()  {}
func (c *TensorConcat) OutputShape(in [][]int) ([]int, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("TensorConcat of nothing")
	}
	r := len(in[0])
	a := c.Axis
	if a < 0 {
		a += r
	}
	if a < 0 || a >= r {
		return nil, fmt.Errorf("TensorConcat axis %d out of range for %s", c.Axis, FormatShape(in[0]))
	}
	out := append([]int(nil), in[0]...)
	for i, s := range in {
		if len(s) != r {
			return nil, fmt.Errorf("TensorConcat of %s and %s: ranks differ", FormatShape(in[0]), FormatShape(s))
		}
		if s[a] == Batch {
			return nil, fmt.Errorf("TensorConcat along the batch axis (input %d, %s): the batch size would change", i, FormatShape(s))
		}
		for k, d := range s {
			switch {
			case k == a && i > 0:
				if out[k] < 0 || d < 0 {
					out[k] = -1
				} else {
					out[k] += d
				}
			case k == a, d == out[k]:
			case d == -1 && out[k] != Batch:
			case out[k] == -1 && d != Batch:
				out[k] = d
			default:
				return nil, fmt.Errorf("TensorConcat of %s and %s along axis %d: other axes differ", FormatShape(in[0]), FormatShape(s), c.Axis)
			}
		}
	}
	return out, nil
}
func (*TensorConcat) Params([][]int) []ParamSpec { return nil }

// TensorGather is ONNX Gather with constant indices: along Axis, the
// values at Indices (negative count from the end) arranged as IndexShape,
// which replaces the axis; an empty IndexShape is one scalar index that
// drops the axis.
type TensorGather struct {
	Axis       int   `json:"axis"`
	Indices    []int `json:"indices"`
	IndexShape []int `json:"index_shape,omitempty"`
}

func (*TensorGather) Kind() string { return "TensorGather" }
func (*TensorGather) FullShapes()  {}

// ResolvedAxis is Axis for an input of rank r.
func (g *TensorGather) ResolvedAxis(r int) int {
	if g.Axis < 0 {
		return g.Axis + r
	}
	return g.Axis
}

func (g *TensorGather) OutputShape(in [][]int) ([]int, error) {
	if err := need(in, 1, "TensorGather"); err != nil {
		return nil, err
	}
	a := g.ResolvedAxis(len(in[0]))
	if a < 0 || a >= len(in[0]) {
		return nil, fmt.Errorf("TensorGather axis %d out of range for %s", g.Axis, FormatShape(in[0]))
	}
	n := 1
	for _, d := range g.IndexShape {
		if d < 0 || d > 1<<30 {
			return nil, fmt.Errorf("TensorGather index shape %v", g.IndexShape)
		}
		n *= d
	}
	if n != len(g.Indices) {
		return nil, fmt.Errorf("TensorGather has %d indices for index shape %v", len(g.Indices), g.IndexShape)
	}
	if d := in[0][a]; d > 0 {
		for _, i := range g.Indices {
			if i < -d || i >= d {
				return nil, fmt.Errorf("TensorGather index %d out of range for axis %d of %s", i, g.Axis, FormatShape(in[0]))
			}
		}
	}
	out := append(append([]int(nil), in[0][:a]...), g.IndexShape...)
	return append(out, in[0][a+1:]...), nil
}
func (*TensorGather) Params([][]int) []ParamSpec { return nil }

// TensorExpand is ONNX Expand: the input broadcast to Shape (sizes or
// Batch; the input's sizes of 1 grow, others stay).
type TensorExpand struct {
	Shape []int `json:"shape"`
}

func (*TensorExpand) Kind() string { return "TensorExpand" }
func (*TensorExpand) FullShapes()  {}
func (e *TensorExpand) OutputShape(in [][]int) ([]int, error) {
	if err := need(in, 1, "TensorExpand"); err != nil {
		return nil, err
	}
	for _, d := range e.Shape {
		if d <= 0 && d != Batch || d > 1<<30 {
			return nil, fmt.Errorf("TensorExpand to %s: sizes are positive or the batch", FormatShape(e.Shape))
		}
	}
	out, err := BroadcastFull(in[0], e.Shape)
	if err != nil {
		return nil, fmt.Errorf("TensorExpand: %w", err)
	}
	if _, err := batchAxis(out); err != nil {
		return nil, fmt.Errorf("TensorExpand: %w", err)
	}
	return out, nil
}
func (*TensorExpand) Params([][]int) []ParamSpec { return nil }

// TensorTile is ONNX Tile: axis k repeated Repeats[k] times; the batch
// axis repeats once.
type TensorTile struct {
	Repeats []int `json:"repeats"`
}

func (*TensorTile) Kind() string { return "TensorTile" }
func (*TensorTile) FullShapes()  {}
func (t *TensorTile) OutputShape(in [][]int) ([]int, error) {
	if err := need(in, 1, "TensorTile"); err != nil {
		return nil, err
	}
	if len(t.Repeats) != len(in[0]) {
		return nil, fmt.Errorf("TensorTile has %d repeats for %s", len(t.Repeats), FormatShape(in[0]))
	}
	out := make([]int, len(in[0]))
	for k, d := range in[0] {
		r := t.Repeats[k]
		switch {
		case r < 1 || r > 1<<30:
			return nil, fmt.Errorf("TensorTile repeats %v", t.Repeats)
		case d == Batch && r != 1:
			return nil, fmt.Errorf("TensorTile repeats the batch axis of %s %d times: the batch size would change", FormatShape(in[0]), r)
		case d < 0 && r == 1, d == Batch:
			out[k] = d
		case d < 0:
			out[k] = -1
		case d > (1<<31)/r:
			return nil, fmt.Errorf("TensorTile of %s by %v is too large", FormatShape(in[0]), t.Repeats)
		default:
			out[k] = d * r
		}
	}
	return out, nil
}
func (*TensorTile) Params([][]int) []ParamSpec { return nil }

func init() {
	Register("TensorReshape", func() Layer { return &TensorReshape{} })
	Register("TensorSlice", func() Layer { return &TensorSlice{} })
	Register("TensorConcat", func() Layer { return &TensorConcat{} })
	Register("TensorGather", func() Layer { return &TensorGather{} })
	Register("TensorExpand", func() Layer { return &TensorExpand{} })
	Register("TensorTile", func() Layer { return &TensorTile{} })
}
