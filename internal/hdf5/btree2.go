package hdf5

// v2 B-tree record types used here.
const (
	bt2HugeObj      = 1
	bt2LinkName     = 5
	bt2LinkOrder    = 6
	bt2AttrName     = 8
	bt2AttrOrder    = 9
	bt2ChunkPlain   = 10
	bt2ChunkFilterd = 11
)

type btree2 struct {
	f        *File
	addr     uint64
	typ      int
	nodeSize uint64
	recSize  int
	depth    int
	root     uint64
	rootN    uint64
	// per depth: max records and bytes to encode (cumulative) counts
	maxNrec      []uint64
	cumMax       []uint64
	cumMaxSize   []int
	maxNrecSize  int
	visitedNodes int
}

func bytesFor(v uint64) int { return log2floor(v)/8 + 1 }

func (f *File) openBTree2(addr uint64) (*btree2, error) {
	const what = "v2 B-tree header"
	b, err := f.readSigned(addr, uint64(4+1+1+4+2+2+1+1+f.osz+2+f.lsz+4), "BTHD", what, "")
	if err != nil {
		return nil, err
	}
	d := newDecoder(b, f)
	d.skip(5)
	t := &btree2{f: f, addr: addr}
	t.typ = int(d.u8())
	t.nodeSize = uint64(d.u32())
	t.recSize = int(d.u16())
	t.depth = int(d.u16())
	d.skip(2)
	t.root = d.addr()
	t.rootN = uint64(d.u16())
	d.length()
	if t.recSize == 0 || t.nodeSize < 16 || t.nodeSize > 1<<24 || t.depth > maxTreeDepth {
		return nil, formatErr(what, addr, "bad parameters")
	}
	const prefix = 10
	t.maxNrec = make([]uint64, t.depth+1)
	t.cumMax = make([]uint64, t.depth+1)
	t.cumMaxSize = make([]int, t.depth+1)
	t.maxNrec[0] = (t.nodeSize - prefix) / uint64(t.recSize)
	if t.maxNrec[0] == 0 {
		return nil, formatErr(what, addr, "node too small")
	}
	t.cumMax[0] = t.maxNrec[0]
	t.maxNrecSize = bytesFor(t.maxNrec[0])
	for u := 1; u <= t.depth; u++ {
		ptr := uint64(f.osz + t.maxNrecSize + t.cumMaxSize[u-1])
		if t.nodeSize < prefix+ptr {
			return nil, formatErr(what, addr, "node too small")
		}
		t.maxNrec[u] = (t.nodeSize - prefix - ptr) / (uint64(t.recSize) + ptr)
		c := (t.maxNrec[u]+1)*t.cumMax[u-1] + t.maxNrec[u]
		if c < t.cumMax[u-1] {
			c = ^uint64(0) >> 1
		}
		t.cumMax[u] = c
		t.cumMaxSize[u] = bytesFor(c)
	}
	return t, nil
}

// each visits every record in key order.
func (t *btree2) each(fn func(rec []byte) error) error {
	if t.root == undefAddr || t.rootN == 0 {
		return nil
	}
	return t.node(t.root, t.depth, t.rootN, fn)
}

func (t *btree2) node(addr uint64, depth int, nrec uint64, fn func([]byte) error) error {
	const what = "v2 B-tree node"
	t.visitedNodes++
	if t.visitedNodes > int(t.f.size/16)+16 {
		return formatErr(what, addr, "too many nodes (cycle?)")
	}
	if nrec > t.maxNrec[depth] {
		return formatErr(what, addr, "record count %d exceeds maximum %d", nrec, t.maxNrec[depth])
	}
	f := t.f
	sig := "BTLF"
	size := 6 + nrec*uint64(t.recSize)
	ptrSize := 0
	if depth > 0 {
		sig = "BTIN"
		ptrSize = f.osz + t.maxNrecSize
		if depth > 1 {
			ptrSize += t.cumMaxSize[depth-1]
		}
		size += (nrec + 1) * uint64(ptrSize)
	}
	b, err := f.readSigned(addr, size+4, sig, what, "")
	if err != nil {
		return err
	}
	recs := b[6 : 6+nrec*uint64(t.recSize)]
	if depth == 0 {
		for i := uint64(0); i < nrec; i++ {
			if err := fn(recs[i*uint64(t.recSize) : (i+1)*uint64(t.recSize)]); err != nil {
				return err
			}
		}
		return nil
	}
	d := newDecoder(b[6+len(recs):], f)
	for i := uint64(0); i <= nrec; i++ {
		caddr := d.addr()
		cn := d.uvar(t.maxNrecSize)
		if depth > 1 {
			d.uvar(t.cumMaxSize[depth-1])
		}
		if d.err != nil {
			return formatErr(what, addr, "truncated")
		}
		if err := t.node(caddr, depth-1, cn, fn); err != nil {
			return err
		}
		if i < nrec {
			if err := fn(recs[i*uint64(t.recSize) : (i+1)*uint64(t.recSize)]); err != nil {
				return err
			}
		}
	}
	return nil
}
