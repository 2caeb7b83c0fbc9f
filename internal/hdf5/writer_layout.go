package hdf5

import (
	"bufio"
	"fmt"
	"sort"
)

// File layout written by Writer: superblock (v0, 8-byte offsets and
// lengths), raw dataset data, then all metadata (global heap collections,
// object headers, local heaps, symbol table nodes and group B-trees).

const (
	superblockSize = 96
	symLeafK       = 4  // symbol table node holds 2K entries
	symInternalK   = 16 // group B-tree nodes hold 2K children
	snodSize       = 8 + 2*symLeafK*40
	gtreeNodeSize  = 24 + (2*symInternalK+1)*8 + 2*symInternalK*8
	minCollection  = 4096
	maxCollection  = 1 << 16
)

type heapRef struct {
	addr uint64
	idx  uint16
	n    int
}

type metaBuf struct {
	base uint64
	b    []byte
}

func (m *metaBuf) alloc(data []byte) uint64 {
	m.b = append(m.b, make([]byte, align8(len(m.b))-len(m.b))...)
	a := m.base + uint64(len(m.b))
	m.b = append(m.b, data...)
	return a
}

// next returns the address the next alloc will return.
func (m *metaBuf) next() uint64 { return m.base + uint64(align8(len(m.b))) }

func (m *metaBuf) patch(addr uint64, data []byte) { copy(m.b[addr-m.base:], data) }

type ghBuilder struct {
	m    *metaBuf
	cur  []byte
	refs []*heapRef
	next uint16
}

func (g *ghBuilder) add(s string) *heapRef {
	if s == "" {
		return &heapRef{}
	}
	need := 16 + align8(len(s))
	if len(g.refs) > 0 && (16+len(g.cur)+need > maxCollection || g.next == 0xffff) {
		g.flush()
	}
	g.next++
	r := &heapRef{idx: g.next, n: len(s)}
	e := &encoder{b: g.cur}
	e.u16(r.idx)
	e.u16(1)
	e.u32(0)
	e.u64(uint64(len(s)))
	e.raw([]byte(s))
	e.pad8()
	g.cur = e.b
	g.refs = append(g.refs, r)
	return r
}

func (g *ghBuilder) flush() {
	if len(g.refs) == 0 {
		return
	}
	total := max(minCollection, 16+len(g.cur)+16)
	e := &encoder{}
	e.raw([]byte("GCOL"))
	e.u8(1)
	e.zeros(3)
	e.u64(uint64(total))
	e.raw(g.cur)
	free := total - len(e.b)
	if free >= 16 {
		e.u16(0)
		e.u16(0)
		e.u32(0)
		e.u64(uint64(free))
	}
	e.zeros(total - len(e.b))
	addr := g.m.alloc(e.b)
	for _, r := range g.refs {
		r.addr = addr
	}
	g.cur, g.refs, g.next = nil, nil, 0
}

func encodeRefs(refs []*heapRef) []byte {
	e := &encoder{}
	for _, r := range refs {
		e.u32(uint32(r.n))
		e.u64(r.addr)
		e.u32(uint32(r.idx))
	}
	return e.b
}

type hmsg struct {
	typ   uint16
	flags uint8
	data  []byte
}

func encObjectHeader(msgs []hmsg) []byte {
	size := 0
	for _, m := range msgs {
		size += 8 + align8(len(m.data))
	}
	e := &encoder{}
	e.u8(1)
	e.u8(0)
	e.u16(uint16(len(msgs)))
	e.u32(1)
	e.u32(uint32(size))
	e.u32(0)
	for _, m := range msgs {
		e.u16(m.typ)
		e.u16(uint16(align8(len(m.data))))
		e.u8(m.flags)
		e.zeros(3)
		e.raw(m.data)
		e.pad8()
	}
	return e.b
}

func encAttrMessage(a *wattr) []byte {
	ds := encDataspace(a.dims)
	e := &encoder{}
	e.u8(1)
	e.u8(0)
	e.u16(uint16(len(a.name) + 1))
	e.u16(uint16(len(a.dtype)))
	e.u16(uint16(len(ds)))
	e.raw([]byte(a.name))
	e.u8(0)
	e.pad8()
	e.raw(a.dtype)
	e.pad8()
	e.raw(ds)
	e.pad8()
	if a.refs != nil {
		e.raw(encodeRefs(a.refs))
	} else {
		e.raw(a.data)
	}
	return e.b
}

