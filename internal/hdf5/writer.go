package hdf5

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unsafe"
)

// VarStrings is a string array stored with a variable-length string type
// (h5py's string_dtype()). A plain []string is stored as fixed-length
// NUL-padded byte strings (numpy 'S' arrays).
type VarStrings []string

// Writer creates an HDF5 file (superblock version 0, symbol-table groups,
// contiguous datasets), readable by every libhdf5 version. Nothing is
// written until Close.
type Writer struct {
	out    io.Writer
	closer io.Closer
	root   *WGroup
	err    error
	closed bool
}

// WGroup is a group being written.
type WGroup struct {
	w        *Writer
	name     string
	path     string
	children map[string]any // *WGroup or *WDataset
	attrs    []*wattr
}

// WDataset is a dataset being written.
type WDataset struct {
	w     *Writer
	name  string
	path  string
	shape []uint64
	dtype []byte
	esize uint64
	data  []byte     // raw little-endian bytes (may alias the caller's slice)
	vlen  VarStrings // for variable-length string datasets
	attrs []*wattr

	addr uint64
}

type wattr struct {
	name  string
	dtype []byte
	dims  []uint64 // nil = scalar
	data  []byte
	vlen  []string // variable-length strings, encoded at Close
	refs  []*heapRef
}

// Create creates (truncates) the file at path.
func Create(path string) (*Writer, error) {
	fh, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w := NewWriter(fh)
	w.closer = fh
	return w, nil
}

// NewWriter returns a Writer that writes the file to out on Close (out is
// not closed).
func NewWriter(out io.Writer) *Writer {
	w := &Writer{out: out}
	w.root = &WGroup{w: w, path: "/", children: map[string]any{}}
	return w
}

// Root returns the root group.
func (w *Writer) Root() *WGroup { return w.root }

// Err returns the first error recorded by a call that cannot return one
// (CreateGroup); Close returns it too.
func (w *Writer) Err() error { return w.err }

func (w *Writer) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

func checkName(name string) error {
	if name == "" || name == "." || strings.Contains(name, "/") || strings.IndexByte(name, 0) >= 0 {
		return fmt.Errorf("hdf5: invalid object name %q", name)
	}
	return nil
}

// Name returns the group's full path.
func (g *WGroup) Name() string { return g.path }

// CreateGroup creates (or returns the existing) subgroup; name may be a
// path "a/b/c". Errors (name clashes with a dataset, invalid names) are
// reported by Writer.Err and Close.
func (g *WGroup) CreateGroup(name string) *WGroup {
	cur := g
	for _, p := range strings.Split(strings.Trim(name, "/"), "/") {
		if err := checkName(p); err != nil {
			g.w.fail(err)
			return &WGroup{w: g.w, name: p, path: joinPath(cur.path, p), children: map[string]any{}}
		}
		switch c := cur.children[p].(type) {
		case *WGroup:
			cur = c
		case nil:
			ng := &WGroup{w: g.w, name: p, path: joinPath(cur.path, p), children: map[string]any{}}
			cur.children[p] = ng
			cur = ng
		default:
			err := fmt.Errorf("hdf5: %s already exists and is not a group", joinPath(cur.path, p))
			g.w.fail(err)
			return &WGroup{w: g.w, name: p, path: joinPath(cur.path, p), children: map[string]any{}}
		}
	}
	return cur
}

// CreateDataset adds a contiguous dataset. data is one of []float32,
// []float64, []int8, []int16, []int32, []int64, []uint8, []uint16,
// []uint32, []uint64, []bool, []string (fixed-length) or VarStrings, with
// as many elements as the shape implies (a nil/empty shape is a scalar
// holding one element). Numeric slices are referenced, not copied: do not
// modify them before Close.
func (g *WGroup) CreateDataset(name string, shape []uint64, data any) (*WDataset, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if _, ok := g.children[name]; ok {
		return nil, fmt.Errorf("hdf5: %s already exists", joinPath(g.path, name))
	}
	n := uint64(1)
	for _, d := range shape {
		var ok bool
		if n, ok = mulCheck(n, d); !ok {
			return nil, fmt.Errorf("hdf5: dataset %s: shape %v overflows", name, shape)
		}
	}
	if len(shape) > maxRank {
		return nil, fmt.Errorf("hdf5: dataset %s: rank %d too large", name, len(shape))
	}
	ds := &WDataset{w: g.w, name: name, path: joinPath(g.path, name), shape: append([]uint64(nil), shape...)}
	dt, es, raw, vl, count, err := encodeValues(data)
	if err != nil {
		return nil, fmt.Errorf("hdf5: dataset %s: %w", name, err)
	}
	if count != n {
		return nil, fmt.Errorf("hdf5: dataset %s: %d elements for shape %v", name, count, shape)
	}
	ds.dtype, ds.esize, ds.data, ds.vlen = dt, es, raw, vl
	g.children[name] = ds
	return ds, nil
}

// Name returns the dataset's full path.
func (d *WDataset) Name() string { return d.path }

// SetAttr sets an attribute on the group. See WDataset.SetAttr.
func (g *WGroup) SetAttr(name string, value any) error {
	a, err := makeAttr(name, value)
	if err != nil {
		return fmt.Errorf("hdf5: attribute %s of %s: %w", name, g.path, err)
	}
	g.attrs = setAttr(g.attrs, a)
	return nil
}

