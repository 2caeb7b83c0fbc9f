package hdf5

import "bytes"

type fractalHeap struct {
	f          *File
	addr       uint64
	idLen      int
	filterLen  int
	flags      uint8
	maxMan     uint32
	hugeBT     uint64
	width      uint64
	startBlock uint64
	maxDirect  uint64
	maxHeapBit int
	root       uint64
	curRows    uint64
	offSize    int
	lenSize    int
	maxDirRows uint64
	hugeTree   *btree2
}

func (f *File) openFractalHeap(addr uint64) (*fractalHeap, error) {
	const what = "fractal heap header"
	n := uint64(4 + 1 + 2 + 2 + 1 + 4 + 12*f.lsz + 3*f.osz + 2 + 2 + 2 + 2 + 4)
	b, err := f.readAtMost(addr, n+uint64(f.lsz)+4+512)
	if err != nil {
		return nil, err
	}
	if len(b) < 4 || !bytes.Equal(b[:4], []byte("FRHP")) {
		return nil, formatErr(what, addr, "bad signature")
	}
	d := newDecoder(b, f)
	d.skip(5)
	h := &fractalHeap{f: f, addr: addr}
	h.idLen = int(d.u16())
	h.filterLen = int(d.u16())
	h.flags = d.u8()
	h.maxMan = d.u32()
	d.length() // next huge id
	h.hugeBT = d.addr()
	d.length()
	d.addr()
	for i := 0; i < 8; i++ {
		d.length()
	}
	h.width = uint64(d.u16())
	h.startBlock = d.length()
	h.maxDirect = d.length()
	h.maxHeapBit = int(d.u16())
	d.u16() // starting rows
	h.root = d.addr()
	h.curRows = uint64(d.u16())
	if h.filterLen > 0 {
		d.length()
		d.u32()
		d.skip(h.filterLen)
	}
	end := d.off
	d.u32()
	if d.err != nil {
		return nil, formatErr(what, addr, "truncated")
	}
	if err := verifyChecksum(b[:end+4], what, addr); err != nil {
		return nil, err
	}
	if h.width == 0 || h.startBlock == 0 || h.maxDirect < h.startBlock || h.maxHeapBit > 64 ||
		h.startBlock&(h.startBlock-1) != 0 || h.maxDirect&(h.maxDirect-1) != 0 || h.idLen < 1 {
		return nil, formatErr(what, addr, "bad parameters")
	}
	h.offSize = (h.maxHeapBit + 7) / 8
	dirBits := log2floor(h.maxDirect)
	h.lenSize = min((dirBits+7)/8, bytesFor(uint64(h.maxMan)))
	h.maxDirRows = uint64(log2floor(h.maxDirect)-log2floor(h.startBlock)) + 2
	return h, nil
}

func (h *fractalHeap) rowSize(r uint64) uint64 {
	if r == 0 {
		return h.startBlock
	}
	if r-1 >= 63 {
		return ^uint64(0)
	}
	s := h.startBlock << (r - 1)
	if s>>(r-1) != h.startBlock {
		return ^uint64(0)
	}
	return s
}

// get returns the object identified by a heap ID.
func (h *fractalHeap) get(id []byte) ([]byte, error) {
	const what = "fractal heap object"
	if len(id) < 1 {
		return nil, formatErr(what, h.addr, "empty heap ID")
	}
	switch (id[0] >> 4) & 3 {
	case 0:
		d := newDecoder(id[1:], h.f)
		off := d.uvar(h.offSize)
		n := d.uvar(h.lenSize)
		if d.err != nil {
			return nil, formatErr(what, h.addr, "truncated heap ID")
		}
		return h.managed(off, n)
	case 1:
		return h.huge(id)
	case 2:
		if h.idLen <= 18 {
			n := int(id[0]&0x0f) + 1
			if 1+n > len(id) {
				return nil, formatErr(what, h.addr, "bad tiny object")
			}
			return id[1 : 1+n], nil
		}
		if len(id) < 2 {
			return nil, formatErr(what, h.addr, "bad tiny object")
		}
		n := (int(id[0]&0x0f)<<8 | int(id[1])) + 1
		if 2+n > len(id) {
			return nil, formatErr(what, h.addr, "bad tiny object")
		}
		return id[2 : 2+n], nil
	}
	return nil, formatErr(what, h.addr, "unknown heap ID type")
}

