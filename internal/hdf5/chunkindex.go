package hdf5

type chunkFunc func(off []uint64, addr, size uint64, mask uint32) error

// chunkSizeLen is the encoded width of filtered chunk sizes in the newer
// chunk indexes.
func chunkSizeLen(chunkBytes uint64) int {
	n := 1 + (log2floor(chunkBytes)+8)/8
	return min(n, 8)
}

// eachChunk calls fn for every allocated chunk with its element offset.
func (d *Dataset) eachChunk(chunkBytes uint64, fn chunkFunc) error {
	l := d.lay
	rank := len(l.chunk)
	if l.addr == undefAddr {
		return nil
	}
	switch l.index {
	case idxBTreeV1:
		seen := map[uint64]bool{}
		return d.f.walkBTreeV1(l.addr, 1, rank+1, seen, 0, func(key []byte, child uint64) error {
			kd := newDecoder(key, d.f)
			size := uint64(kd.u32())
			mask := kd.u32()
			off := make([]uint64, rank)
			for i := range off {
				off[i] = kd.u64()
			}
			return fn(off, child, size, mask)
		})
	case idxSingle:
		size := chunkBytes
		if l.flags&2 != 0 {
			size = l.singleSize
		}
		return fn(make([]uint64, rank), l.addr, size, l.singleMask)
	case idxImplicit:
		return d.gridChunks(func(scaled []uint64, off []uint64) error {
			idx := d.linearIndex(scaled, -1)
			a := l.addr + idx*chunkBytes
			if a < l.addr || idx > uint64(d.f.size) {
				return formatErr("implicit chunk index", l.addr, "chunk address overflow")
			}
			return fn(off, a, chunkBytes, 0)
		})
	case idxFixedArr:
		return d.fixedArray(chunkBytes, fn)
	case idxExtArr:
		return d.extensibleArray(chunkBytes, fn)
	case idxBTreeV2:
		return d.btree2Chunks(chunkBytes, fn)
	}
	return unsupported("chunk index type %d", l.index)
}

// maxChunks returns the number of chunks along each dimension for the
// maximum dimensions (unlimited dimensions use current sizes).
func (d *Dataset) maxChunks() []uint64 {
	maxd := d.space.max()
	out := make([]uint64, len(d.lay.chunk))
	for i, c := range d.lay.chunk {
		m := d.space.dims[i]
		if i < len(maxd) && maxd[i] != undefAddr && maxd[i] >= m {
			m = maxd[i]
		}
		out[i] = (m + c - 1) / c
	}
	return out
}

// linearIndex computes the row-major chunk index over maxChunks, with
// dimension unlim (if >= 0) moved to the front.
func (d *Dataset) linearIndex(scaled []uint64, unlim int) uint64 {
	mc := d.maxChunks()
	var idx uint64
	if unlim >= 0 {
		idx = scaled[unlim]
	}
	for i := range scaled {
		if i == unlim {
			continue
		}
		idx = idx*mc[i] + scaled[i]
	}
	return idx
}

// unlinearIndex inverts linearIndex.
func (d *Dataset) unlinearIndex(idx uint64, unlim int) []uint64 {
	mc := d.maxChunks()
	scaled := make([]uint64, len(mc))
	for i := len(mc) - 1; i >= 0; i-- {
		if i == unlim || mc[i] == 0 {
			continue
		}
		scaled[i] = idx % mc[i]
		idx /= mc[i]
	}
	if unlim >= 0 {
		scaled[unlim] = idx
	}
	return scaled
}

func (d *Dataset) offsets(scaled []uint64) []uint64 {
	off := make([]uint64, len(scaled))
	for i, s := range scaled {
		off[i] = s * d.lay.chunk[i]
	}
	return off
}

// gridChunks iterates over the chunk grid covering the current dims.
func (d *Dataset) gridChunks(fn func(scaled, off []uint64) error) error {
	dims := d.space.dims
	r := len(dims)
	n := make([]uint64, r)
	for i, c := range d.lay.chunk {
		n[i] = (dims[i] + c - 1) / c
		if n[i] == 0 {
			return nil
		}
	}
	scaled := make([]uint64, r)
	for {
		if err := fn(scaled, d.offsets(scaled)); err != nil {
			return err
		}
		i := r - 1
		for ; i >= 0; i-- {
			scaled[i]++
			if scaled[i] < n[i] {
				break
			}
			scaled[i] = 0
		}
		if i < 0 {
			return nil
		}
	}
}

// decodeChunkEntry decodes a fixed/extensible array element.
func (d *Dataset) decodeChunkEntry(b []byte, filtered bool, chunkBytes uint64) (addr, size uint64, mask uint32) {
	dd := newDecoder(b, d.f)
	addr = dd.addr()
	size = chunkBytes
	if filtered {
		size = dd.uvar(chunkSizeLen(chunkBytes))
		mask = dd.u32()
	}
	if dd.err != nil {
		addr = undefAddr
	}
	return
}

