package hdf5

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

var signature = []byte("\x89HDF\r\n\x1a\n")

// File is an open HDF5 file for reading. It is safe for sequential use only.
type File struct {
	r      io.ReaderAt
	size   int64
	closer io.Closer

	sbVersion int
	osz, lsz  int
	base      uint64
	rootAddr  uint64

	ohCache map[uint64]*objectHeader
	ghCache map[uint64]map[uint16][]byte
	ohBusy  map[uint64]bool

	linkCache map[uint64]*cachedLinks
	readLimit uint64
}

// SetReadLimit caps the number of bytes a single dataset read may decode
// for chunked or fill-value-only data (whose size the file size does not
// bound directly). The default is 1100 times the file size plus 16 MiB
// (deflate cannot expand data by more than about 1032 times).
func (f *File) SetReadLimit(n uint64) { f.readLimit = n }

// Open opens the HDF5 file at path.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, err
	}
	f, err := OpenReader(fh, st.Size())
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.closer = fh
	return f, nil
}

// OpenReader opens an HDF5 file held in r, which has the given size in bytes.
func OpenReader(r io.ReaderAt, size int64) (*File, error) {
	f := &File{r: r, size: size,
		ohCache: map[uint64]*objectHeader{},
		ghCache: map[uint64]map[uint16][]byte{},
		ohBusy:  map[uint64]bool{},

		linkCache: map[uint64]*cachedLinks{},
	}
	if err := f.readSuperblock(); err != nil {
		return nil, err
	}
	return f, nil
}

// Close releases the underlying file (if opened by Open).
func (f *File) Close() error {
	if f.closer != nil {
		c := f.closer
		f.closer = nil
		return c.Close()
	}
	return nil
}

// Root returns the root group.
func (f *File) Root() *Group {
	return &Group{f: f, path: "/", addr: f.rootAddr}
}

// SuperblockVersion reports the superblock version (0-3).
func (f *File) SuperblockVersion() int { return f.sbVersion }

// readRawAt reads n bytes at absolute file offset off.
func (f *File) readRawAt(off, n uint64) ([]byte, error) {
	if off > uint64(f.size) || n > uint64(f.size)-off {
		return nil, formatErr("file", off, "read of %d bytes beyond end of file (size %d)", n, f.size)
	}
	b := make([]byte, n)
	if _, err := f.r.ReadAt(b, int64(off)); err != nil && !(err == io.EOF) {
		return nil, fmt.Errorf("hdf5: read at 0x%x: %w", off, err)
	}
	return b, nil
}

// absAddr converts a relative address to an absolute file offset.
func (f *File) absAddr(addr uint64) (uint64, error) {
	if addr == undefAddr {
		return 0, formatErr("address", addr, "undefined address")
	}
	a := addr + f.base
	if a < addr || a > uint64(f.size) {
		return 0, formatErr("address", addr, "address beyond end of file (size %d)", f.size)
	}
	return a, nil
}

// readAt reads n bytes at relative address addr.
func (f *File) readAt(addr, n uint64) ([]byte, error) {
	a, err := f.absAddr(addr)
	if err != nil {
		return nil, err
	}
	return f.readRawAt(a, n)
}

// readAtMost reads up to n bytes at addr, truncated at the end of the file.
func (f *File) readAtMost(addr, n uint64) ([]byte, error) {
	a, err := f.absAddr(addr)
	if err != nil {
		return nil, err
	}
	if rem := uint64(f.size) - a; n > rem {
		n = rem
	}
	return f.readRawAt(a, n)
}

// readInto reads len(dst) bytes at relative address addr directly into dst.
func (f *File) readInto(addr uint64, dst []byte) error {
	a, err := f.absAddr(addr)
	if err != nil {
		return err
	}
	n := uint64(len(dst))
	if n > uint64(f.size)-a {
		return formatErr("data", addr, "read of %d bytes beyond end of file (size %d)", n, f.size)
	}
	if n == 0 {
		return nil
	}
	if _, err := f.r.ReadAt(dst, int64(a)); err != nil && err != io.EOF {
		return fmt.Errorf("hdf5: read at 0x%x: %w", a, err)
	}
	return nil
}

// maxExpand bounds the bytes a dataset may decode to, given the file size
// (deflate cannot expand by more than ~1032x; fill regions are bounded too).
func (f *File) maxExpand() uint64 {
	if f.readLimit > 0 {
		return f.readLimit
	}
	return uint64(f.size)*1100 + 16<<20
}

func (f *File) readSuperblock() error {
	var off int64 = -1
	hdr := make([]byte, 8)
	for o := int64(0); o+8 <= f.size; {
		if _, err := f.r.ReadAt(hdr, o); err != nil && err != io.EOF {
			return fmt.Errorf("hdf5: reading superblock: %w", err)
		}
		if bytes.Equal(hdr, signature) {
			off = o
			break
		}
		if o == 0 {
			o = 512
		} else {
			o *= 2
		}
	}
	if off < 0 {
		return formatErr("superblock", 0, "HDF5 signature not found")
	}
	b, err := f.readRawAt(uint64(off), min(uint64(f.size-off), 256))
	if err != nil {
		return err
	}
	d := newDecoder(b, nil)
	d.skip(8)
	ver := d.u8()
	f.sbVersion = int(ver)
	switch ver {
	case 0, 1:
		d.skip(3) // free-space, root group, reserved
		d.skip(1) // shared header version
		f.osz = int(d.u8())
		f.lsz = int(d.u8())
		d.skip(1)
		d.skip(4) // leaf K, internal K
		d.skip(4) // flags
		if ver == 1 {
			d.skip(4)
		}
		if err := f.checkSizes(uint64(off)); err != nil {
			return err
		}
		d.osz, d.lsz = f.osz, f.lsz
		f.base = d.addr()
		d.addr() // free space
		d.addr() // eof
		d.addr() // driver info
		// root symbol table entry
		d.addr() // link name offset
		f.rootAddr = d.addr()
		if d.err != nil {
			return formatErr("superblock", uint64(off), "%v", d.err)
		}
	case 2, 3:
		f.osz = int(d.u8())
		f.lsz = int(d.u8())
		if err := f.checkSizes(uint64(off)); err != nil {
			return err
		}
		d.osz, d.lsz = f.osz, f.lsz
		d.skip(1) // flags
		f.base = d.addr()
		d.addr() // superblock extension
		d.addr() // eof
		f.rootAddr = d.addr()
		end := d.off
		sum := d.u32()
		if d.err != nil {
			return formatErr("superblock", uint64(off), "%v", d.err)
		}
		if lookup3(b[:end], 0) != sum {
			return formatErr("superblock", uint64(off), "checksum mismatch")
		}
	default:
		return unsupported("superblock version %d", ver)
	}
	if f.base == undefAddr {
		f.base = 0
	}
	if f.base > uint64(f.size) {
		return formatErr("superblock", uint64(off), "base address beyond end of file")
	}
	return nil
}

func (f *File) checkSizes(off uint64) error {
	ok := func(n int) bool { return n == 2 || n == 4 || n == 8 }
	if !ok(f.osz) || !ok(f.lsz) {
		return formatErr("superblock", off, "invalid size of offsets/lengths %d/%d", f.osz, f.lsz)
	}
	return nil
}
