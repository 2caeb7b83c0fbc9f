package hdf5

import (
	"encoding/binary"
	"math"
)

// encoder appends little-endian values to a byte slice.
type encoder struct{ b []byte }

func (e *encoder) u8(v uint8)   { e.b = append(e.b, v) }
func (e *encoder) u16(v uint16) { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *encoder) raw(b []byte) { e.b = append(e.b, b...) }
func (e *encoder) zeros(n int) {
	for i := 0; i < n; i++ {
		e.b = append(e.b, 0)
	}
}
func (e *encoder) pad8() { e.zeros(align8(len(e.b)) - len(e.b)) }

// Datatype message encodings (version 1), as libhdf5 writes them.

func encIntType(size int, signed bool) []byte {
	e := &encoder{}
	e.u8(0x10)
	if signed {
		e.u8(0x08)
	} else {
		e.u8(0)
	}
	e.u8(0)
	e.u8(0)
	e.u32(uint32(size))
	e.u16(0)
	e.u16(uint16(size * 8))
	return e.b
}

func encFloatType(size int) []byte {
	e := &encoder{}
	e.u8(0x11)
	if size == 4 {
		e.raw([]byte{0x20, 31, 0})
		e.u32(4)
		e.u16(0)
		e.u16(32)
		e.raw([]byte{23, 8, 0, 23})
		e.u32(127)
	} else {
		e.raw([]byte{0x20, 63, 0})
		e.u32(8)
		e.u16(0)
		e.u16(64)
		e.raw([]byte{52, 11, 0, 52})
		e.u32(1023)
	}
	return e.b
}

func encFixedStringType(size int) []byte {
	e := &encoder{}
	e.u8(0x13)
	e.raw([]byte{PadNullPad | CharsetASCII<<4, 0, 0})
	e.u32(uint32(size))
	return e.b
}

func encVarStringType() []byte {
	e := &encoder{}
	e.u8(0x19)
	e.raw([]byte{0x01, CharsetUTF8, 0})
	e.u32(16)
	e.raw(encIntType(1, false))
	return e.b
}

func encBoolType() []byte {
	e := &encoder{}
	e.u8(0x18)
	e.raw([]byte{2, 0, 0})
	e.u32(1)
	e.raw(encIntType(1, true))
	e.raw([]byte("FALSE\x00\x00\x00TRUE\x00\x00\x00\x00"))
	e.raw([]byte{0, 1})
	return e.b
}

// encDataspace encodes a version 1 dataspace (scalar when dims is nil).
func encDataspace(dims []uint64) []byte {
	e := &encoder{}
	e.u8(1)
	e.u8(uint8(len(dims)))
	if len(dims) > 0 {
		e.u8(1)
	} else {
		e.u8(0)
	}
	e.zeros(5)
	for _, d := range dims {
		e.u64(d)
	}
	for _, d := range dims {
		e.u64(d)
	}
	return e.b
}

func putF32(b []byte, v float32) { binary.LittleEndian.PutUint32(b, math.Float32bits(v)) }
func putF64(b []byte, v float64) { binary.LittleEndian.PutUint64(b, math.Float64bits(v)) }
