package hdf5

import "bytes"

// Header message types.
const (
	msgNil          = 0x00
	msgDataspace    = 0x01
	msgLinkInfo     = 0x02
	msgDatatype     = 0x03
	msgFillOld      = 0x04
	msgFill         = 0x05
	msgLink         = 0x06
	msgExternal     = 0x07
	msgLayout       = 0x08
	msgGroupInfo    = 0x0a
	msgFilters      = 0x0b
	msgAttribute    = 0x0c
	msgContinuation = 0x10
	msgSymbolTable  = 0x11
	msgAttrInfo     = 0x15
)

type message struct {
	typ   uint16
	flags uint8
	order uint16
	data  []byte
}

type objectHeader struct {
	addr    uint64
	version int
	msgs    []message
}

func (oh *objectHeader) find(typ uint16) *message {
	for i := range oh.msgs {
		if oh.msgs[i].typ == typ {
			return &oh.msgs[i]
		}
	}
	return nil
}

const maxHeaderMessages = 1 << 16

// objectHeader reads (and caches) the object header at addr.
func (f *File) objectHeader(addr uint64) (*objectHeader, error) {
	if oh, ok := f.ohCache[addr]; ok {
		return oh, nil
	}
	oh, err := f.parseObjectHeader(addr)
	if err != nil {
		return nil, err
	}
	f.ohCache[addr] = oh
	return oh, nil
}

func (f *File) parseObjectHeader(addr uint64) (*objectHeader, error) {
	const what = "object header"
	pre, err := f.readAtMost(addr, 64)
	if err != nil {
		return nil, err
	}
	oh := &objectHeader{addr: addr}
	type chunk struct{ addr, size uint64 }
	var queue []chunk
	seen := map[uint64]bool{addr: true}
	creationOrder := false

	parseMsgs := func(b []byte, caddr uint64) error {
		d := newDecoder(b, f)
		for {
			if oh.version == 1 {
				if d.remaining() < 8 {
					return nil
				}
			} else {
				hs := 4
				if creationOrder {
					hs = 6
				}
				if d.remaining() < hs {
					return nil
				}
			}
			var m message
			var size int
			if oh.version == 1 {
				m.typ = d.u16()
				size = int(d.u16())
				m.flags = d.u8()
				d.skip(3)
			} else {
				m.typ = uint16(d.u8())
				size = int(d.u16())
				m.flags = d.u8()
				if creationOrder {
					m.order = d.u16()
				}
			}
			m.data = d.bytes(size)
			if d.err != nil {
				return formatErr(what, caddr, "message of %d bytes overruns chunk", size)
			}
			if len(oh.msgs) >= maxHeaderMessages {
				return formatErr(what, addr, "too many messages")
			}
			if m.typ == msgContinuation {
				cd := newDecoder(m.data, f)
				ca := cd.addr()
				cl := cd.length()
				if cd.err != nil || ca == undefAddr {
					return formatErr(what, caddr, "bad continuation message")
				}
				if seen[ca] {
					return formatErr(what, caddr, "continuation cycle at 0x%x", ca)
				}
				seen[ca] = true
				queue = append(queue, chunk{ca, cl})
				continue
			}
			oh.msgs = append(oh.msgs, m)
		}
	}

	if len(pre) >= 4 && bytes.Equal(pre[:4], []byte("OHDR")) {
		d := newDecoder(pre, f)
		d.skip(4)
		oh.version = int(d.u8())
		if oh.version != 2 {
			return nil, formatErr(what, addr, "bad v2 header version %d", oh.version)
		}
		flags := d.u8()
		if flags&0x20 != 0 {
			d.skip(16)
		}
		if flags&0x10 != 0 {
			d.skip(4)
		}
		creationOrder = flags&0x04 != 0
		size := d.uvar(1 << (flags & 3))
		if d.err != nil {
			return nil, formatErr(what, addr, "truncated prefix")
		}
		prefix := uint64(d.off)
		if size > uint64(f.size) {
			return nil, formatErr(what, addr, "chunk size %d too large", size)
		}
		b, err := f.readAt(addr, prefix+size+4)
		if err != nil {
			return nil, err
		}
		if err := verifyChecksum(b, what, addr); err != nil {
			return nil, err
		}
		if err := parseMsgs(b[prefix:prefix+size], addr); err != nil {
			return nil, err
		}
	} else {
		d := newDecoder(pre, f)
		oh.version = int(d.u8())
		if oh.version != 1 {
			return nil, formatErr(what, addr, "unknown object header version %d", oh.version)
		}
		d.skip(1)
		d.u16() // number of messages
		d.u32() // reference count
		size := d.u32()
		if d.err != nil {
			return nil, formatErr(what, addr, "truncated prefix")
		}
		b, err := f.readAt(addr+16, uint64(size))
		if err != nil {
			return nil, err
		}
		if err := parseMsgs(b, addr); err != nil {
			return nil, err
		}
	}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		b, err := f.readAt(c.addr, c.size)
		if err != nil {
			return nil, err
		}
		if oh.version == 2 {
			if len(b) < 8 || !bytes.Equal(b[:4], []byte("OCHK")) {
				return nil, formatErr(what, c.addr, "bad continuation block signature")
			}
			if err := verifyChecksum(b, what, c.addr); err != nil {
				return nil, err
			}
			b = b[4 : len(b)-4]
		}
		if err := parseMsgs(b, c.addr); err != nil {
			return nil, err
		}
	}
	return oh, nil
}

