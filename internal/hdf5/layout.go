package hdf5

// Layout classes.
const (
	layoutCompact    = 0
	layoutContiguous = 1
	layoutChunked    = 2
	layoutVirtual    = 3
)

// Chunk index types (layout message version 4); idxBTreeV1 is used by
// earlier layout versions.
const (
	idxBTreeV1   = 0
	idxSingle    = 1
	idxImplicit  = 2
	idxFixedArr  = 3
	idxExtArr    = 4
	idxBTreeV2   = 5
	maxChunkRank = 33
)

type layout struct {
	version   int
	class     int
	addr      uint64
	size      uint64 // contiguous storage size (0 = compute from dataspace)
	compact   []byte
	chunk     []uint64 // chunk dims (without the element-size dimension)
	chunkElem uint32   // element size recorded in the chunk dims
	flags     uint8
	index     int
	// single chunk
	singleSize uint64
	singleMask uint32
	// fixed array / extensible array parameters
	faPageBits                                           uint8
	eaMaxBits, eaIdxElmts, eaMinPtrs, eaMinElmts, eaPage uint8
}

func parseLayout(b []byte, f *File) (*layout, error) {
	const what = "layout message"
	d := newDecoder(b, f)
	l := &layout{version: int(d.u8())}
	switch l.version {
	case 1, 2:
		ndims := int(d.u8())
		l.class = int(d.u8())
		d.skip(5)
		if l.class != layoutCompact {
			l.addr = d.addr()
		}
		if ndims > maxChunkRank {
			return nil, formatErr(what, 0, "rank %d too large", ndims)
		}
		dims := make([]uint64, ndims)
		for i := range dims {
			dims[i] = uint64(d.u32())
		}
		switch l.class {
		case layoutChunked:
			l.chunkElem = d.u32()
			if ndims < 1 {
				return nil, formatErr(what, 0, "chunked layout with rank 0")
			}
			l.chunk = dims[:ndims-1]
		case layoutCompact:
			n := d.u32()
			l.compact = d.bytes(int(n))
		case layoutContiguous:
		default:
			return nil, unsupported("layout class %d", l.class)
		}
	case 3, 4:
		l.class = int(d.u8())
		switch l.class {
		case layoutCompact:
			n := d.u16()
			l.compact = d.bytes(int(n))
		case layoutContiguous:
			l.addr = d.addr()
			l.size = d.length()
		case layoutChunked:
			if l.version == 3 {
				ndims := int(d.u8())
				if ndims < 1 || ndims > maxChunkRank {
					return nil, formatErr(what, 0, "bad chunk rank %d", ndims)
				}
				l.addr = d.addr()
				l.chunk = make([]uint64, ndims-1)
				for i := range l.chunk {
					l.chunk[i] = uint64(d.u32())
				}
				l.chunkElem = d.u32()
			} else {
				l.flags = d.u8()
				ndims := int(d.u8())
				enc := int(d.u8())
				if ndims < 1 || ndims > maxChunkRank || enc < 1 || enc > 8 {
					return nil, formatErr(what, 0, "bad chunk rank %d / encoding %d", ndims, enc)
				}
				l.chunk = make([]uint64, ndims-1)
				for i := range l.chunk {
					l.chunk[i] = d.uvar(enc)
				}
				l.chunkElem = uint32(d.uvar(enc))
				l.index = int(d.u8())
				switch l.index {
				case idxSingle:
					if l.flags&2 != 0 {
						l.singleSize = d.length()
						l.singleMask = d.u32()
					}
				case idxImplicit:
				case idxFixedArr:
					l.faPageBits = d.u8()
				case idxExtArr:
					l.eaMaxBits = d.u8()
					l.eaIdxElmts = d.u8()
					l.eaMinPtrs = d.u8()
					l.eaMinElmts = d.u8()
					l.eaPage = d.u8()
				case idxBTreeV2:
					d.skip(6)
				default:
					return nil, formatErr(what, 0, "unknown chunk index type %d", l.index)
				}
				l.addr = d.addr()
			}
		case layoutVirtual:
			return nil, unsupported("virtual dataset layout")
		default:
			return nil, formatErr(what, 0, "unknown layout class %d", l.class)
		}
	default:
		return nil, formatErr(what, 0, "unknown version %d", l.version)
	}
	if d.err != nil {
		return nil, formatErr(what, 0, "truncated")
	}
	for _, c := range l.chunk {
		if c == 0 {
			return nil, formatErr(what, 0, "zero chunk dimension")
		}
	}
	return l, nil
}

// parseFill decodes fill value messages (new and old); nil means zeros.
func parseFill(b []byte, old bool) ([]byte, error) {
	d := newDecoder(b, nil)
	if old {
		n := d.u32()
		v := d.bytes(int(n))
		if d.err != nil {
			return nil, formatErr("fill value message", 0, "truncated")
		}
		return v, nil
	}
	ver := d.u8()
	var v []byte
	switch ver {
	case 1, 2:
		d.skip(2)
		defined := d.u8()
		if ver == 1 || defined != 0 {
			n := d.u32()
			v = d.bytes(int(n))
		}
	case 3:
		flags := d.u8()
		if flags&0x20 != 0 {
			n := d.u32()
			v = d.bytes(int(n))
		}
	default:
		return nil, formatErr("fill value message", 0, "unknown version %d", ver)
	}
	if d.err != nil {
		return nil, formatErr("fill value message", 0, "truncated")
	}
	return v, nil
}
