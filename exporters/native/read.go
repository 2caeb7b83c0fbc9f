package native

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/retarget-dev/retarget/internal/boundedio"
	"github.com/retarget-dev/retarget/ir"
)

// maxJSONEntry bounds graph.json and meta.json after decompression.
const maxJSONEntry = 256 << 20

// maxDeflateRatio is above deflate's best ratio (about 1032:1): an entry that
// claims more is a lie, refused before anything is allocated.
const maxDeflateRatio = 1100

// Import reads an .rtm file.
func Import(path string) (*ir.Graph, error) {
	f, size, err := boundedio.Open(path, "an .rtm file")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return read(f, size, path)
}

// ImportFrom reads an .rtm archive from r (to its end).
func ImportFrom(r io.Reader) (*ir.Graph, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, &FormatError{Err: err}
	}
	return read(bytes.NewReader(b), int64(len(b)), "")
}

func read(r io.ReaderAt, size int64, file string) (*ir.Graph, error) {
	fail := func(entry string, err error) error { return &FormatError{File: file, Entry: entry, Err: err} }
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, fail("", fmt.Errorf("not a readable zip archive: %w", err))
	}
	entries := map[string]*zip.File{}
	for _, f := range zr.File {
		if !safeName(f.Name) {
			return nil, fail(f.Name, ErrUnsafePath)
		}
		if _, dup := entries[f.Name]; dup {
			return nil, fail(f.Name, errors.New("the archive holds this entry twice"))
		}
		entries[f.Name] = f
	}
	for _, name := range []string{entryMeta, entryGraph, entryWeights, entryState} {
		f := entries[name]
		if f == nil {
			return nil, fail(name, errors.New("entry missing"))
		}
		if err := checkSizes(f, size); err != nil {
			return nil, fail(name, err)
		}
	}

	var meta metaJSON
	if err := readJSON(entries[entryMeta], &meta); err != nil {
		return nil, fail(entryMeta, err)
	}
	if meta.Format != FormatName {
		return nil, fail(entryMeta, fmt.Errorf("format %q, want %q", meta.Format, FormatName))
	}
	if meta.FormatVersion < 1 || meta.FormatVersion > FormatVersion {
		if meta.FormatVersion > FormatVersion {
			return nil, fail(entryMeta, fmt.Errorf("format version %d, this build reads up to %d: %w", meta.FormatVersion, FormatVersion, ErrNewerVersion))
		}
		return nil, fail(entryMeta, fmt.Errorf("bad format version %d", meta.FormatVersion))
	}

	var gj graphJSON
	if err := readJSON(entries[entryGraph], &gj); err != nil {
		return nil, fail(entryGraph, err)
	}
	weights, err := readTensors(entries[entryWeights])
	if err != nil {
		return nil, fail(entryWeights, err)
	}
	state, err := readTensors(entries[entryState])
	if err != nil {
		return nil, fail(entryState, err)
	}

	g, probs := assemble(&gj, weights, state)
	if len(probs) > 0 {
		return nil, fail(entryGraph, &ir.ValidationError{Problems: probs})
	}
	if err := g.Validate(); err != nil {
		return nil, fail(entryGraph, err)
	}
	return g, nil
}