func sortedNames(m map[string]any) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// eachObject visits groups and datasets depth-first in name order.
func eachObject(g *WGroup, fg func(*WGroup), fd func(*WDataset)) {
	fg(g)
	for _, n := range sortedNames(g.children) {
		switch c := g.children[n].(type) {
		case *WGroup:
			eachObject(c, fg, fd)
		case *WDataset:
			fd(c)
		}
	}
}

// Close lays out and writes the file, then closes it (if opened by Create).
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	err := w.err
	if err == nil {
		err = w.write()
	}
	if w.closer != nil {
		if cerr := w.closer.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil && w.err == nil {
		w.err = err
	}
	return err
}

func (w *Writer) write() error {
	// 1. Raw data addresses.
	off := uint64(superblockSize)
	var datasets []*WDataset
	eachObject(w.root, func(*WGroup) {}, func(d *WDataset) {
		datasets = append(datasets, d)
		size := uint64(len(d.data))
		if d.vlen != nil {
			size = 16 * uint64(len(d.vlen))
		}
		d.addr = undefAddr
		if size > 0 {
			d.addr = off
			off = uint64(align8(int(off + size)))
		}
	})
	m := &metaBuf{base: off}
	// 2. Global heap for variable-length strings.
	gh := &ghBuilder{m: m}
	vlenAttrs := func(as []*wattr) {
		for _, a := range as {
			if a.vlen != nil {
				a.refs = make([]*heapRef, len(a.vlen))
				for i, s := range a.vlen {
					a.refs[i] = gh.add(s)
				}
			}
		}
	}
	dsRefs := map[*WDataset][]*heapRef{}
	eachObject(w.root, func(g *WGroup) { vlenAttrs(g.attrs) }, func(d *WDataset) {
		vlenAttrs(d.attrs)
		if d.vlen != nil {
			refs := make([]*heapRef, len(d.vlen))
			for i, s := range d.vlen {
				refs[i] = gh.add(s)
			}
			dsRefs[d] = refs
		}
	})
	gh.flush()
	for d, refs := range dsRefs {
		d.data = encodeRefs(refs)
	}
	// 3. Object headers and group structures.
	root, err := w.writeGroup(w.root, m)
	if err != nil {
		return err
	}
	eof := m.base + uint64(len(m.b))
	// 4. Emit.
	bw := bufio.NewWriterSize(w.out, 1<<20)
	sb := &encoder{}
	sb.raw(signature)
	sb.raw([]byte{0, 0, 0, 0, 0, 8, 8, 0})
	sb.u16(symLeafK)
	sb.u16(symInternalK)
	sb.u32(0)
	sb.u64(0)
	sb.u64(undefAddr)
	sb.u64(eof)
	sb.u64(undefAddr)
	sb.raw(encSymbolEntry(0, root))
	pos := uint64(len(sb.b))
	if _, err := bw.Write(sb.b); err != nil {
		return err
	}
	var zeros [8]byte
	for _, d := range datasets {
		if d.addr == undefAddr {
			continue
		}
		if _, err := bw.Write(zeros[:d.addr-pos]); err != nil {
			return err
		}
		if _, err := bw.Write(d.data); err != nil {
			return err
		}
		pos = d.addr + uint64(len(d.data))
	}
	if _, err := bw.Write(zeros[:m.base-pos]); err != nil {
		return err
	}
	if _, err := bw.Write(m.b); err != nil {
		return err
	}
	return bw.Flush()
}

type writtenObj struct {
	oh, btree, heap uint64
	group           bool
}

func encSymbolEntry(nameOff uint64, o writtenObj) []byte {
	e := &encoder{}
	e.u64(nameOff)
	e.u64(o.oh)
	if o.group {
		e.u32(1)
		e.u32(0)
		e.u64(o.btree)
		e.u64(o.heap)
	} else {
		e.zeros(24)
	}
	return e.b
}

func attrMessages(as []*wattr) []hmsg {
	var out []hmsg
	for _, a := range as {
		out = append(out, hmsg{typ: msgAttribute, data: encAttrMessage(a)})
	}
	return out
}