// readSigned reads the n bytes at addr of a metadata block that starts with
// the 4-byte signature sig and ends with its lookup3 checksum. block names
// the part of what that is read ("header", "data block"), for errors.
func (f *File) readSigned(addr, n uint64, sig, what, block string) ([]byte, error) {
	b, err := f.readAt(addr, n)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(b[:4], []byte(sig)) {
		if block == "" {
			return nil, formatErr(what, addr, "bad signature")
		}
		return nil, formatErr(what, addr, "bad %s signature", block)
	}
	if err := verifyChecksum(b, what, addr); err != nil {
		return nil, err
	}
	return b, nil
}

// verifyChecksum checks that the last 4 bytes of b are the lookup3 checksum
// of the preceding bytes.
func verifyChecksum(b []byte, what string, addr uint64) error {
	if len(b) < 4 {
		return formatErr(what, addr, "too short for checksum")
	}
	n := len(b) - 4
	want := uint32(b[n]) | uint32(b[n+1])<<8 | uint32(b[n+2])<<16 | uint32(b[n+3])<<24
	if lookup3(b[:n], 0) != want {
		return formatErr(what, addr, "checksum mismatch")
	}
	return nil
}

// messageData returns the data of a message, resolving shared messages
// (stored in another object header) when needed.
func (f *File) messageData(m *message, depth int) ([]byte, error) {
	if m.flags&0x02 == 0 {
		return m.data, nil
	}
	if depth > 4 {
		return nil, formatErr("shared message", 0, "too deeply nested")
	}
	d := newDecoder(m.data, f)
	ver := d.u8()
	typ := d.u8()
	var addr uint64
	switch ver {
	case 1:
		d.skip(6)
		addr = d.addr()
	case 2:
		addr = d.addr()
	case 3:
		if typ != 2 {
			return nil, unsupported("shared message in shared object header message heap")
		}
		addr = d.addr()
	default:
		return nil, formatErr("shared message", 0, "unknown version %d", ver)
	}
	if d.err != nil {
		return nil, formatErr("shared message", 0, "truncated")
	}
	if f.ohBusy[addr] {
		return nil, formatErr("shared message", addr, "reference cycle")
	}
	f.ohBusy[addr] = true
	defer delete(f.ohBusy, addr)
	oh, err := f.objectHeader(addr)
	if err != nil {
		return nil, err
	}
	sm := oh.find(m.typ)
	if sm == nil {
		return nil, formatErr("shared message", addr, "target lacks message type %d", m.typ)
	}
	return f.messageData(sm, depth+1)
}
