package npy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/retarget-dev/retarget/internal/boundedio"
)

// Array is a float32 array in C (row-major) order.
type Array struct {
	Shape []int
	Data  []float32
	// Descr is the dtype the file held, e.g. "<i8" (Read converts to float32).
	Descr string
}

// FormatError is a problem with an .npy file.
type FormatError struct {
	File string // "" when read from a stream
	Err  error
}

func (e *FormatError) Error() string {
	f := e.File
	if f == "" {
		f = "<stream>"
	}
	return fmt.Sprintf("%s: not a usable .npy array: %v", f, e.Err)
}

func (e *FormatError) Unwrap() error { return e.Err }

// ReadFile reads an .npy file.
func ReadFile(path string) (*Array, error) { return ReadFileInto(path, nil) }

// ReadFileInto is ReadFile decoding into dst's storage when it has room
// for the whole array (so a caller reading many files of one size reuses
// one buffer).
func ReadFileInto(path string, dst []float32) (*Array, error) {
	f, size, err := boundedio.Open(path, "an .npy file")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	a, err := read(f, size, dst)
	if err != nil {
		return nil, &FormatError{File: path, Err: err}
	}
	return a, nil
}

// Read decodes an .npy stream. size is the stream's length, or -1 when
// unknown; either way a header cannot make Read allocate much more than
// the data the stream really holds.
func Read(r io.Reader, size int64) (*Array, error) {
	a, err := read(r, size, nil)
	if err != nil {
		return nil, &FormatError{Err: err}
	}
	return a, nil
}

// ReadHeader decodes the header and returns it with its length in bytes
// (magic and preamble included), leaving r at the start of the data.
func ReadHeader(r io.Reader) (Header, int64, error) {
	h, n, err := readHeader(r)
	if err != nil {
		return h, n, &FormatError{Err: err}
	}
	return h, n, nil
}

func readHeader(r io.Reader) (Header, int64, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return Header{}, 0, fmt.Errorf("reading the magic: %w", boundedio.UnexpectedEOF(err))
	}
	if string(pre[:6]) != Magic {
		return Header{}, 0, errors.New("no .npy magic (\\x93NUMPY) at the start")
	}
	major := pre[6]
	var hlen int64
	n := int64(8)
	switch major {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return Header{}, 0, fmt.Errorf("reading the header length: %w", boundedio.UnexpectedEOF(err))
		}
		hlen, n = int64(binary.LittleEndian.Uint16(b[:])), n+2
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return Header{}, 0, fmt.Errorf("reading the header length: %w", boundedio.UnexpectedEOF(err))
		}
		hlen, n = int64(binary.LittleEndian.Uint32(b[:])), n+4
	default:
		return Header{}, 0, fmt.Errorf("format version %d.%d is not supported", major, pre[7])
	}
	if hlen > maxHeaderLen {
		return Header{}, 0, fmt.Errorf("header of %d bytes is too long", hlen)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(r, hb); err != nil {
		return Header{}, 0, fmt.Errorf("reading the header: %w", boundedio.UnexpectedEOF(err))
	}
	h, err := parseHeader(string(hb))
	return h, n + hlen, err
}

func read(r io.Reader, size int64, dst []float32) (*Array, error) {
	h, hn, err := readHeader(r)
	if err != nil {
		return nil, err
	}
	if h.Fortran {
		return nil, errors.New("Fortran-order arrays are not supported: save with np.ascontiguousarray(a)")
	}
	dt, err := parseDescr(h.Descr)
	if err != nil {
		return nil, err
	}
	count, ok := elements(h.Shape)
	if !ok || count > math.MaxInt64/int64(dt.size) {
		return nil, fmt.Errorf("shape %v is too large", h.Shape)
	}
	nbytes := count * int64(dt.size)
	if size >= 0 {
		if have := size - hn; have != nbytes {
			return nil, fmt.Errorf("shape %v of %s needs %d data bytes, the file holds %d", h.Shape, h.Descr, nbytes, have)
		}
	}
	// with the size known and checked, the file holds all the data: one
	// allocation; else grow as data arrives
	var out []float32
	switch {
	case size >= 0 && int64(cap(dst)) >= count:
		out = dst[:0]
	case size >= 0:
		out = make([]float32, 0, count)
	}
	data, err := readData(r, dt, count, out)
	if err != nil {
		return nil, err
	}
	if size < 0 {
		var one [1]byte
		if n, _ := io.ReadFull(r, one[:]); n > 0 {
			return nil, errors.New("data after the array")
		}
	}
	return &Array{Shape: h.Shape, Data: data, Descr: h.Descr}, nil
}

// readData converts count elements. It grows its result as data arrives,
// so a header that lies about the size fails at EOF, not at allocation.
func readData(r io.Reader, dt dtype, count int64, out []float32) ([]float32, error) {
	const chunkElems = 1 << 16
	if out == nil {
		out = make([]float32, 0, min(count, chunkElems))
	}
	buf := make([]byte, chunkElems*dt.size)
	for int64(len(out)) < count {
		m := int(min(count-int64(len(out)), chunkElems))
		b := buf[:m*dt.size]
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("reading element %d of %d: %w", len(out), count, boundedio.UnexpectedEOF(err))
		}
		if dt.kind == 'f' && dt.size == 4 && !dt.bigEnd {
			// the common case, without the general decoder (4x faster)
			for i := 0; i < m; i++ {
				out = append(out, math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
			}
			continue
		}
		for i := 0; i < m; i++ {
			out = append(out, decode(b[i*dt.size:(i+1)*dt.size], dt))
		}
	}
	return out, nil
}

func decode(b []byte, dt dtype) float32 {
	var u uint64
	if dt.bigEnd {
		for _, c := range b {
			u = u<<8 | uint64(c)
		}
	} else {
		for i := len(b) - 1; i >= 0; i-- {
			u = u<<8 | uint64(b[i])
		}
	}
	switch dt.kind {
	case 'b':
		if u != 0 {
			return 1
		}
		return 0
	case 'u':
		return float32(u)
	case 'i':
		shift := 64 - 8*uint(dt.size)
		return float32(int64(u<<shift) >> shift)
	}
	switch dt.size {
	case 2:
		return halfToFloat32(uint16(u))
	case 4:
		return math.Float32frombits(uint32(u))
	}
	return float32(math.Float64frombits(u))
}

// halfToFloat32 converts an IEEE 754 binary16 value.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf, NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: normalise
		e := uint32(127 - 15 + 1)
		for frac&0x400 == 0 {
			frac <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (frac&0x3ff)<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}

func elements(shape []int) (int64, bool) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d != 0 && n > math.MaxInt64/int64(d) {
			return 0, false
		}
		n *= int64(d)
	}
	return n, true
}