func (d *Dataset) emitIndexed(idx uint64, entry []byte, filtered bool, chunkBytes uint64, unlim int, fn chunkFunc) error {
	addr, size, mask := d.decodeChunkEntry(entry, filtered, chunkBytes)
	if addr == undefAddr {
		return nil
	}
	scaled := d.unlinearIndex(idx, unlim)
	return fn(d.offsets(scaled), addr, size, mask)
}

func bitSet(bitmap []byte, i uint64) bool {
	if i/8 >= uint64(len(bitmap)) {
		return false
	}
	return bitmap[i/8]&(0x80>>(i%8)) != 0
}

func (d *Dataset) fixedArray(chunkBytes uint64, fn chunkFunc) error {
	const what = "fixed array"
	f := d.f
	haddr := d.lay.addr
	hb, err := f.readSigned(haddr, uint64(8+f.lsz+f.osz+4), "FAHD", what, "header")
	if err != nil {
		return err
	}
	hd := newDecoder(hb, f)
	hd.skip(5)
	client := hd.u8()
	esz := uint64(hd.u8())
	pageBits := hd.u8()
	nelmts := hd.length()
	dblk := hd.addr()
	if esz == 0 || pageBits > 32 || nelmts > uint64(f.size) {
		return formatErr(what, haddr, "bad parameters")
	}
	if dblk == undefAddr {
		return nil
	}
	filtered := client == 1
	emit := func(idx uint64, e []byte) error {
		return d.emitIndexed(idx, e, filtered, chunkBytes, -1, fn)
	}
	prefix := uint64(6 + f.osz)
	pageN := uint64(1) << pageBits
	if nelmts <= pageN {
		b, err := f.readSigned(dblk, prefix+nelmts*esz+4, "FADB", what, "data block")
		if err != nil {
			return err
		}
		return emitEntries(b[prefix:], 0, nelmts, esz, emit)
	}
	npages := (nelmts + pageN - 1) / pageN
	bm := (npages + 7) / 8
	b, err := f.readSigned(dblk, prefix+bm+4, "FADB", what, "data block")
	if err != nil {
		return err
	}
	bitmap := b[prefix : prefix+bm]
	present := func(p uint64) bool { return bitSet(bitmap, p) }
	return f.emitPages(what, dblk+prefix+bm+4, 0, nelmts, pageN, esz, present, emit)
}

// emitEntries emits the n esz-byte entries at the start of b as array
// elements base, base+1, ...
func emitEntries(b []byte, base, n, esz uint64, emit func(idx uint64, e []byte) error) error {
	for i := uint64(0); i < n; i++ {
		if err := emit(base+i, b[i*esz:(i+1)*esz]); err != nil {
			return err
		}
	}
	return nil
}

// emitPages emits the n elements (from element base on) of a paged data
// block whose pages of pageN esz-byte entries, each followed by its
// checksum, start at addr; the last page may be shorter. present, if not
// nil, says whether page p was ever written (an unwritten page is skipped).
func (f *File) emitPages(what string, addr, base, n, pageN, esz uint64, present func(p uint64) bool, emit func(idx uint64, e []byte) error) error {
	npages := (n + pageN - 1) / pageN
	for p := uint64(0); p < npages; p++ {
		cnt := min(pageN, n-p*pageN)
		pa := addr
		addr += cnt*esz + 4
		if present != nil && !present(p) {
			continue
		}
		pb, err := f.readAt(pa, cnt*esz+4)
		if err != nil {
			return err
		}
		if err := verifyChecksum(pb, what+" page", pa); err != nil {
			return err
		}
		if err := emitEntries(pb, base+p*pageN, cnt, esz, emit); err != nil {
			return err
		}
	}
	return nil
}

func (d *Dataset) unlimitedDim() int {
	maxd := d.space.max()
	for i, m := range maxd {
		if m == undefAddr {
			return i
		}
	}
	return -1
}

