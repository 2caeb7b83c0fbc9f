package keras

import (
	"encoding/json"
	"fmt"
	"math"
)

// cfg is one layer's "config" object. Getters take several names because
// Keras 1, 2 and 3 spell the same field differently (nb_filter / filters).
type cfg map[string]any

func (c cfg) has(names ...string) bool {
	for _, n := range names {
		if v, ok := c[n]; ok && v != nil {
			return true
		}
	}
	return false
}

func (c cfg) raw(names ...string) (any, bool) {
	for _, n := range names {
		if v, ok := c[n]; ok && v != nil {
			return v, true
		}
	}
	return nil, false
}

func (c cfg) str(def string, names ...string) string {
	v, ok := c.raw(names...)
	if !ok {
		return def
	}
	if s, ok := v.(string); ok {
		return s
	}
	return def
}

func (c cfg) boolean(def bool, names ...string) bool {
	v, ok := c.raw(names...)
	if !ok {
		return def
	}
	if b, ok := v.(bool); ok {
		return b
	}
	return def
}

// num reads a number; a one-element list counts as that number (Keras
// writes axis=[2] for axis=2 in some versions).
func (c cfg) num(def float64, names ...string) (float64, error) {
	v, ok := c.raw(names...)
	if !ok {
		return def, nil
	}
	return toFloat(v, names[0])
}

func toFloat(v any, what string) (float64, error) {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, fmt.Errorf("field %q is not finite", what)
		}
		return x, nil
	case json.Number:
		return x.Float64()
	case []any:
		if len(x) == 1 {
			return toFloat(x[0], what)
		}
	}
	return 0, fmt.Errorf("field %q: expected a number, got %v", what, v)
}

// maxDim bounds any size a config may declare, so shape arithmetic cannot
// overflow and nothing is sized from a config alone.
const maxDim = 1 << 28

func (c cfg) integer(def int, names ...string) (int, error) {
	f, err := c.num(float64(def), names...)
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) || math.Abs(f) > maxDim {
		return 0, fmt.Errorf("field %q: %v is not a usable integer", names[0], f)
	}
	return int(f), nil
}

// ints reads an integer or a list of integers; a single integer is
// repeated n times (kernel_size=3 for a 2-D layer means [3, 3]).
func (c cfg) ints(n int, def []int, names ...string) ([]int, error) {
	v, ok := c.raw(names...)
	if !ok {
		if def == nil {
			return nil, nil
		}
		return append([]int(nil), def...), nil
	}
	return toInts(v, n, names[0])
}

func toInts(v any, n int, what string) ([]int, error) {
	switch x := v.(type) {
	case []any:
		out := make([]int, 0, len(x))
		for _, e := range x {
			f, err := toFloat(e, what)
			if err != nil {
				return nil, err
			}
			if f != math.Trunc(f) || math.Abs(f) > maxDim {
				return nil, fmt.Errorf("field %q: %v is not a usable integer", what, f)
			}
			out = append(out, int(f))
		}
		if n > 0 && len(out) == 1 && n > 1 {
			for len(out) < n {
				out = append(out, out[0])
			}
		}
		if n > 0 && len(out) != n {
			return nil, fmt.Errorf("field %q: need %d values, got %v", what, n, v)
		}
		return out, nil
	default:
		f, err := toFloat(v, what)
		if err != nil {
			return nil, err
		}
		if f != math.Trunc(f) || math.Abs(f) > maxDim {
			return nil, fmt.Errorf("field %q: %v is not a usable integer", what, f)
		}
		if n <= 0 {
			n = 1
		}
		out := make([]int, n)
		for i := range out {
			out[i] = int(f)
		}
		return out, nil
	}
}

// shape reads a Keras shape such as batch_input_shape [null, 28, 28, 1];
// null becomes -1.
func toShape(v any, what string) ([]int, error) {
	x, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: expected a list, got %v", what, v)
	}
	if len(x) > 8 {
		return nil, fmt.Errorf("%s: rank %d is too large", what, len(x))
	}
	out := make([]int, len(x))
	for i, e := range x {
		if e == nil {
			out[i] = -1
			continue
		}
		f, err := toFloat(e, what)
		if err != nil {
			return nil, err
		}
		if f != math.Trunc(f) || f <= 0 || f > maxDim {
			return nil, fmt.Errorf("%s: bad dimension %v", what, e)
		}
		out[i] = int(f)
	}
	return out, nil
}
