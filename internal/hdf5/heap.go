package hdf5

import "bytes"

// localHeap reads the data segment of a local heap.
func (f *File) localHeap(addr uint64) ([]byte, error) {
	const what = "local heap"
	b, err := f.readAt(addr, uint64(8+2*f.lsz+f.osz))
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(b[:4], []byte("HEAP")) {
		return nil, formatErr(what, addr, "bad signature")
	}
	d := newDecoder(b, f)
	d.skip(8)
	size := d.length()
	d.length() // free list
	daddr := d.addr()
	if d.err != nil {
		return nil, formatErr(what, addr, "truncated")
	}
	return f.readAt(daddr, size)
}

// globalHeapObject returns object idx of the global heap collection at addr.
func (f *File) globalHeapObject(addr uint64, idx uint32) ([]byte, error) {
	const what = "global heap"
	coll, ok := f.ghCache[addr]
	if !ok {
		hdr, err := f.readAt(addr, uint64(8+f.lsz))
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(hdr[:4], []byte("GCOL")) {
			return nil, formatErr(what, addr, "bad signature")
		}
		d := newDecoder(hdr[8:], f)
		size := d.length()
		b, err := f.readAtMost(addr, size)
		if err != nil {
			return nil, err
		}
		coll = map[uint16][]byte{}
		d = newDecoder(b, f)
		d.skip(8 + f.lsz)
		for d.remaining() >= 8+f.lsz {
			id := d.u16()
			d.skip(6)
			n := d.length()
			if id == 0 {
				break
			}
			if n > uint64(d.remaining()) {
				return nil, formatErr(what, addr, "object %d overruns collection", id)
			}
			coll[id] = d.bytes(int(n))
			d.skip(min(align8(int(n))-int(n), d.remaining()))
		}
		f.ghCache[addr] = coll
	}
	obj, ok := coll[uint16(idx)]
	if !ok || idx > 0xffff {
		return nil, formatErr(what, addr, "object %d not found", idx)
	}
	return obj, nil
}

// vlenData resolves a variable-length element (length + global heap ID).
func (f *File) vlenData(elem []byte) ([]byte, error) {
	d := newDecoder(elem, f)
	n := d.u32()
	addr := d.addr()
	idx := d.u32()
	if d.err != nil {
		return nil, formatErr("variable-length element", 0, "truncated")
	}
	if n == 0 || addr == 0 || addr == undefAddr {
		return nil, nil
	}
	return f.globalHeapObject(addr, idx)
}
