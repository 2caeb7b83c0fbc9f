package hdf5

const maxRank = 32

type dataspace struct {
	dims    []uint64
	maxDims []uint64 // nil when not stored (== dims)
	null    bool
}

func (s *dataspace) numElements() (uint64, bool) {
	if s.null {
		return 0, true
	}
	n := uint64(1)
	for _, d := range s.dims {
		var ok bool
		if n, ok = mulCheck(n, d); !ok {
			return 0, false
		}
	}
	return n, true
}

func (s *dataspace) max() []uint64 {
	if s.maxDims != nil {
		return s.maxDims
	}
	return s.dims
}

func parseDataspace(b []byte, f *File) (*dataspace, error) {
	d := newDecoder(b, f)
	ver := d.u8()
	rank := int(d.u8())
	flags := d.u8()
	s := &dataspace{}
	switch ver {
	case 1:
		d.skip(5)
	case 2:
		typ := d.u8()
		if typ == 2 {
			s.null = true
		}
	default:
		return nil, formatErr("dataspace message", 0, "unknown version %d", ver)
	}
	if rank > maxRank {
		return nil, formatErr("dataspace message", 0, "rank %d too large", rank)
	}
	s.dims = make([]uint64, rank)
	for i := range s.dims {
		s.dims[i] = d.length()
	}
	if flags&1 != 0 {
		s.maxDims = make([]uint64, rank)
		for i := range s.maxDims {
			s.maxDims[i] = d.length()
		}
	}
	if d.err != nil {
		return nil, formatErr("dataspace message", 0, "truncated")
	}
	if s.null {
		s.dims = nil
	}
	return s, nil
}
