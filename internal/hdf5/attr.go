package hdf5

import "sort"

// Attribute is a decoded attribute.
type Attribute struct {
	Name  string
	Shape []uint64 // empty for scalars
	Dtype *Datatype
	// Value is string, []string, int64, []int64, uint64, []uint64, float64,
	// []float64, bool or []bool (slices are flattened in row-major order),
	// or nil for an empty (null dataspace) attribute.
	Value any

	order uint32
	space *dataspace
	raw   []byte
}

func (f *File) parseAttribute(b []byte) (*Attribute, error) {
	const what = "attribute message"
	d := newDecoder(b, f)
	ver := d.u8()
	flags := d.u8()
	nameLen := int(d.u16())
	dtLen := int(d.u16())
	dsLen := int(d.u16())
	if ver == 3 {
		d.u8() // name charset
	}
	if ver < 1 || ver > 3 {
		return nil, formatErr(what, 0, "unknown version %d", ver)
	}
	pad := func(n int) int {
		if ver == 1 {
			return align8(n)
		}
		return n
	}
	a := &Attribute{}
	a.Name = cstr(d.bytes(pad(nameLen)))
	dtb := d.bytes(pad(dtLen))
	dsb := d.bytes(pad(dsLen))
	if d.err != nil {
		return nil, formatErr(what, 0, "truncated")
	}
	if flags&3 != 0 {
		return nil, unsupported("shared datatype/dataspace in attribute %q", a.Name)
	}
	dt, _, err := parseDatatype(dtb)
	if err != nil {
		return nil, err
	}
	ds, err := parseDataspace(dsb, f)
	if err != nil {
		return nil, err
	}
	a.Dtype, a.space = dt, ds
	a.Shape = ds.dims
	n, ok := ds.numElements()
	if !ok {
		return nil, formatErr(what, 0, "attribute %q: element count overflows", a.Name)
	}
	size, ok := mulCheck(n, uint64(dt.Size))
	if !ok || size > uint64(d.remaining()) {
		return nil, formatErr(what, 0, "attribute %q: data (%d elements of %d bytes) exceeds message", a.Name, n, dt.Size)
	}
	a.raw = d.bytes(int(size))
	return a, nil
}

// attributes returns all attributes of the object at addr, in name order.
func (f *File) attributes(addr uint64) ([]*Attribute, error) {
	oh, err := f.objectHeader(addr)
	if err != nil {
		return nil, err
	}
	var out []*Attribute
	for i := range oh.msgs {
		m := &oh.msgs[i]
		switch m.typ {
		case msgAttribute:
			data, err := f.messageData(m, 0)
			if err != nil {
				return nil, err
			}
			a, err := f.parseAttribute(data)
			if err != nil {
				return nil, err
			}
			a.order = uint32(m.order)
			out = append(out, a)
		case msgAttrInfo:
			d := newDecoder(m.data, f)
			d.u8()
			flags := d.u8()
			if flags&1 != 0 {
				d.u16()
			}
			heapAddr := d.addr()
			nameBT := d.addr()
			if d.err != nil {
				return nil, formatErr("attribute info message", addr, "truncated")
			}
			if heapAddr == undefAddr || nameBT == undefAddr {
				continue
			}
			dense, err := f.denseAttrs(heapAddr, nameBT)
			if err != nil {
				return nil, err
			}
			out = append(out, dense...)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *File) denseAttrs(heapAddr, btAddr uint64) ([]*Attribute, error) {
	h, t, err := f.openDenseIndex(heapAddr, btAddr, bt2AttrName, "attribute name index")
	if err != nil {
		return nil, err
	}
	var out []*Attribute
	err = t.each(func(rec []byte) error {
		if len(rec) < 17 {
			return formatErr("attribute name index", btAddr, "record too short")
		}
		if rec[8]&0x02 != 0 {
			return unsupported("shared attribute in dense storage")
		}
		obj, err := h.get(rec[:8])
		if err != nil {
			return err
		}
		a, err := f.parseAttribute(obj)
		if err != nil {
			return err
		}
		a.order = uint32(rec[9]) | uint32(rec[10])<<8 | uint32(rec[11])<<16 | uint32(rec[12])<<24
		out = append(out, a)
		return nil
	})
	return out, err
}

func (f *File) attrNames(addr uint64) ([]string, error) {
	as, err := f.attributes(addr)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(as))
	for i, a := range as {
		names[i] = a.Name
	}
	return names, nil
}

func (f *File) attribute(addr uint64, where, name string) (*Attribute, error) {
	as, err := f.attributes(addr)
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		if a.Name != name {
			continue
		}
		if a.space.null {
			return a, nil
		}
		n, _ := a.space.numElements()
		v, err := f.decodeValue(a.Dtype, n, a.raw, len(a.space.dims) == 0)
		if err != nil {
			return nil, &AttrError{Object: where, Name: name, Err: err}
		}
		a.Value = v
		return a, nil
	}
	return nil, &NotFoundError{Where: where + " attributes", Name: name}
}

func (f *File) attrValue(addr uint64, where, name string) (any, error) {
	a, err := f.attribute(addr, where, name)
	if err != nil {
		return nil, err
	}
	return a.Value, nil
}

// AttrError wraps an error decoding an attribute.
type AttrError struct {
	Object, Name string
	Err          error
}

func (e *AttrError) Error() string {
	return "hdf5: attribute " + e.Name + " of " + e.Object + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *AttrError) Unwrap() error { return e.Err }
