package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/retarget-dev/retarget/internal/onnxpb"
)

// cval is a constant tensor known at import time. Float tensors keep f,
// or f32 when they were stored as float32 (weights: no float64 copy is
// made, and the values may alias the decoded protobuf's raw_data);
// integer and boolean ones keep i. Shapes include every ONNX axis.
type cval struct {
	shape []int
	f     []float64
	f32   []float32
	i     []int64
	isInt bool
	lent  bool // f32 has been handed to an ir.Tensor: copy it next time
	// shared: another cval views the same values (a folded reshape), so
	// they must not be changed in place.
	shared bool
}

func (c *cval) size() int {
	switch {
	case c.isInt:
		return len(c.i)
	case c.f32 != nil:
		return len(c.f32)
	}
	return len(c.f)
}

// ints returns the values as int64 (floats truncated).
func (c *cval) ints() []int64 {
	if c.isInt {
		return c.i
	}
	out := make([]int64, c.size())
	for k, v := range c.floats() {
		out[k] = int64(v)
	}
	return out
}

// floats returns the values as float64 (a new slice for integer and
// float32 constants; callers must not modify it).
func (c *cval) floats() []float64 {
	switch {
	case c.isInt:
		out := make([]float64, len(c.i))
		for k, v := range c.i {
			out[k] = float64(v)
		}
		return out
	case c.f32 != nil:
		out := make([]float64, len(c.f32))
		for k, v := range c.f32 {
			out[k] = float64(v)
		}
		return out
	}
	return c.f
}

// float32s returns the values as float32 for an ir.Tensor, which owns
// them: stored float32 values are handed over once without copying (a
// second use of the same constant, such as tied weights, gets a copy).
func (c *cval) float32s() []float32 {
	if c.f32 != nil && !c.lent {
		c.lent = true
		return c.f32
	}
	return c.float32Copy()
}

// float32Copy returns the values as a new float32 slice.
func (c *cval) float32Copy() []float32 {
	if c.f32 != nil {
		return append([]float32(nil), c.f32...)
	}
	f := c.floats()
	out := make([]float32, len(f))
	for k, v := range f {
		out[k] = float32(v)
	}
	return out
}

func intsCval(shape []int, v []int64) *cval { return &cval{shape: shape, i: v, isInt: true} }
func floatCval(shape []int, v []float64) *cval {
	return &cval{shape: shape, f: v}
}

// numel multiplies dims, failing on negative dims or a product over limit.
func numel(dims []int64, limit int) (int, error) {
	n := 1
	for _, d := range dims {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d in %v", d, dims)
		}
		if d > 0 && n > limit/int(min(d, int64(limit)+1)) {
			return 0, fmt.Errorf("shape %v holds more values than the file can contain", dims)
		}
		n *= int(d)
	}
	return n, nil
}

var errDataSize = errors.New("data size does not match the shape")

// ONNX TensorProto data types.
const (
	dtFloat    = 1
	dtUint8    = 2
	dtInt8     = 3
	dtUint16   = 4
	dtInt16    = 5
	dtInt32    = 6
	dtInt64    = 7
	dtString   = 8
	dtBool     = 9
	dtFloat16  = 10
	dtDouble   = 11
	dtUint32   = 12
	dtUint64   = 13
	dtBfloat16 = 16
)

func elemSize(dt int32) int {
	switch dt {
	case dtUint8, dtInt8, dtBool:
		return 1
	case dtUint16, dtInt16, dtFloat16, dtBfloat16:
		return 2
	case dtFloat, dtInt32, dtUint32:
		return 4
	case dtInt64, dtDouble, dtUint64:
		return 8
	}
	return 0
}

func isFloatType(dt int32) bool {
	return dt == dtFloat || dt == dtDouble || dt == dtFloat16 || dt == dtBfloat16
}

// tensorReader decodes TensorProtos, resolving external data under dir.
type tensorReader struct {
	file  string
	dir   string
	limit int // upper bound on the element count of any tensor
}

func (r *tensorReader) decode(t *onnxpb.TensorProto) (*cval, error) {
	dt := t.GetDataType()
	es := elemSize(dt)
	if es == 0 {
		return nil, fmt.Errorf("tensor %q: unsupported data type %d", t.GetName(), dt)
	}
	n, err := numel(t.GetDims(), r.limit)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.GetName(), err)
	}
	shape := make([]int, len(t.GetDims()))
	for k, d := range t.GetDims() {
		shape[k] = int(d)
	}
	raw := t.GetRawData()
	if t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		raw, err = r.external(t, n*es)
		if err != nil {
			return nil, err
		}
	}
	c := &cval{shape: shape, isInt: !isFloatType(dt)}
	if raw != nil || n == 0 && t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		if len(raw) != n*es {
			return nil, fmt.Errorf("tensor %q: %d bytes for %d values of %d bytes: %w", t.GetName(), len(raw), n, es, errDataSize)
		}
		decodeRaw(c, dt, raw, n)
		return c, nil
	}
	bad := func(got int) error {
		return fmt.Errorf("tensor %q: %d values for shape %v: %w", t.GetName(), got, shape, errDataSize)
	}
	switch dt {
	case dtFloat:
		if len(t.FloatData) != n {
			return nil, bad(len(t.FloatData))
		}
		c.f32 = t.FloatData
	case dtDouble:
		if len(t.DoubleData) != n {
			return nil, bad(len(t.DoubleData))
		}
		c.f = append([]float64(nil), t.DoubleData...)
	case dtInt64:
		if len(t.Int64Data) != n {
			return nil, bad(len(t.Int64Data))
		}
		c.i = append([]int64(nil), t.Int64Data...)
	case dtUint32, dtUint64:
		if len(t.Uint64Data) != n {
			return nil, bad(len(t.Uint64Data))
		}
		c.i = make([]int64, n)
		for k, v := range t.Uint64Data {
			c.i[k] = int64(v)
		}
	case dtFloat16, dtBfloat16:
		if len(t.Int32Data) != n {
			return nil, bad(len(t.Int32Data))
		}
		c.f = make([]float64, n)
		for k, v := range t.Int32Data {
			c.f[k] = halfToFloat(uint16(v), dt == dtBfloat16)
		}
	default:
		if len(t.Int32Data) != n {
			return nil, bad(len(t.Int32Data))
		}
		c.i = make([]int64, n)
		for k, v := range t.Int32Data {
			c.i[k] = int64(v)
		}
	}
	return c, nil
}

