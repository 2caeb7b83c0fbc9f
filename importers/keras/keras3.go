package keras

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"

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
	b, err := io.ReadAll(io.LimitReader(rc, int64(f.UncompressedSize64)+1))
	if err != nil {
		return nil, fmt.Errorf("archive entry %s: %w", f.Name, err)
	}
	if uint64(len(b)) != f.UncompressedSize64 {
		return nil, fmt.Errorf("archive entry %s: size differs from the directory", f.Name)
	}
	return b, nil
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
	wb, err := readEntry(wf, maxArchiveEntry)
	if err != nil {
		return nil, nil, err
	}
	hf, err := hdf5.OpenReader(bytes.NewReader(wb), int64(len(wb)))
	if err != nil {
		return nil, nil, fmt.Errorf("model.weights.h5: %w", err)
	}
	src.weights = &k3Weights{root: hf.Root()}
	return src, func() { hf.Close() }, nil
}
