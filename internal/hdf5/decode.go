package hdf5

import "encoding/binary"

// undefAddr is the HDF5 "undefined address" (all bits set).
const undefAddr = ^uint64(0)

// decoder is a bounds-checked little-endian reader over a byte slice with a
// sticky error; reads past the end yield zero values and set err.
type decoder struct {
	b        []byte
	off      int
	err      error
	osz, lsz int
}

func newDecoder(b []byte, f *File) *decoder {
	d := &decoder{b: b, osz: 8, lsz: 8}
	if f != nil {
		d.osz, d.lsz = f.osz, f.lsz
	}
	return d
}

func (d *decoder) need(n int) bool {
	if d.err != nil {
		return false
	}
	if n < 0 || n > len(d.b)-d.off {
		d.err = errShort
		return false
	}
	return true
}

func (d *decoder) remaining() int { return len(d.b) - d.off }

func (d *decoder) u8() uint8 {
	if !d.need(1) {
		return 0
	}
	v := d.b[d.off]
	d.off++
	return v
}

func (d *decoder) u16() uint16 {
	if !d.need(2) {
		return 0
	}
	v := binary.LittleEndian.Uint16(d.b[d.off:])
	d.off += 2
	return v
}

func (d *decoder) u32() uint32 {
	if !d.need(4) {
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v
}

func (d *decoder) u64() uint64 { return d.uvar(8) }

// uvar reads an n-byte (0..8) little-endian unsigned integer.
func (d *decoder) uvar(n int) uint64 {
	if n < 0 || n > 8 {
		if d.err == nil {
			d.err = errShort
		}
		return 0
	}
	if !d.need(n) {
		return 0
	}
	v := uvarBytes(d.b[d.off : d.off+n])
	d.off += n
	return v
}

// uvarBytes decodes a little-endian unsigned integer of len(b) <= 8 bytes.
func uvarBytes(b []byte) uint64 {
	var v uint64
	for i := len(b) - 1; i >= 0 && i < 8; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func (d *decoder) addr() uint64 {
	if !d.need(d.osz) {
		return undefAddr
	}
	allOnes := true
	for _, c := range d.b[d.off : d.off+d.osz] {
		if c != 0xff {
			allOnes = false
			break
		}
	}
	v := d.uvar(d.osz)
	if allOnes {
		return undefAddr
	}
	return v
}

func (d *decoder) length() uint64 { return d.uvar(d.lsz) }

func (d *decoder) bytes(n int) []byte {
	if !d.need(n) {
		return nil
	}
	v := d.b[d.off : d.off+n]
	d.off += n
	return v
}

func (d *decoder) skip(n int) {
	if d.need(n) {
		d.off += n
	}
}

// cstring reads a NUL-terminated string (consuming the NUL).
func (d *decoder) cstring() string {
	if d.err != nil {
		return ""
	}
	for i := d.off; i < len(d.b); i++ {
		if d.b[i] == 0 {
			s := string(d.b[d.off:i])
			d.off = i + 1
			return s
		}
	}
	d.err = errShort
	return ""
}

func align8(n int) int { return (n + 7) &^ 7 }

// cstr returns b up to the first NUL.
func cstr(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// log2floor returns floor(log2(v)) for v > 0 and 0 for v == 0.
func log2floor(v uint64) int {
	n := -1
	for v != 0 {
		v >>= 1
		n++
	}
	if n < 0 {
		return 0
	}
	return n
}

// mulCheck multiplies with overflow detection.
func mulCheck(a, b uint64) (uint64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	c := a * b
	if c/b != a {
		return 0, false
	}
	return c, true
}
