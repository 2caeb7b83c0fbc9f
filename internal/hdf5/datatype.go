package hdf5

import (
	"fmt"
	"strings"
)

// Class is an HDF5 datatype class.
type Class uint8

// Datatype classes, numbered as in the HDF5 format.
const (
	ClassInteger   Class = 0
	ClassFloat     Class = 1
	ClassTime      Class = 2
	ClassString    Class = 3
	ClassBitfield  Class = 4
	ClassOpaque    Class = 5
	ClassCompound  Class = 6
	ClassReference Class = 7
	ClassEnum      Class = 8
	ClassVarLen    Class = 9
	ClassArray     Class = 10
)

var classNames = [...]string{"integer", "float", "time", "string", "bitfield", "opaque",
	"compound", "reference", "enum", "variable-length", "array"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// String padding and character sets.
const (
	PadNullTerm  = 0
	PadNullPad   = 1
	PadSpacePad  = 2
	CharsetASCII = 0
	CharsetUTF8  = 1
)

// Datatype describes the element type of a dataset or attribute.
type Datatype struct {
	Class     Class
	Size      uint32 // bytes per element (16 for variable-length)
	BigEndian bool
	Signed    bool // integers
	// Strings (fixed or variable length).
	VarString bool  // variable-length string
	StrPad    uint8 // PadNullTerm, PadNullPad, PadSpacePad
	Charset   uint8 // CharsetASCII or CharsetUTF8
	// Base type of enums, variable-length sequences and arrays.
	Base *Datatype
	// Enums.
	EnumNames  []string
	EnumValues []int64
	// Compounds.
	Members []Member
	// Arrays.
	Dims []uint32

	vax bool
}

// Member is a compound datatype member.
type Member struct {
	Name   string
	Offset uint32
	Type   *Datatype
}

// IsBool reports whether the type is the enum h5py uses for numpy booleans.
func (t *Datatype) IsBool() bool {
	return t.Class == ClassEnum && t.Base != nil && t.Base.Class == ClassInteger && len(t.EnumNames) == 2 &&
		t.EnumNames[0] == "FALSE" && t.EnumNames[1] == "TRUE" && t.EnumValues[0] == 0 && t.EnumValues[1] == 1
}

// IsString reports whether elements are strings (fixed or variable length).
func (t *Datatype) IsString() bool {
	return t.Class == ClassString || (t.Class == ClassVarLen && t.VarString)
}

func (t *Datatype) String() string {
	switch t.Class {
	case ClassInteger:
		s := "uint"
		if t.Signed {
			s = "int"
		}
		return fmt.Sprintf("%s%d%s", s, t.Size*8, t.orderSuffix())
	case ClassFloat:
		return fmt.Sprintf("float%d%s", t.Size*8, t.orderSuffix())
	case ClassString:
		return fmt.Sprintf("string(%d)", t.Size)
	case ClassVarLen:
		if t.VarString {
			return "vlen string"
		}
		return "vlen(" + t.Base.String() + ")"
	case ClassEnum:
		if t.IsBool() {
			return "bool"
		}
		return "enum(" + t.Base.String() + ")"
	case ClassCompound:
		names := make([]string, len(t.Members))
		for i, m := range t.Members {
			names[i] = m.Name + ":" + m.Type.String()
		}
		return "compound{" + strings.Join(names, ",") + "}"
	case ClassArray:
		return fmt.Sprintf("array%v(%s)", t.Dims, t.Base)
	}
	return fmt.Sprintf("%s(%d)", t.Class, t.Size)
}

func (t *Datatype) orderSuffix() string {
	if t.BigEndian && t.Size > 1 {
		return "be"
	}
	return ""
}

const maxTypeDepth = 16

// parseDatatype decodes a datatype message, returning the bytes consumed.
func parseDatatype(b []byte) (*Datatype, int, error) {
	d := newDecoder(b, nil)
	t, err := decodeDatatype(d, 0)
	if err != nil {
		return nil, 0, err
	}
	return t, d.off, nil
}

func decodeDatatype(d *decoder, depth int) (*Datatype, error) {
	const what = "datatype message"
	if depth > maxTypeDepth {
		return nil, formatErr(what, 0, "nested too deeply")
	}
	cv := d.u8()
	bf0, bf1, bf2 := d.u8(), d.u8(), d.u8()
	bits := uint32(bf0) | uint32(bf1)<<8 | uint32(bf2)<<16
	t := &Datatype{Class: Class(cv & 0x0f), Size: d.u32()}
	ver := cv >> 4
	if d.err != nil {
		return nil, formatErr(what, 0, "truncated")
	}
	if ver < 1 || ver > 5 {
		return nil, formatErr(what, 0, "unknown version %d", ver)
	}
	switch t.Class {
	case ClassInteger:
		t.BigEndian = bits&1 != 0
		t.Signed = bits&8 != 0
		d.skip(4)
	case ClassFloat:
		t.BigEndian = bits&1 != 0
		t.vax = bits&0x40 != 0
		d.skip(12)
	case ClassTime:
		t.BigEndian = bits&1 != 0
		d.skip(2)
	case ClassString:
		t.StrPad = uint8(bits & 0x0f)
		t.Charset = uint8(bits>>4) & 0x0f
	case ClassBitfield:
		t.BigEndian = bits&1 != 0
		d.skip(4)
	case ClassOpaque:
		d.skip(align8(int(bits & 0xff)))
	case ClassCompound:
		n := int(bits & 0xffff)
		if n > d.remaining() {
			return nil, formatErr(what, 0, "compound member count %d too large", n)
		}
		for i := 0; i < n; i++ {
			var m Member
			start := d.off
			m.Name = d.cstring()
			if ver < 3 {
				pad := align8(d.off-start) - (d.off - start)
				d.skip(pad)
			}
			switch {
			case ver == 1:
				m.Offset = d.u32()
				d.skip(4 + 4 + 4 + 16)
			case ver == 2:
				m.Offset = d.u32()
			default:
				nb := 1
				for t.Size >= 1<<(8*uint(nb)) && nb < 4 {
					nb++
				}
				m.Offset = uint32(d.uvar(nb))
			}
			if d.err != nil {
				return nil, formatErr(what, 0, "truncated compound member")
			}
			mt, err := decodeDatatype(d, depth+1)
			if err != nil {
				return nil, err
			}
			m.Type = mt
			t.Members = append(t.Members, m)
		}
	case ClassReference:
	case ClassEnum:
		n := int(bits & 0xffff)
		base, err := decodeDatatype(d, depth+1)
		if err != nil {
			return nil, err
		}
		t.Base = base
		if n > d.remaining() {
			return nil, formatErr(what, 0, "enum member count %d too large", n)
		}
		for i := 0; i < n; i++ {
			start := d.off
			t.EnumNames = append(t.EnumNames, d.cstring())
			if ver < 3 {
				d.skip(align8(d.off-start) - (d.off - start))
			}
		}
		for i := 0; i < n; i++ {
			v := d.bytes(int(base.Size))
			if d.err != nil {
				break
			}
			t.EnumValues = append(t.EnumValues, enumValue(v, base))
		}
	case ClassVarLen:
		t.VarString = bits&0x0f == 1
		t.StrPad = uint8(bits>>4) & 0x0f
		t.Charset = uint8(bits>>8) & 0x0f
		base, err := decodeDatatype(d, depth+1)
		if err != nil {
			return nil, err
		}
		t.Base = base
	case ClassArray:
		rank := int(d.u8())
		if ver < 3 {
			d.skip(3)
		}
		if rank > maxRank {
			return nil, formatErr(what, 0, "array rank %d too large", rank)
		}
		for i := 0; i < rank; i++ {
			t.Dims = append(t.Dims, d.u32())
		}
		if ver < 3 {
			d.skip(4 * rank)
		}
		base, err := decodeDatatype(d, depth+1)
		if err != nil {
			return nil, err
		}
		t.Base = base
	default:
		return nil, formatErr(what, 0, "unknown class %d", t.Class)
	}
	if d.err != nil {
		return nil, formatErr(what, 0, "truncated %s type", t.Class)
	}
	return t, nil
}

func enumValue(v []byte, base *Datatype) int64 {
	if len(v) > 8 {
		v = v[:8]
	}
	var u uint64
	if base.BigEndian {
		for _, c := range v {
			u = u<<8 | uint64(c)
		}
	} else {
		u = uvarBytes(v)
	}
	if base.Signed && len(v) > 0 && len(v) < 8 {
		shift := 64 - 8*uint(len(v))
		return int64(u<<shift) >> shift
	}
	return int64(u)
}
