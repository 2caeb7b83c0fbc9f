package hdf5

import "bytes"

const maxTreeDepth = 64

// symbolEntry is a symbol table entry.
type symbolEntry struct {
	nameOff   uint64
	ohAddr    uint64
	cacheType uint32
	scratch   []byte
}

// groupSymbols walks a v1 group B-tree and returns all symbol table entries.
func (f *File) groupSymbols(btreeAddr uint64) ([]symbolEntry, error) {
	var out []symbolEntry
	seen := map[uint64]bool{}
	err := f.walkBTreeV1(btreeAddr, 0, 0, seen, 0, func(key []byte, child uint64) error {
		ents, err := f.symbolNode(child)
		if err != nil {
			return err
		}
		out = append(out, ents...)
		return nil
	})
	return out, err
}

func (f *File) symbolNode(addr uint64) ([]symbolEntry, error) {
	const what = "symbol table node"
	hdr, err := f.readAt(addr, 8)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(hdr[:4], []byte("SNOD")) {
		return nil, formatErr(what, addr, "bad signature")
	}
	n := uint64(hdr[6]) | uint64(hdr[7])<<8
	esz := uint64(2*f.osz + 24)
	b, err := f.readAt(addr+8, n*esz)
	if err != nil {
		return nil, err
	}
	d := newDecoder(b, f)
	out := make([]symbolEntry, 0, n)
	for i := uint64(0); i < n; i++ {
		var e symbolEntry
		e.nameOff = d.length()
		e.ohAddr = d.addr()
		e.cacheType = d.u32()
		d.skip(4)
		e.scratch = d.bytes(16)
		out = append(out, e)
	}
	if d.err != nil {
		return nil, formatErr(what, addr, "truncated")
	}
	return out, nil
}

// walkBTreeV1 visits every leaf child of a version 1 B-tree of the given
// node type (0: group, 1: raw data chunks with ndims key offsets). For
// chunk trees, key is the key that precedes the child.
func (f *File) walkBTreeV1(addr uint64, typ int, ndims int, seen map[uint64]bool, depth int,
	visit func(key []byte, child uint64) error) error {
	const what = "v1 B-tree node"
	if depth > maxTreeDepth {
		return formatErr(what, addr, "tree too deep")
	}
	if seen[addr] {
		return formatErr(what, addr, "cycle in B-tree")
	}
	seen[addr] = true
	hsz := uint64(8 + 2*f.osz)
	hdr, err := f.readAt(addr, hsz)
	if err != nil {
		return err
	}
	if !bytes.Equal(hdr[:4], []byte("TREE")) {
		return formatErr(what, addr, "bad signature")
	}
	if int(hdr[4]) != typ {
		return formatErr(what, addr, "node type %d, want %d", hdr[4], typ)
	}
	level := int(hdr[5])
	n := uint64(hdr[6]) | uint64(hdr[7])<<8
	ksz := uint64(f.lsz)
	if typ == 1 {
		ksz = 8 + 8*uint64(ndims)
	}
	b, err := f.readAt(addr+hsz, n*(ksz+uint64(f.osz))+ksz)
	if err != nil {
		return err
	}
	d := newDecoder(b, f)
	for i := uint64(0); i < n; i++ {
		key := d.bytes(int(ksz))
		child := d.addr()
		if d.err != nil {
			return formatErr(what, addr, "truncated")
		}
		if level > 0 {
			if err := f.walkBTreeV1(child, typ, ndims, seen, depth+1, visit); err != nil {
				return err
			}
		} else if err := visit(key, child); err != nil {
			return err
		}
	}
	return nil
}
