package hdf5

import (
	"math"
	"strings"
	"unsafe"
)

var nativeLE = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

func loadUint(b []byte, be bool) uint64 {
	var v uint64
	if be {
		for _, c := range b {
			v = v<<8 | uint64(c)
		}
		return v
	}
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func half(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := int(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// subnormal
		v := float32(mant) / 1024 / 16384
		if sign != 0 {
			v = -v
		}
		return v
	case exp == 31:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | uint32(exp-15+127)<<23 | mant<<13)
}

// numericBase unwraps enums to their integer base type.
func numericBase(t *Datatype) *Datatype {
	if t.Class == ClassEnum && t.Base != nil {
		return t.Base
	}
	return t
}

func checkNumeric(t *Datatype) error {
	b := numericBase(t)
	switch b.Class {
	case ClassInteger:
		if b.Size >= 1 && b.Size <= 8 {
			return nil
		}
	case ClassFloat:
		if !b.vax && (b.Size == 2 || b.Size == 4 || b.Size == 8) {
			return nil
		}
	}
	return unsupported("conversion of %s data to numbers", t)
}

// float64At converts element b (len == size) of numeric type t.
func float64At(b []byte, t *Datatype) float64 {
	t = numericBase(t)
	u := loadUint(b, t.BigEndian)
	if t.Class == ClassFloat {
		switch t.Size {
		case 2:
			return float64(half(uint16(u)))
		case 4:
			return float64(math.Float32frombits(uint32(u)))
		default:
			return math.Float64frombits(u)
		}
	}
	if t.Signed {
		return float64(signExtend(u, t.Size))
	}
	return float64(u)
}

func signExtend(u uint64, size uint32) int64 {
	if size >= 8 {
		return int64(u)
	}
	s := 64 - 8*uint(size)
	return int64(u<<s) >> s
}

// toFloat32 converts raw elements of numeric type t into dst.
func toFloat32(dst []float32, raw []byte, t *Datatype) error {
	if err := checkNumeric(t); err != nil {
		return err
	}
	bt := numericBase(t)
	es := int(bt.Size)
	if len(raw) < len(dst)*es {
		return formatErr("data", 0, "short data")
	}
	if bt.Class == ClassFloat && es == 4 {
		for i := range dst {
			u := uint32(loadUint(raw[i*4:i*4+4], bt.BigEndian))
			dst[i] = math.Float32frombits(u)
		}
		return nil
	}
	for i := range dst {
		dst[i] = float32(float64At(raw[i*es:(i+1)*es], bt))
	}
	return nil
}

func trimString(b []byte, pad uint8) string {
	switch pad {
	case PadSpacePad:
		return strings.TrimRight(string(b), " ")
	default:
		return cstr(b)
	}
}

// decodeValue converts n raw elements into a Go value: scalar when
// scalar is true, otherwise a slice.
func (f *File) decodeValue(t *Datatype, n uint64, raw []byte, scalar bool) (any, error) {
	es := uint64(t.Size)
	if es == 0 && n > 0 {
		return nil, formatErr("datatype", 0, "zero-sized elements")
	}
	if uint64(len(raw)) < n*es {
		return nil, formatErr("attribute data", 0, "short data: %d bytes for %d elements of %d", len(raw), n, es)
	}
	if scalar && n == 0 {
		return nil, nil
	}
	el := func(i uint64) []byte { return raw[i*es : (i+1)*es] }
	switch {
	case t.Class == ClassString || (t.Class == ClassVarLen && t.VarString):
		out := make([]string, n)
		for i := range out {
			if t.Class == ClassString {
				out[i] = trimString(el(uint64(i)), t.StrPad)
				continue
			}
			s, err := f.vlenData(el(uint64(i)))
			if err != nil {
				return nil, err
			}
			out[i] = trimString(s, PadNullTerm)
			if t.StrPad != PadNullTerm {
				out[i] = trimString(s, t.StrPad)
			}
		}
		if scalar {
			return out[0], nil
		}
		return out, nil
	case t.IsBool():
		out := make([]bool, n)
		for i := range out {
			out[i] = loadUint(el(uint64(i)), t.Base.BigEndian) != 0
		}
		if scalar {
			return out[0], nil
		}
		return out, nil
	}
	if err := checkNumeric(t); err != nil {
		return nil, err
	}
	bt := numericBase(t)
	switch {
	case bt.Class == ClassFloat:
		out := make([]float64, n)
		for i := range out {
			out[i] = float64At(el(uint64(i)), bt)
		}
		if scalar {
			return out[0], nil
		}
		return out, nil
	case bt.Signed:
		out := make([]int64, n)
		for i := range out {
			out[i] = signExtend(loadUint(el(uint64(i)), bt.BigEndian), bt.Size)
		}
		if scalar {
			return out[0], nil
		}
		return out, nil
	default:
		out := make([]uint64, n)
		for i := range out {
			out[i] = loadUint(el(uint64(i)), bt.BigEndian)
		}
		if scalar {
			return out[0], nil
		}
		return out, nil
	}
}