func (h *fractalHeap) huge(id []byte) ([]byte, error) {
	const what = "fractal heap huge object"
	f := h.f
	if h.filterLen > 0 {
		return nil, unsupported("filtered fractal heap huge objects")
	}
	if len(id)-1 >= f.osz+f.lsz {
		d := newDecoder(id[1:], f)
		a := d.addr()
		n := d.length()
		return f.readAt(a, n)
	}
	key := uvarBytes(id[1:min(len(id), 9)])
	if h.hugeTree == nil {
		t, err := f.openBTree2(h.hugeBT)
		if err != nil {
			return nil, err
		}
		h.hugeTree = t
	}
	var out []byte
	found := false
	err := h.hugeTree.each(func(rec []byte) error {
		if found {
			return nil
		}
		d := newDecoder(rec, f)
		a := d.addr()
		n := d.length()
		k := d.length()
		if d.err == nil && k == key {
			b, err := f.readAt(a, n)
			if err != nil {
				return err
			}
			out, found = b, true
		}
		return nil
	})
	h.hugeTree.visitedNodes = 0
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, formatErr(what, h.addr, "huge object %d not found", key)
	}
	return out, nil
}

func (h *fractalHeap) managed(off, n uint64) ([]byte, error) {
	const what = "fractal heap"
	f := h.f
	if h.filterLen > 0 {
		return nil, unsupported("filtered fractal heap blocks")
	}
	if h.root == undefAddr {
		return nil, formatErr(what, h.addr, "empty heap")
	}
	blockAddr := h.root
	blockSize := h.startBlock
	nrows := h.curRows
	for depth := 0; nrows > 0; depth++ {
		if depth > maxTreeDepth {
			return nil, formatErr(what, h.addr, "indirect blocks too deep")
		}
		// locate row/column
		var r, rowStart uint64
		for r = 0; r < nrows; r++ {
			span, ok := mulCheck(h.width, h.rowSize(r))
			if !ok {
				return nil, formatErr(what, h.addr, "offset out of range")
			}
			if off < rowStart+span {
				break
			}
			rowStart += span
		}
		if r == nrows {
			return nil, formatErr(what, h.addr, "offset 0x%x beyond indirect block", off)
		}
		rs := h.rowSize(r)
		c := (off - rowStart) / rs
		blockStart := rowStart + c*rs
		entry := r*h.width + c
		prefix := uint64(5 + f.osz + h.offSize)
		directRows := min(nrows, h.maxDirRows)
		var entryOff uint64
		if r < h.maxDirRows {
			entryOff = prefix + entry*uint64(f.osz)
		} else {
			entryOff = prefix + directRows*h.width*uint64(f.osz) + (entry-directRows*h.width)*uint64(f.osz)
		}
		hdr, err := f.readAt(blockAddr, 4)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(hdr, []byte("FHIB")) {
			return nil, formatErr("fractal heap indirect block", blockAddr, "bad signature")
		}
		eb, err := f.readAt(blockAddr+entryOff, uint64(f.osz))
		if err != nil {
			return nil, err
		}
		child := newDecoder(eb, f).addr()
		if child == undefAddr {
			return nil, formatErr(what, h.addr, "object in unallocated block")
		}
		off -= blockStart
		blockAddr = child
		blockSize = rs
		if r < h.maxDirRows {
			nrows = 0
		} else {
			nrows = uint64(log2floor(rs)-log2floor(h.startBlock*h.width)) + 1
		}
	}
	hdr, err := f.readAt(blockAddr, 4)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(hdr, []byte("FHDB")) {
		return nil, formatErr("fractal heap direct block", blockAddr, "bad signature")
	}
	if off > blockSize || n > blockSize-off {
		return nil, formatErr(what, h.addr, "object beyond direct block")
	}
	return f.readAt(blockAddr+off, n)
}