func (d *Dataset) extensibleArray(chunkBytes uint64, fn chunkFunc) error {
	const what = "extensible array"
	f := d.f
	l := d.lay
	haddr := l.addr
	hb, err := f.readSigned(haddr, uint64(12+6*f.lsz+f.osz+4), "EAHD", what, "header")
	if err != nil {
		return err
	}
	hd := newDecoder(hb, f)
	hd.skip(5)
	client := hd.u8()
	esz := uint64(hd.u8())
	maxBits := int(hd.u8())
	idxElmts := uint64(hd.u8())
	minElmts := uint64(hd.u8())
	minPtrs := uint64(hd.u8())
	pageBits := int(hd.u8())
	for i := 0; i < 6; i++ {
		hd.length()
	}
	iblk := hd.addr()
	if esz == 0 || maxBits == 0 || maxBits > 64 || minElmts == 0 || minPtrs == 0 || pageBits > 32 ||
		minElmts&(minElmts-1) != 0 || minPtrs&(minPtrs-1) != 0 || log2floor(minElmts) > maxBits {
		return formatErr(what, haddr, "bad parameters")
	}
	if iblk == undefAddr {
		return nil
	}
	filtered := client == 1
	unlim := d.unlimitedDim()
	emit := func(idx uint64, e []byte) error {
		return d.emitIndexed(idx, e, filtered, chunkBytes, unlim, fn)
	}
	nsblks := 1 + maxBits - log2floor(minElmts)
	type sblkInfo struct{ ndblks, dblkN, startIdx uint64 }
	info := make([]sblkInfo, nsblks)
	var start uint64
	for u := range info {
		info[u].ndblks = 1 << (u / 2)
		info[u].dblkN = (1 << ((u + 1) / 2)) * minElmts
		info[u].startIdx = start
		start += info[u].ndblks * info[u].dblkN
	}
	ibN := 2 * log2floor(minPtrs)
	if ibN > nsblks {
		ibN = nsblks
	}
	ndblkAddrs := 2 * (minPtrs - 1)
	nsblkAddrs := uint64(nsblks - ibN)
	arrOff := uint64((maxBits + 7) / 8)
	pageN := uint64(1) << pageBits

	ibSize := uint64(6+f.osz) + idxElmts*esz + (ndblkAddrs+nsblkAddrs)*uint64(f.osz) + 4
	ib, err := f.readSigned(iblk, ibSize, "EAIB", what, "index block")
	if err != nil {
		return err
	}
	id := newDecoder(ib, f)
	id.skip(6 + f.osz)
	for i := uint64(0); i < idxElmts; i++ {
		if err := emit(i, id.bytes(int(esz))); err != nil {
			return err
		}
	}
	dataBlock := func(addr uint64, n uint64, base uint64, pageInit func(p uint64) bool) error {
		if addr == undefAddr {
			return nil
		}
		dprefix := uint64(6+f.osz) + arrOff
		if n <= pageN {
			b, err := f.readSigned(addr, dprefix+n*esz+4, "EADB", what, "data block")
			if err != nil {
				return err
			}
			return emitEntries(b[dprefix:], base, n, esz, emit)
		}
		// n and pageN are powers of two, so every page is full
		return f.emitPages(what, addr+dprefix+4, base, n, pageN, esz, pageInit, emit)
	}
	// data blocks referenced directly by the index block
	di := uint64(0)
	for u := 0; u < ibN && di < ndblkAddrs; u++ {
		for k := uint64(0); k < info[u].ndblks && di < ndblkAddrs; k++ {
			a := id.addr()
			di++
			base := idxElmts + info[u].startIdx + k*info[u].dblkN
			if err := dataBlock(a, info[u].dblkN, base, nil); err != nil {
				return err
			}
		}
	}
	id.skip(int((ndblkAddrs - di) * uint64(f.osz)))
	for s := uint64(0); s < nsblkAddrs; s++ {
		sa := id.addr()
		if id.err != nil {
			return formatErr(what, iblk, "truncated index block")
		}
		if sa == undefAddr {
			continue
		}
		si := info[ibN+int(s)]
		if si.ndblks > uint64(f.size) {
			return formatErr(what, sa, "too many data blocks")
		}
		var bm uint64
		var pagesPer uint64
		if si.dblkN > pageN {
			pagesPer = si.dblkN / pageN
			bm = (si.ndblks*pagesPer + 7) / 8
		}
		sb, err := f.readSigned(sa, uint64(6+f.osz)+arrOff+bm+si.ndblks*uint64(f.osz)+4, "EASB", what, "super block")
		if err != nil {
			return err
		}
		sd := newDecoder(sb, f)
		sd.skip(6 + f.osz + int(arrOff))
		bitmap := sd.bytes(int(bm))
		for k := uint64(0); k < si.ndblks; k++ {
			a := sd.addr()
			base := idxElmts + si.startIdx + k*si.dblkN
			kk := k
			var pi func(p uint64) bool
			if bm > 0 {
				pi = func(p uint64) bool { return bitSet(bitmap, kk*pagesPer+p) }
			}
			if err := dataBlock(a, si.dblkN, base, pi); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *Dataset) btree2Chunks(chunkBytes uint64, fn chunkFunc) error {
	f := d.f
	t, err := f.openBTree2(d.lay.addr)
	if err != nil {
		return err
	}
	rank := len(d.lay.chunk)
	filtered := t.typ == bt2ChunkFilterd
	if t.typ != bt2ChunkPlain && !filtered {
		return formatErr("chunk v2 B-tree", d.lay.addr, "unexpected record type %d", t.typ)
	}
	return t.each(func(rec []byte) error {
		rd := newDecoder(rec, f)
		addr := rd.addr()
		size, mask := chunkBytes, uint32(0)
		if filtered {
			size = rd.uvar(chunkSizeLen(chunkBytes))
			mask = rd.u32()
		}
		scaled := make([]uint64, rank)
		for i := range scaled {
			scaled[i] = rd.u64()
		}
		if rd.err != nil {
			return formatErr("chunk v2 B-tree", d.lay.addr, "short record")
		}
		if addr == undefAddr {
			return nil
		}
		off := make([]uint64, rank)
		for i := range off {
			var ok bool
			if off[i], ok = mulCheck(scaled[i], d.lay.chunk[i]); !ok {
				return formatErr("chunk v2 B-tree", d.lay.addr, "chunk offset overflow")
			}
		}
		return fn(off, addr, size, mask)
	})
}
