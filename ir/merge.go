package ir

import "fmt"

// MergeOp names an element-wise merge.
type MergeOp string

const (
	MergeAdd      MergeOp = "add"
	MergeSubtract MergeOp = "subtract" // first minus second (two inputs)
	MergeMultiply MergeOp = "multiply"
	MergeDivide   MergeOp = "divide" // first divided by second (two inputs)
	MergeAverage  MergeOp = "average"
	MergeMaximum  MergeOp = "maximum"
	MergeMinimum  MergeOp = "minimum"
	MergePow      MergeOp = "pow" // first to the power of second (two inputs)
)

// Merge combines two or more inputs element-wise, with NumPy broadcasting
// (shapes aligned from the right, size-1 axes stretched).
type Merge struct {
	Op MergeOp `json:"op"`
}

func (m *Merge) Kind() string { return "Merge" }

func (m *Merge) OutputShape(in [][]int) ([]int, error) {
	switch m.Op {
	case MergeAdd, MergeMultiply, MergeAverage, MergeMaximum, MergeMinimum:
		if len(in) < 2 {
			return nil, fmt.Errorf("merge %s needs at least 2 inputs, got %d", m.Op, len(in))
		}
	case MergeSubtract, MergeDivide, MergePow:
		if len(in) != 2 {
			return nil, fmt.Errorf("merge %s needs exactly 2 inputs, got %d", m.Op, len(in))
		}
	default:
		return nil, fmt.Errorf("unknown merge op %q", m.Op)
	}
	out := in[0]
	for _, s := range in[1:] {
		b, err := Broadcast(out, s)
		if err != nil {
			return nil, fmt.Errorf("merge %s: %w", m.Op, err)
		}
		out = b
	}
	return append([]int(nil), out...), nil
}

func (*Merge) Params([][]int) []ParamSpec { return nil }

// Broadcast returns the NumPy broadcast of two shapes (-1 matches anything).
func Broadcast(a, b []int) ([]int, error) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := 0; i < n; i++ {
		x, y := 1, 1
		if j := len(a) - n + i; j >= 0 {
			x = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			y = b[j]
		}
		switch {
		case x == y:
			out[i] = x
		case x == 1:
			out[i] = y
		case y == 1:
			out[i] = x
		case x == -1:
			out[i] = y
		case y == -1:
			out[i] = x
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	return out, nil
}

// Concat joins inputs along Axis (of the tensor without batch; negative
// counts from the end).
type Concat struct {
	Axis int `json:"axis"`
}

func (*Concat) Kind() string { return "Concat" }

// ResolvedAxis maps a negative axis for a given rank.
func (c *Concat) ResolvedAxis(rank int) int {
	if c.Axis < 0 {
		return c.Axis + rank
	}
	return c.Axis
}

func (c *Concat) OutputShape(in [][]int) ([]int, error) {
	if len(in) < 1 {
		return nil, fmt.Errorf("Concat needs inputs")
	}
	r := len(in[0])
	ax := c.ResolvedAxis(r)
	if ax < 0 || ax >= r {
		return nil, fmt.Errorf("Concat axis %d out of range for rank %d", c.Axis, r)
	}
	out := append([]int(nil), in[0]...)
	for _, s := range in[1:] {
		if len(s) != r {
			return nil, fmt.Errorf("Concat of ranks %d and %d", r, len(s))
		}
		for i := range s {
			if i == ax {
				if out[i] < 0 || s[i] < 0 {
					out[i] = -1
				} else {
					out[i] += s[i]
				}
			} else if s[i] != out[i] && s[i] >= 0 && out[i] >= 0 {
				return nil, fmt.Errorf("Concat on axis %d: shapes %v and %v differ on axis %d", ax, in[0], s, i)
			}
		}
	}
	return out, nil
}

func (*Concat) Params([][]int) []ParamSpec { return nil }

func init() {
	Register("Merge", func() Layer { return &Merge{} })
	Register("Concat", func() Layer { return &Concat{} })
}
