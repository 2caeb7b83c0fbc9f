// Package npy reads and writes NumPy .npy arrays.
//
// Read accepts C-order arrays of bool, signed and unsigned integers and
// floats of every size, in either byte order, and converts them to float32
// (integers above 2^24 lose precision, as they would in a float32 model).
// Fortran order, object, string, complex, datetime and structured arrays
// are refused with a FormatError. Write produces version 1.0 files of
// little-endian float32 ("<f4"), which NumPy and every .npy reader load.
package npy

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Magic starts every .npy file.
const Magic = "\x93NUMPY"

// maxHeaderLen bounds the header dictionary (NumPy itself refuses headers
// over 10000 bytes unless told otherwise).
const maxHeaderLen = 1 << 20

// Header is the dictionary at the start of an .npy file.
type Header struct {
	Descr   string // e.g. "<f4"
	Fortran bool
	Shape   []int
}

// dtype is a decoded Descr.
type dtype struct {
	kind   byte // 'b', 'i', 'u', 'f'
	size   int  // bytes per element
	bigEnd bool
}

func parseDescr(d string) (dtype, error) {
	if len(d) < 3 {
		return dtype{}, fmt.Errorf("dtype %q is not supported", d)
	}
	order, kind := d[0], d[1]
	size, err := strconv.Atoi(d[2:])
	if err != nil {
		return dtype{}, fmt.Errorf("dtype %q is not supported", d)
	}
	switch kind {
	case 'O':
		return dtype{}, fmt.Errorf("dtype %q: object arrays are not supported (save a numeric array)", d)
	case 'U', 'S', 'a':
		return dtype{}, fmt.Errorf("dtype %q: string arrays are not supported (save a numeric array)", d)
	case 'c':
		return dtype{}, fmt.Errorf("dtype %q: complex arrays are not supported", d)
	case 'M', 'm':
		return dtype{}, fmt.Errorf("dtype %q: datetime arrays are not supported", d)
	case 'V':
		return dtype{}, fmt.Errorf("dtype %q: void/record arrays are not supported", d)
	}
	ok := false
	switch kind {
	case 'b':
		ok = size == 1
	case 'i', 'u':
		ok = size == 1 || size == 2 || size == 4 || size == 8
	case 'f':
		ok = size == 2 || size == 4 || size == 8
	}
	if !ok {
		return dtype{}, fmt.Errorf("dtype %q is not supported", d)
	}
	t := dtype{kind: kind, size: size}
	switch order {
	case '<', '=': // '=' is native order: little-endian on every platform Go targets here
	case '>':
		t.bigEnd = true
	case '|':
		if size != 1 {
			return dtype{}, fmt.Errorf("dtype %q: byte order '|' on a multi-byte type", d)
		}
	default:
		return dtype{}, fmt.Errorf("dtype %q: unknown byte order %q", d, order)
	}
	return t, nil
}

// parseHeader decodes the Python dict literal of an .npy header.
func parseHeader(s string) (Header, error) {
	p := &pyParser{s: s}
	v, err := p.value(0)
	if err != nil {
		return Header{}, err
	}
	p.skipSpace()
	if p.i != len(p.s) {
		return Header{}, fmt.Errorf("unexpected %q after the header dictionary", p.rest())
	}
	d, ok := v.(map[string]any)
	if !ok {
		return Header{}, fmt.Errorf("the header is not a dictionary")
	}
	var h Header
	switch descr := d["descr"].(type) {
	case string:
		h.Descr = descr
	case []any:
		return h, fmt.Errorf("structured arrays (dtype with fields) are not supported")
	default:
		return h, fmt.Errorf("the header has no 'descr' string")
	}
	fo, ok := d["fortran_order"].(bool)
	if !ok {
		return h, fmt.Errorf("the header has no 'fortran_order' boolean")
	}
	h.Fortran = fo
	shape, ok := d["shape"].([]any)
	if !ok {
		return h, fmt.Errorf("the header has no 'shape' tuple")
	}
	for _, x := range shape {
		n, ok := x.(int)
		if !ok || n < 0 {
			return h, fmt.Errorf("bad shape entry %v", x)
		}
		h.Shape = append(h.Shape, n)
	}
	if h.Shape == nil {
		h.Shape = []int{}
	}
	for k := range d {
		if k != "descr" && k != "fortran_order" && k != "shape" {
			return h, fmt.Errorf("unknown header key %q", k)
		}
	}
	return h, nil
}

// pyParser reads the literals NumPy writes: dicts, tuples, lists, strings,
// integers (with Python 2's L suffix), True, False.
type pyParser struct {
	s string
	i int
}

func (p *pyParser) rest() string {
	r := p.s[p.i:]
	if len(r) > 20 {
		r = r[:20] + "..."
	}
	return r
}

func (p *pyParser) skipSpace() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *pyParser) value(depth int) (any, error) {
	if depth > 16 {
		return nil, fmt.Errorf("header nested too deeply")
	}
	p.skipSpace()
	if p.i >= len(p.s) {
		return nil, fmt.Errorf("the header ends early")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		p.i++
		m := map[string]any{}
		for {
			p.skipSpace()
			if p.i < len(p.s) && p.s[p.i] == '}' {
				p.i++
				return m, nil
			}
			k, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("a header key is not a string")
			}
			p.skipSpace()
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return nil, fmt.Errorf("expected ':' at %q", p.rest())
			}
			p.i++
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			if _, dup := m[ks]; dup {
				return nil, fmt.Errorf("header key %q appears twice", ks)
			}
			m[ks] = v
			if err := p.sep('}'); err != nil {
				return nil, err
			}
		}
	case c == '(' || c == '[':
		end := byte(')')
		if c == '[' {
			end = ']'
		}
		p.i++
		var xs []any
		for {
			p.skipSpace()
			if p.i < len(p.s) && p.s[p.i] == end {
				p.i++
				if xs == nil {
					xs = []any{}
				}
				return xs, nil
			}
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			xs = append(xs, v)
			if err := p.sep(end); err != nil {
				return nil, err
			}
		}
	case c == '\'' || c == '"':
		j := strings.IndexByte(p.s[p.i+1:], c)
		if j < 0 {
			return nil, fmt.Errorf("unterminated string in the header")
		}
		v := p.s[p.i+1 : p.i+1+j]
		p.i += j + 2
		return v, nil
	case c >= '0' && c <= '9':
		j := p.i
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		n, err := strconv.Atoi(p.s[p.i:j])
		if err != nil || n > math.MaxInt32*1024 {
			return nil, fmt.Errorf("number %q out of range", p.s[p.i:j])
		}
		p.i = j
		if p.i < len(p.s) && p.s[p.i] == 'L' {
			p.i++
		}
		return n, nil
	case strings.HasPrefix(p.s[p.i:], "True"):
		p.i += 4
		return true, nil
	case strings.HasPrefix(p.s[p.i:], "False"):
		p.i += 5
		return false, nil
	}
	return nil, fmt.Errorf("unexpected %q in the header", p.rest())
}

// sep consumes a ',' or sees the closing bracket (left for the caller).
func (p *pyParser) sep(end byte) error {
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == ',' {
		p.i++
		return nil
	}
	if p.i < len(p.s) && p.s[p.i] == end {
		return nil
	}
	return fmt.Errorf("expected ',' or %q at %q", end, p.rest())
}