func decodeRaw(c *cval, dt int32, raw []byte, n int) {
	le := binary.LittleEndian
	if dt == dtFloat {
		c.f32 = float32View(raw, n)
		return
	}
	if c.isInt {
		c.i = make([]int64, n)
	} else {
		c.f = make([]float64, n)
	}
	for k := 0; k < n; k++ {
		switch dt {
		case dtDouble:
			c.f[k] = math.Float64frombits(le.Uint64(raw[8*k:]))
		case dtFloat16, dtBfloat16:
			c.f[k] = halfToFloat(le.Uint16(raw[2*k:]), dt == dtBfloat16)
		case dtInt64, dtUint64:
			c.i[k] = int64(le.Uint64(raw[8*k:]))
		case dtInt32:
			c.i[k] = int64(int32(le.Uint32(raw[4*k:])))
		case dtUint32:
			c.i[k] = int64(le.Uint32(raw[4*k:]))
		case dtInt16:
			c.i[k] = int64(int16(le.Uint16(raw[2*k:])))
		case dtUint16:
			c.i[k] = int64(le.Uint16(raw[2*k:]))
		case dtInt8:
			c.i[k] = int64(int8(raw[k]))
		default: // uint8, bool
			c.i[k] = int64(raw[k])
		}
	}
}

func halfToFloat(h uint16, bf bool) float64 {
	if bf {
		return float64(math.Float32frombits(uint32(h) << 16))
	}
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	var bits uint32
	switch {
	case exp == 0 && frac == 0:
		bits = sign
	case exp == 0: // subnormal
		e := uint32(127 - 15 + 1)
		for frac&0x400 == 0 {
			frac <<= 1
			e--
		}
		bits = sign | e<<23 | (frac&0x3ff)<<13
	case exp == 0x1f:
		bits = sign | 0xff<<23 | frac<<13
	default:
		bits = sign | (exp+127-15)<<23 | frac<<13
	}
	return float64(math.Float32frombits(bits))
}

// external reads a tensor's bytes from its external data file, which must
// lie inside the model's folder.
func (r *tensorReader) external(t *onnxpb.TensorProto, want int) ([]byte, error) {
	fail := func(format string, args ...any) error {
		return &ExternalDataError{File: r.file, Tensor: t.GetName(), Err: fmt.Errorf(format, args...)}
	}
	var loc string
	offset, length := int64(0), int64(-1)
	for _, kv := range t.GetExternalData() {
		switch kv.GetKey() {
		case "location":
			loc = kv.GetValue()
		case "offset", "length":
			v, err := strconv.ParseInt(kv.GetValue(), 10, 64)
			if err != nil || v < 0 {
				return nil, fail("bad %s %q", kv.GetKey(), kv.GetValue())
			}
			if kv.GetKey() == "offset" {
				offset = v
			} else {
				length = v
			}
		}
	}
	if loc == "" {
		return nil, fail("no location")
	}
	if r.dir == "" {
		return nil, fail("the model was not read from a file, so %q cannot be resolved", loc)
	}
	if filepath.IsAbs(loc) || strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, `\`) || !filepath.IsLocal(filepath.FromSlash(loc)) {
		return nil, fail("location %q points outside the model's folder; external data must sit next to the model", loc)
	}
	path := filepath.Join(r.dir, filepath.FromSlash(loc))
	if real, err := filepath.EvalSymlinks(path); err == nil {
		base, err2 := filepath.EvalSymlinks(r.dir)
		if err2 == nil {
			if rel, err3 := filepath.Rel(base, real); err3 != nil || !filepath.IsLocal(rel) {
				return nil, fail("location %q resolves outside the model's folder", loc)
			}
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fail("%v (external data files must be next to the model)", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fail("%v", err)
	}
	if length < 0 {
		length = st.Size() - offset
	}
	if length != int64(want) {
		return nil, fail("length %d, the shape needs %d bytes", length, want)
	}
	if offset > st.Size() || length > st.Size()-offset {
		return nil, fail("offset %d + length %d is past the end of %s (%d bytes)", offset, length, loc, st.Size())
	}
	buf := make([]byte, length)
	if _, err := f.ReadAt(buf, offset); err != nil {
		return nil, fail("reading %s: %v", loc, err)
	}
	return buf, nil
}
