package hdf5

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"io"
)

// Filter identifiers.
const (
	filterDeflate    = 1
	filterShuffle    = 2
	filterFletcher32 = 3
	filterSzip       = 4
	filterNbit       = 5
	filterScaleOff   = 6
	filterLZF        = 32000
)

type filter struct {
	id     uint16
	name   string
	flags  uint16
	client []uint32
}

func parseFilters(b []byte) ([]filter, error) {
	const what = "filter pipeline message"
	d := newDecoder(b, nil)
	ver := d.u8()
	n := int(d.u8())
	if ver == 1 {
		d.skip(6)
	} else if ver != 2 {
		return nil, formatErr(what, 0, "unknown version %d", ver)
	}
	var out []filter
	for i := 0; i < n; i++ {
		var fl filter
		fl.id = d.u16()
		nameLen := 0
		if ver == 1 || fl.id >= 256 {
			nameLen = int(d.u16())
		}
		fl.flags = d.u16()
		nc := int(d.u16())
		if nameLen > 0 {
			if ver == 1 {
				nameLen = align8(nameLen)
			}
			fl.name = cstr(d.bytes(nameLen))
		}
		if nc > d.remaining()/4 {
			return nil, formatErr(what, 0, "too many client values")
		}
		for j := 0; j < nc; j++ {
			fl.client = append(fl.client, d.u32())
		}
		if ver == 1 && nc%2 == 1 {
			d.skip(4)
		}
		if d.err != nil {
			return nil, formatErr(what, 0, "truncated")
		}
		out = append(out, fl)
	}
	return out, nil
}

// applyFilters reverses the filter pipeline on one chunk. want is the
// expected decoded size (an upper bound on allocation).
func applyFilters(data []byte, filters []filter, mask uint32, want uint64, addr uint64) ([]byte, error) {
	for i := len(filters) - 1; i >= 0; i-- {
		if i < 32 && mask&(1<<uint(i)) != 0 {
			continue
		}
		fl := filters[i]
		var err error
		switch fl.id {
		case filterDeflate:
			data, err = inflate(data, want, addr)
		case filterShuffle:
			es := 1
			if len(fl.client) > 0 {
				es = int(fl.client[0])
			}
			data = unshuffle(data, es)
		case filterFletcher32:
			if len(data) < 4 {
				return nil, formatErr("chunk", addr, "fletcher32: chunk too short")
			}
			n := len(data) - 4
			stored := binary.LittleEndian.Uint32(data[n:])
			sum := fletcher32(data[:n])
			swapped := sum>>24 | (sum>>8)&0xff00 | (sum<<8)&0xff0000 | sum<<24
			if stored != sum && stored != swapped {
				return nil, formatErr("chunk", addr, "fletcher32 checksum mismatch")
			}
			data = data[:n]
		case filterLZF:
			data, err = lzfDecompress(data, want, addr)
		default:
			name := fl.name
			if name == "" {
				name = map[uint16]string{filterSzip: "szip", filterNbit: "nbit", filterScaleOff: "scaleoffset"}[fl.id]
			}
			return nil, unsupported("filter %d (%s)", fl.id, name)
		}
		if err != nil {
			return nil, err
		}
	}
	return data, nil
}

func inflate(data []byte, want uint64, addr uint64) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, formatErr("chunk", addr, "deflate: %v", err)
	}
	var buf bytes.Buffer
	buf.Grow(int(min(want, 1<<30)))
	n, err := io.Copy(&buf, io.LimitReader(zr, int64(want)+1))
	if err != nil {
		return nil, formatErr("chunk", addr, "deflate: %v", err)
	}
	if uint64(n) > want {
		return nil, formatErr("chunk", addr, "deflate: chunk decodes to more than %d bytes", want)
	}
	return buf.Bytes(), nil
}

func unshuffle(in []byte, es int) []byte {
	if es <= 1 || len(in) < es {
		return in
	}
	out := make([]byte, len(in))
	n := len(in) / es
	for j := 0; j < es; j++ {
		src := in[j*n : (j+1)*n]
		for i, c := range src {
			out[i*es+j] = c
		}
	}
	copy(out[n*es:], in[n*es:])
	return out
}

func fletcher32(data []byte) uint32 {
	var sum1, sum2 uint32
	n := len(data) / 2
	p := 0
	for n > 0 {
		t := n
		if t > 360 {
			t = 360
		}
		n -= t
		for ; t > 0; t-- {
			sum1 += uint32(data[p])<<8 | uint32(data[p+1])
			p += 2
			sum2 += sum1
		}
		sum1 = (sum1 & 0xffff) + (sum1 >> 16)
		sum2 = (sum2 & 0xffff) + (sum2 >> 16)
	}
	if len(data)%2 == 1 {
		sum1 += uint32(data[p]) << 8
		sum2 += sum1
		sum1 = (sum1 & 0xffff) + (sum1 >> 16)
		sum2 = (sum2 & 0xffff) + (sum2 >> 16)
	}
	sum1 = (sum1 & 0xffff) + (sum1 >> 16)
	sum2 = (sum2 & 0xffff) + (sum2 >> 16)
	return sum2<<16 | sum1
}

// lzfDecompress decodes liblzf data (h5py's "lzf" filter).
func lzfDecompress(in []byte, want uint64, addr uint64) ([]byte, error) {
	out := make([]byte, 0, int(min(want, 1<<30)))
	bad := func() ([]byte, error) { return nil, formatErr("chunk", addr, "lzf: corrupt data") }
	for i := 0; i < len(in); {
		ctrl := int(in[i])
		i++
		if ctrl < 32 {
			n := ctrl + 1
			if i+n > len(in) || uint64(len(out)+n) > want {
				return bad()
			}
			out = append(out, in[i:i+n]...)
			i += n
			continue
		}
		n := ctrl >> 5
		if n == 7 {
			if i >= len(in) {
				return bad()
			}
			n += int(in[i])
			i++
		}
		if i >= len(in) {
			return bad()
		}
		ref := len(out) - ((ctrl&0x1f)<<8 | int(in[i])) - 1
		i++
		n += 2
		if ref < 0 || uint64(len(out)+n) > want {
			return bad()
		}
		for k := 0; k < n; k++ {
			out = append(out, out[ref+k])
		}
	}
	return out, nil
}
