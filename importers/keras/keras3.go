package keras

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"path"
	"strings"

	"github.com/retarget-dev/retarget/internal/boundedio"
	"github.com/retarget-dev/retarget/internal/hdf5"
)

const (
	maxArchiveEntry = 8 << 30 // no single entry of a .keras archive may exceed this
	maxRatio        = 1100    // nor expand more than deflate can
)

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// safeEntryName refuses zip entry names that would escape the archive.
func safeEntryName(n string) error {
	if n == "" || strings.Contains(n, "\\") || strings.HasPrefix(n, "/") || strings.Contains(n, "\x00") {
		return fmt.Errorf("archive entry %q has an unsafe name", n)
	}
	for _, p := range strings.Split(n, "/") {
		if p == ".." {
			return fmt.Errorf("archive entry %q escapes the archive", n)
		}
	}
	if path.Clean(n) != strings.TrimSuffix(n, "/") && path.Clean(n)+"/" != n {
		return fmt.Errorf("archive entry %q has an unsafe name", n)
	}
	return nil
}

func readEntry(f *zip.File, limit uint64) ([]byte, error) {
	if f.UncompressedSize64 > limit {
		return nil, fmt.Errorf("archive entry %s is %d bytes, more than the %d allowed", f.Name, f.UncompressedSize64, limit)
	}
	if f.CompressedSize64 > 0 && f.UncompressedSize64/maxRatio > f.CompressedSize64+1 {
		return nil, fmt.Errorf("archive entry %s expands %d-fold: refused", f.Name, f.UncompressedSize64/max(f.CompressedSize64, 1))
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// sized once from the directory (bounded above), not grown by doubling
	b := make([]byte, f.UncompressedSize64)
	if _, err := io.ReadFull(rc, b); err != nil {
		return nil, fmt.Errorf("archive entry %s: %w", f.Name, boundedio.UnexpectedEOF(err))
	}
	// one more read: the size must end here, and the reader checks the
	// CRC-32 when it reaches the end
	if n, err := rc.Read(make([]byte, 1)); n > 0 {
		return nil, fmt.Errorf("archive entry %s: size differs from the directory", f.Name)
	} else if err != nil && err != io.EOF {
		return nil, fmt.Errorf("archive entry %s: %w", f.Name, err)
	}
	return b, nil
}

// storedEntry is the bytes of an uncompressed entry where they lie in the
// archive, checked against the entry's CRC-32 (read once, in pieces), or
// nil for a compressed one. Reading the weights from there instead of a
// copy in memory keeps a large model's weights held once.
func storedEntry(f *zip.File, r io.ReaderAt, size int64) (*io.SectionReader, error) {
	if f.Method != zip.Store || f.CompressedSize64 != f.UncompressedSize64 {
		return nil, nil
	}
	off, err := f.DataOffset()
	if err != nil {
		return nil, fmt.Errorf("archive entry %s: %w", f.Name, err)
	}
	if off < 0 || f.UncompressedSize64 > uint64(size) || uint64(off) > uint64(size)-f.UncompressedSize64 {
		return nil, fmt.Errorf("archive entry %s lies past the end of the archive", f.Name)
	}
	sr := io.NewSectionReader(r, off, int64(f.UncompressedSize64))
	h := crc32.NewIEEE()
	if _, err := io.Copy(h, io.NewSectionReader(r, off, sr.Size())); err != nil {
		return nil, fmt.Errorf("archive entry %s: %w", f.Name, err)
	}
	if h.Sum32() != f.CRC32 {
		return nil, fmt.Errorf("archive entry %s: checksum mismatch", f.Name)
	}
	return sr, nil
}

// kerasArchive reads a Keras 3 .keras zip: config.json, metadata.json and
// model.weights.h5.
func kerasArchive(r io.ReaderAt, size int64) (*source, func(), error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, nil, fmt.Errorf("not a readable .keras archive: %w", err)
	}
	entries := map[string]*zip.File{}
	for _, f := range zr.File {
		if err := safeEntryName(f.Name); err != nil {
			return nil, nil, err
		}
		entries[f.Name] = f
	}
	cf := entries["config.json"]
	if cf == nil {
		return nil, nil, fmt.Errorf(".keras archive has no config.json")
	}
	cfgBytes, err := readEntry(cf, maxConfigBytes)
	if err != nil {
		return nil, nil, err
	}
	src := &source{config: cfgBytes}
	if mf := entries["metadata.json"]; mf != nil {
		if mb, err := readEntry(mf, 1<<20); err == nil {
			var md struct {
				Version string `json:"keras_version"`
			}
			if json.Unmarshal(mb, &md) == nil {
				src.version = md.Version
			}
		}
	}
	if src.version == "" {
		src.version = "3"
	}
	wf := entries["model.weights.h5"]
	if wf == nil {
		return nil, nil, fmt.Errorf(".keras archive has no model.weights.h5")
	}
	if wf.UncompressedSize64 > uint64(size)*maxRatio+16<<20 {
		return nil, nil, fmt.Errorf("model.weights.h5 claims %d bytes: refused", wf.UncompressedSize64)
	}
	wr, err := storedEntry(wf, r, size)
	if err != nil {
		return nil, nil, err
	}
	if wr == nil {
		wb, err := readEntry(wf, maxArchiveEntry)
		if err != nil {
			return nil, nil, err
		}
		wr = io.NewSectionReader(bytes.NewReader(wb), 0, int64(len(wb)))
	}
	hf, err := hdf5.OpenReader(wr, wr.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("model.weights.h5: %w", err)
	}
	src.weights = &k3Weights{root: hf.Root()}
	return src, func() { hf.Close() }, nil
}