// assemble builds the graph from its JSON and tensors, collecting every
// problem: unknown layers, tensors listed but absent, tensors nobody lists.
func assemble(gj *graphJSON, weights, state map[string]*ir.Tensor) (*ir.Graph, []error) {
	g := &ir.Graph{Name: gj.Name, Inputs: gj.Inputs, Outputs: gj.Outputs, Train: gj.Train, Step: gj.Step, Meta: gj.Meta}
	var probs []error
	usedW, usedS := map[string]bool{}, map[string]bool{}
	take := func(v *ir.Vertex, names []string, from map[string]*ir.Tensor, used map[string]bool, what, entry string) map[string]*ir.Tensor {
		if len(names) == 0 {
			return nil
		}
		out := make(map[string]*ir.Tensor, len(names))
		for _, n := range names {
			k := tensorKey(v.Name, n)
			if used[k] {
				probs = append(probs, &ir.VertexError{Vertex: v.Name, Err: fmt.Errorf("%s %q listed twice", what, n)})
				continue
			}
			used[k] = true
			t, ok := from[k]
			if !ok {
				probs = append(probs, &ir.VertexError{Vertex: v.Name, Err: fmt.Errorf("%s %q: tensor %q missing from %s", what, n, k, entry)})
				continue
			}
			out[n] = t
		}
		return out
	}
	for _, vj := range gj.Vertices {
		v := &ir.Vertex{Name: vj.Name, Inputs: vj.Inputs, Frozen: vj.Frozen, Train: vj.Train}
		if len(vj.Layer) == 0 {
			probs = append(probs, &ir.VertexError{Vertex: vj.Name, Err: errors.New("no layer config")})
		} else if l, err := ir.UnmarshalLayer(vj.Layer); err != nil {
			probs = append(probs, &ir.VertexError{Vertex: vj.Name, Err: fmt.Errorf("layer config: %w", err)})
		} else {
			v.Layer = l
		}
		v.Params = take(v, vj.Params, weights, usedW, "parameter", entryWeights)
		v.State = take(v, vj.State, state, usedS, "updater state", entryState)
		g.Vertices = append(g.Vertices, v)
	}
	for _, unused := range []struct {
		m     map[string]*ir.Tensor
		used  map[string]bool
		entry string
	}{{weights, usedW, entryWeights}, {state, usedS, entryState}} {
		for _, k := range sortedKeys(unused.m) {
			if !unused.used[k] {
				probs = append(probs, fmt.Errorf("%s: tensor %q belongs to no vertex", unused.entry, k))
			}
		}
	}
	return g, probs
}

// safeName accepts relative, clean, slash-separated names inside the archive.
func safeName(name string) bool {
	if name == "" || strings.ContainsAny(name, "\\:\x00") || strings.HasPrefix(name, "/") || path.Clean(name) != name {
		return false
	}
	return name != ".." && !strings.HasPrefix(name, "../")
}

// checkSizes refuses an entry whose declared sizes the archive cannot hold.
func checkSizes(f *zip.File, archive int64) error {
	c, u := f.CompressedSize64, f.UncompressedSize64
	if c > uint64(archive) {
		return fmt.Errorf("compressed size %d exceeds the %d-byte archive", c, archive)
	}
	switch f.Method {
	case zip.Store:
		if u != c {
			return fmt.Errorf("stored entry claims %d bytes but holds %d", u, c)
		}
	case zip.Deflate:
		if u > maxDeflateRatio*c+1024 {
			return fmt.Errorf("claims %d bytes from %d compressed: impossible for deflate", u, c)
		}
	default:
		return fmt.Errorf("compression method %d is not supported", f.Method)
	}
	return nil
}

// readAll reads an entry fully (it is already size-checked) and verifies its
// checksum.
func readAll(f *zip.File, limit uint64) ([]byte, error) {
	if f.UncompressedSize64 > limit {
		return nil, fmt.Errorf("%d bytes is more than the %d allowed", f.UncompressedSize64, limit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	buf.Grow(int(f.UncompressedSize64))
	if _, err := io.Copy(&buf, io.LimitReader(rc, int64(f.UncompressedSize64)+1)); err != nil {
		return nil, err
	}
	if uint64(buf.Len()) != f.UncompressedSize64 {
		return nil, fmt.Errorf("holds %d bytes, its header says %d", buf.Len(), f.UncompressedSize64)
	}
	return buf.Bytes(), nil
}

func readJSON(f *zip.File, v any) error {
	b, err := readAll(f, maxJSONEntry)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad JSON: %w", err)
	}
	if dec.More() {
		return errors.New("bad JSON: data after the object")
	}
	return nil
}

func readTensors(f *zip.File) (map[string]*ir.Tensor, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	ts, _, err := readSafetensors(rc, int64(f.UncompressedSize64))
	if err != nil {
		return nil, err
	}
	// reach the end so the zip reader verifies the checksum
	var one [1]byte
	if n, err := rc.Read(one[:]); n != 0 || (err != io.EOF && err != nil) {
		if err == nil || err == io.EOF {
			err = errors.New("data after the last tensor")
		}
		return nil, err
	}
	return ts, nil
}
