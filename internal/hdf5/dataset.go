package hdf5

import (
	"fmt"
	"unsafe"
)

// Dataset is an HDF5 dataset.
type Dataset struct {
	f       *File
	path    string
	addr    uint64
	space   *dataspace
	dtype   *Datatype
	lay     *layout
	filters []filter
	fill    []byte
}

func (f *File) openDataset(addr uint64, path string) (*Dataset, error) {
	oh, err := f.objectHeader(addr)
	if err != nil {
		return nil, err
	}
	ds := &Dataset{f: f, path: path, addr: addr}
	wrap := func(err error) error { return fmt.Errorf("dataset %s: %w", path, err) }
	var fillOld []byte
	haveNew := false
	for i := range oh.msgs {
		m := &oh.msgs[i]
		switch m.typ {
		case msgDataspace, msgDatatype, msgLayout, msgFilters, msgFill, msgFillOld:
		case msgExternal:
			return nil, wrap(unsupported("external data files"))
		default:
			continue
		}
		data, err := f.messageData(m, 0)
		if err != nil {
			return nil, wrap(err)
		}
		switch m.typ {
		case msgDataspace:
			ds.space, err = parseDataspace(data, f)
		case msgDatatype:
			ds.dtype, _, err = parseDatatype(data)
		case msgLayout:
			ds.lay, err = parseLayout(data, f)
		case msgFilters:
			ds.filters, err = parseFilters(data)
		case msgFill:
			haveNew = true
			ds.fill, err = parseFill(data, false)
		case msgFillOld:
			fillOld, err = parseFill(data, true)
		}
		if err != nil {
			return nil, wrap(err)
		}
	}
	if !haveNew {
		ds.fill = fillOld
	}
	if ds.space == nil || ds.dtype == nil || ds.lay == nil {
		return nil, wrap(formatErr("dataset", addr, "missing dataspace, datatype or layout message"))
	}
	if ds.dtype.Size == 0 {
		return nil, wrap(formatErr("dataset", addr, "zero-sized datatype"))
	}
	if ds.lay.class == layoutChunked && len(ds.lay.chunk) != len(ds.space.dims) && !ds.space.null {
		return nil, wrap(formatErr("dataset", addr, "chunk rank %d != dataspace rank %d", len(ds.lay.chunk), len(ds.space.dims)))
	}
	if len(ds.fill) != 0 && uint32(len(ds.fill)) != ds.dtype.Size {
		ds.fill = nil
	}
	return ds, nil
}

// Name returns the dataset's full path.
func (d *Dataset) Name() string { return d.path }

// Shape returns the dimensions (empty for scalars).
func (d *Dataset) Shape() []uint64 { return append([]uint64(nil), d.space.dims...) }

// MaxShape returns the maximum dimensions (^uint64(0) means unlimited).
func (d *Dataset) MaxShape() []uint64 { return append([]uint64(nil), d.space.max()...) }

// Dtype returns the element type.
func (d *Dataset) Dtype() Datatype { return *d.dtype }

// Chunks returns the chunk shape, or nil if the dataset is not chunked.
func (d *Dataset) Chunks() []uint64 {
	if d.lay.class != layoutChunked {
		return nil
	}
	return append([]uint64(nil), d.lay.chunk...)
}

// NumElements returns the number of elements.
func (d *Dataset) NumElements() uint64 {
	n, _ := d.space.numElements()
	return n
}

// Attrs lists attribute names in name order.
func (d *Dataset) Attrs() ([]string, error) { return d.f.attrNames(d.addr) }

// Attr reads an attribute value; see Attribute.Value for the Go types.
func (d *Dataset) Attr(name string) (any, error) { return d.f.attrValue(d.addr, d.path, name) }

// Attribute returns an attribute with its shape and type.
func (d *Dataset) Attribute(name string) (*Attribute, error) {
	return d.f.attribute(d.addr, d.path, name)
}

func (d *Dataset) errf(err error) error { return fmt.Errorf("dataset %s: %w", d.path, err) }