// SetAttr sets an attribute. value is string (variable-length UTF-8
// string, as h5py writes str), []string (fixed-length NUL-padded byte
// strings, like numpy 'S' arrays), VarStrings (variable-length string
// array), bool, int/int32/int64, uint8..uint64, float32/float64 scalars,
// or slices of those numeric types ([]byte is uint8).
func (d *WDataset) SetAttr(name string, value any) error {
	a, err := makeAttr(name, value)
	if err != nil {
		return fmt.Errorf("hdf5: attribute %s of %s: %w", name, d.path, err)
	}
	d.attrs = setAttr(d.attrs, a)
	return nil
}

func setAttr(list []*wattr, a *wattr) []*wattr {
	for i, o := range list {
		if o.name == a.name {
			list[i] = a
			return list
		}
	}
	return append(list, a)
}

// maxAttrMessage is the largest attribute that fits in a header message.
const maxAttrMessage = 65535 - 64

func makeAttr(name string, value any) (*wattr, error) {
	if name == "" || strings.IndexByte(name, 0) >= 0 {
		return nil, errors.New("invalid attribute name")
	}
	a := &wattr{name: name}
	scalar := true
	switch value.(type) {
	case string, bool, int, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float32, float64:
	default:
		scalar = false
	}
	var v any
	switch x := value.(type) {
	case string:
		v = VarStrings{x}
	case bool:
		v = []bool{x}
	case int:
		v = []int64{int64(x)}
	case int8:
		v = []int8{x}
	case int16:
		v = []int16{x}
	case int32:
		v = []int32{x}
	case int64:
		v = []int64{x}
	case uint8:
		v = []uint8{x}
	case uint16:
		v = []uint16{x}
	case uint32:
		v = []uint32{x}
	case uint64:
		v = []uint64{x}
	case float32:
		v = []float32{x}
	case float64:
		v = []float64{x}
	case []int:
		s := make([]int64, len(x))
		for i, e := range x {
			s[i] = int64(e)
		}
		v = s
	default:
		v = value
	}
	dt, _, raw, vl, n, err := encodeValues(v)
	if err != nil {
		return nil, err
	}
	a.dtype = dt
	a.data = append([]byte(nil), raw...)
	a.vlen = append([]string(nil), vl...)
	if vl != nil {
		a.data = make([]byte, 16*len(vl))
	}
	if !scalar {
		a.dims = []uint64{n}
	}
	if size := 8 + align8(len(name)+1) + align8(len(dt)) + align8(len(encDataspace(a.dims))) + len(a.data); size > maxAttrMessage {
		return nil, fmt.Errorf("attribute of %d bytes exceeds the 64 KiB header message limit", size)
	}
	return a, nil
}

func sliceBytes[T any](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(s[0])))
}

// leBytes returns the little-endian bytes of a numeric slice, aliasing it
// on little-endian hosts.
func leBytes[T any](s []T) []byte {
	b := sliceBytes(s)
	if nativeLE || len(s) == 0 {
		return b
	}
	es := int(unsafe.Sizeof(s[0]))
	out := make([]byte, len(b))
	for i := 0; i < len(b); i += es {
		for j := 0; j < es; j++ {
			out[i+j] = b[i+es-1-j]
		}
	}
	return out
}

// encodeValues maps a Go slice to a datatype message and raw bytes.
func encodeValues(data any) (dtype []byte, esize uint64, raw []byte, vlen VarStrings, n uint64, err error) {
	switch x := data.(type) {
	case []float32:
		return encFloatType(4), 4, leBytes(x), nil, uint64(len(x)), nil
	case []float64:
		return encFloatType(8), 8, leBytes(x), nil, uint64(len(x)), nil
	case []int8:
		return encIntType(1, true), 1, leBytes(x), nil, uint64(len(x)), nil
	case []int16:
		return encIntType(2, true), 2, leBytes(x), nil, uint64(len(x)), nil
	case []int32:
		return encIntType(4, true), 4, leBytes(x), nil, uint64(len(x)), nil
	case []int64:
		return encIntType(8, true), 8, leBytes(x), nil, uint64(len(x)), nil
	case []uint8:
		return encIntType(1, false), 1, leBytes(x), nil, uint64(len(x)), nil
	case []uint16:
		return encIntType(2, false), 2, leBytes(x), nil, uint64(len(x)), nil
	case []uint32:
		return encIntType(4, false), 4, leBytes(x), nil, uint64(len(x)), nil
	case []uint64:
		return encIntType(8, false), 8, leBytes(x), nil, uint64(len(x)), nil
	case []bool:
		b := make([]byte, len(x))
		for i, v := range x {
			if v {
				b[i] = 1
			}
		}
		return encBoolType(), 1, b, nil, uint64(len(x)), nil
	case []string:
		size := 1
		for _, s := range x {
			size = max(size, len(s))
		}
		b := make([]byte, size*len(x))
		for i, s := range x {
			copy(b[i*size:], s)
		}
		return encFixedStringType(size), uint64(size), b, nil, uint64(len(x)), nil
	case VarStrings:
		if x == nil {
			x = VarStrings{}
		}
		return encVarStringType(), 16, nil, x, uint64(len(x)), nil
	}
	return nil, 0, nil, nil, 0, fmt.Errorf("unsupported value type %T", data)
}