func (w *Writer) writeDataset(d *WDataset, m *metaBuf) uint64 {
	lay := &encoder{}
	lay.u8(3)
	lay.u8(layoutContiguous)
	lay.u64(d.addr)
	lay.u64(uint64(len(d.data)))
	var dims []uint64
	if len(d.shape) > 0 {
		dims = d.shape
	}
	msgs := []hmsg{
		{typ: msgDataspace, data: encDataspace(dims)},
		{typ: msgDatatype, flags: 1, data: d.dtype},
		{typ: msgFill, flags: 1, data: []byte{2, 2, 2, 1, 0, 0, 0, 0}},
		{typ: msgLayout, data: lay.b},
	}
	msgs = append(msgs, attrMessages(d.attrs)...)
	return m.alloc(encObjectHeader(msgs))
}

type gchild struct {
	nameOff uint64
	name    string
	obj     writtenObj
}

func (w *Writer) writeGroup(g *WGroup, m *metaBuf) (writtenObj, error) {
	names := sortedNames(g.children)
	// local heap: "" at offset 0, then the names
	heap := &encoder{}
	heap.zeros(8)
	kids := make([]gchild, len(names))
	for i, n := range names {
		kids[i].name = n
		kids[i].nameOff = uint64(len(heap.b))
		heap.raw([]byte(n))
		heap.u8(0)
		heap.pad8()
		switch c := g.children[n].(type) {
		case *WGroup:
			o, err := w.writeGroup(c, m)
			if err != nil {
				return o, err
			}
			kids[i].obj = o
		case *WDataset:
			kids[i].obj = writtenObj{oh: w.writeDataset(c, m)}
		}
	}
	lh := &encoder{}
	lh.raw([]byte("HEAP"))
	lh.u8(0)
	lh.zeros(3)
	lh.u64(uint64(len(heap.b)))
	lh.u64(1) // no free block (H5HL_FREE_NULL)
	heapAddr := m.next()
	lh.u64(heapAddr + 32)
	lh.raw(heap.b)
	m.alloc(lh.b)
	// symbol table nodes
	type node struct {
		addr     uint64
		leftKey  uint64
		rightKey uint64
	}
	var level []node
	per := 2 * symLeafK
	for i := 0; i < len(kids); i += per {
		part := kids[i:min(i+per, len(kids))]
		e := &encoder{}
		e.raw([]byte("SNOD"))
		e.u8(1)
		e.u8(0)
		e.u16(uint16(len(part)))
		for _, k := range part {
			e.raw(encSymbolEntry(k.nameOff, k.obj))
		}
		e.zeros(snodSize - len(e.b))
		left := uint64(0)
		if i > 0 {
			left = kids[i-1].nameOff
		}
		level = append(level, node{addr: m.alloc(e.b), leftKey: left, rightKey: part[len(part)-1].nameOff})
	}
	// B-tree levels
	fan := 2 * symInternalK
	lvl := 0
	for {
		nn := (len(level) + fan - 1) / fan
		if nn == 0 {
			nn = 1
		}
		addrs := make([]uint64, nn)
		for i := range addrs {
			addrs[i] = m.alloc(make([]byte, gtreeNodeSize))
		}
		var up []node
		for i := 0; i < nn; i++ {
			part := level[min(i*fan, len(level)):min((i+1)*fan, len(level))]
			e := &encoder{}
			e.raw([]byte("TREE"))
			e.u8(0)
			e.u8(uint8(lvl))
			e.u16(uint16(len(part)))
			if i > 0 {
				e.u64(addrs[i-1])
			} else {
				e.u64(undefAddr)
			}
			if i+1 < nn {
				e.u64(addrs[i+1])
			} else {
				e.u64(undefAddr)
			}
			left, right := uint64(0), uint64(0)
			if len(part) > 0 {
				left, right = part[0].leftKey, part[len(part)-1].rightKey
			}
			e.u64(left)
			for _, c := range part {
				e.u64(c.addr)
				e.u64(c.rightKey)
			}
			m.patch(addrs[i], e.b)
			up = append(up, node{addr: addrs[i], leftKey: left, rightKey: right})
		}
		if nn == 1 {
			btree := up[0].addr
			stab := &encoder{}
			stab.u64(btree)
			stab.u64(heapAddr)
			msgs := append([]hmsg{{typ: msgSymbolTable, data: stab.b}}, attrMessages(g.attrs)...)
			oh := m.alloc(encObjectHeader(msgs))
			return writtenObj{oh: oh, btree: btree, heap: heapAddr, group: true}, nil
		}
		if lvl >= 255 {
			return writtenObj{}, fmt.Errorf("hdf5: group %s too large", g.path)
		}
		level = up
		lvl++
	}
}