// rawSize returns the total size in bytes, checking it against the file.
func (d *Dataset) rawSize() (uint64, error) {
	n, ok := d.space.numElements()
	total, ok2 := mulCheck(n, uint64(d.dtype.Size))
	if !ok || !ok2 {
		return 0, formatErr("dataset", d.addr, "size overflows")
	}
	switch d.lay.class {
	case layoutCompact:
		if total > uint64(len(d.lay.compact)) {
			return 0, formatErr("dataset", d.addr, "compact data holds %d bytes, need %d", len(d.lay.compact), total)
		}
	case layoutContiguous:
		if d.lay.addr != undefAddr && total > uint64(d.f.size) {
			return 0, formatErr("dataset", d.addr, "%d bytes of data exceed file size %d", total, d.f.size)
		}
		if total > d.f.maxExpand() {
			return 0, formatErr("dataset", d.addr, "%d bytes of data implausible for a %d byte file", total, d.f.size)
		}
	default:
		if total > d.f.maxExpand() {
			return 0, formatErr("dataset", d.addr, "%d bytes of data implausible for a %d byte file", total, d.f.size)
		}
	}
	return total, nil
}

// ReadRaw returns the raw element bytes in file byte order (row-major).
// Variable-length elements are returned as their on-disk heap references.
func (d *Dataset) ReadRaw() ([]byte, error) {
	total, err := d.rawSize()
	if err != nil {
		return nil, d.errf(err)
	}
	buf := make([]byte, total)
	if err := d.readRaw(buf); err != nil {
		return nil, d.errf(err)
	}
	return buf, nil
}

func (d *Dataset) fillBytes(dst []byte) {
	if len(d.fill) == 0 {
		return
	}
	zero := true
	for _, c := range d.fill {
		if c != 0 {
			zero = false
		}
	}
	if zero {
		return
	}
	for i := 0; i+len(d.fill) <= len(dst); i += len(d.fill) {
		copy(dst[i:], d.fill)
	}
}

// readRaw fills dst (exactly the dataset's size) with raw data. dst must
// be zeroed.
func (d *Dataset) readRaw(dst []byte) error {
	l := d.lay
	switch l.class {
	case layoutCompact:
		copy(dst, l.compact)
		return nil
	case layoutContiguous:
		if l.addr == undefAddr {
			d.fillBytes(dst)
			return nil
		}
		if l.size != 0 && l.size < uint64(len(dst)) {
			return formatErr("dataset", d.addr, "contiguous storage of %d bytes, need %d", l.size, len(dst))
		}
		return d.f.readInto(l.addr, dst)
	case layoutChunked:
		return d.readChunked(dst)
	}
	return unsupported("layout class %d", l.class)
}

func (d *Dataset) readChunked(dst []byte) error {
	d.fillBytes(dst)
	es := uint64(d.dtype.Size)
	dims := d.space.dims
	cdims := d.lay.chunk
	chunkBytes := es
	for _, c := range cdims {
		var ok bool
		if chunkBytes, ok = mulCheck(chunkBytes, c); !ok || chunkBytes > d.f.maxExpand() {
			return formatErr("dataset", d.addr, "chunk size implausible")
		}
	}
	if len(dims) == 0 || len(dst) == 0 {
		return nil
	}
	return d.eachChunk(chunkBytes, func(off []uint64, addr, size uint64, mask uint32) error {
		for i, o := range off {
			if o >= dims[i] || o%cdims[i] != 0 {
				if o >= dims[i] {
					return nil
				}
				return formatErr("chunk", addr, "misaligned chunk offset %v", off)
			}
		}
		if size > uint64(d.f.size) {
			return formatErr("chunk", addr, "chunk size %d beyond file", size)
		}
		if len(d.filters) == 0 && size > chunkBytes {
			size = chunkBytes
		}
		raw, err := d.f.readAt(addr, size)
		if err != nil {
			return err
		}
		data, err := applyFilters(raw, d.filters, mask, chunkBytes, addr)
		if err != nil {
			return err
		}
		if uint64(len(data)) < chunkBytes {
			return formatErr("chunk", addr, "chunk decodes to %d bytes, want %d", len(data), chunkBytes)
		}
		copyChunk(dst, dims, data, cdims, off, es)
		return nil
	})
}

// copyChunk copies a chunk (cdims, row-major) positioned at element offset
// off into the full array dst (dims), clipping at the array edges.
func copyChunk(dst []byte, dims []uint64, src []byte, cdims, off []uint64, es uint64) {
	r := len(dims)
	n := make([]uint64, r)
	for i := range dims {
		n[i] = min(cdims[i], dims[i]-off[i])
	}
	dstride := make([]uint64, r)
	cstride := make([]uint64, r)
	ds, cs := es, es
	for i := r - 1; i >= 0; i-- {
		dstride[i], cstride[i] = ds, cs
		ds *= dims[i]
		cs *= cdims[i]
	}
	run := n[r-1] * es
	idx := make([]uint64, r)
	for {
		var so, do uint64
		for i := 0; i < r-1; i++ {
			so += idx[i] * cstride[i]
			do += (off[i] + idx[i]) * dstride[i]
		}
		do += off[r-1] * es
		copy(dst[do:do+run], src[so:so+run])
		i := r - 2
		for ; i >= 0; i-- {
			idx[i]++
			if idx[i] < n[i] {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			return
		}
	}
}

func bytesView(f []float32) []byte {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), len(f)*4)
}

