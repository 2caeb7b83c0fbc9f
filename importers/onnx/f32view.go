package onnx

import (
	"encoding/binary"
	"math"
	"unsafe"
)

// littleEndian is true on hosts that store float32 as ONNX's raw_data does.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// float32View returns n little-endian float32 values from raw. On
// little-endian hosts with raw 4-byte aligned (Go's allocations are), the
// slice shares raw's memory instead of copying it: the weights of a big
// model then exist once, in the buffer protobuf decoded them into.
func float32View(raw []byte, n int) []float32 {
	if n == 0 {
		return []float32{}
	}
	if littleEndian && uintptr(unsafe.Pointer(&raw[0]))%4 == 0 {
		return unsafe.Slice((*float32)(unsafe.Pointer(&raw[0])), n)
	}
	out := make([]float32, n)
	for k := range out {
		out[k] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*k:]))
	}
	return out
}