// ReadFloat32 reads the whole dataset converted to float32.
func (d *Dataset) ReadFloat32() ([]float32, error) {
	n, ok := d.space.numElements()
	if !ok {
		return nil, d.errf(formatErr("dataset", d.addr, "size overflows"))
	}
	if _, err := d.rawSize(); err != nil {
		return nil, d.errf(err)
	}
	if err := checkNumeric(d.dtype); err != nil {
		return nil, d.errf(err)
	}
	dst := make([]float32, n)
	if err := d.ReadInto(dst); err != nil {
		return nil, err
	}
	return dst, nil
}

// ReadInto reads the whole dataset, converted to float32, into dst, whose
// length must equal the number of elements. Little-endian float32 data is
// read directly into dst's memory.
func (d *Dataset) ReadInto(dst []float32) error {
	n, ok := d.space.numElements()
	if !ok || uint64(len(dst)) != n {
		return d.errf(fmt.Errorf("hdf5: ReadInto: destination has %d elements, dataset %d", len(dst), n))
	}
	if err := checkNumeric(d.dtype); err != nil {
		return d.errf(err)
	}
	total, err := d.rawSize()
	if err != nil {
		return d.errf(err)
	}
	t := d.dtype
	if t.Class == ClassFloat && t.Size == 4 && !t.BigEndian && nativeLE {
		b := bytesView(dst)
		if d.lay.class == layoutChunked {
			clear(b)
		}
		if err := d.readRaw(b); err != nil {
			return d.errf(err)
		}
		return nil
	}
	raw := make([]byte, total)
	if err := d.readRaw(raw); err != nil {
		return d.errf(err)
	}
	if err := toFloat32(dst, raw, t); err != nil {
		return d.errf(err)
	}
	return nil
}

// ReadFloat64 reads the whole dataset converted to float64.
func (d *Dataset) ReadFloat64() ([]float64, error) {
	raw, err := d.numericRaw()
	if err != nil {
		return nil, err
	}
	es := int(numericBase(d.dtype).Size)
	out := make([]float64, len(raw)/es)
	for i := range out {
		out[i] = float64At(raw[i*es:(i+1)*es], d.dtype)
	}
	return out, nil
}

// ReadInt64 reads an integer (or boolean/enum) dataset as int64.
func (d *Dataset) ReadInt64() ([]int64, error) {
	raw, err := d.numericRaw()
	if err != nil {
		return nil, err
	}
	bt := numericBase(d.dtype)
	if bt.Class != ClassInteger {
		return nil, d.errf(unsupported("ReadInt64 of %s data", d.dtype))
	}
	es := int(bt.Size)
	out := make([]int64, len(raw)/es)
	for i := range out {
		u := loadUint(raw[i*es:(i+1)*es], bt.BigEndian)
		if bt.Signed {
			out[i] = signExtend(u, bt.Size)
		} else {
			out[i] = int64(u)
		}
	}
	return out, nil
}

func (d *Dataset) numericRaw() ([]byte, error) {
	if err := checkNumeric(d.dtype); err != nil {
		return nil, d.errf(err)
	}
	return d.ReadRaw()
}

// Value reads the whole dataset as a Go value, with the same conversions
// as attributes (scalars for rank-0 datasets, flat slices otherwise).
func (d *Dataset) Value() (any, error) {
	raw, err := d.ReadRaw()
	if err != nil {
		return nil, err
	}
	n, _ := d.space.numElements()
	v, err := d.f.decodeValue(d.dtype, n, raw, len(d.space.dims) == 0 && !d.space.null)
	if err != nil {
		return nil, d.errf(err)
	}
	return v, nil
}

// ReadStrings reads a string dataset (fixed or variable length).
func (d *Dataset) ReadStrings() ([]string, error) {
	if !d.dtype.IsString() {
		return nil, d.errf(unsupported("ReadStrings of %s data", d.dtype))
	}
	raw, err := d.ReadRaw()
	if err != nil {
		return nil, err
	}
	n, _ := d.space.numElements()
	v, err := d.f.decodeValue(d.dtype, n, raw, false)
	if err != nil {
		return nil, d.errf(err)
	}
	return v.([]string), nil
}
