package native

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/retarget-dev/retarget/internal/boundedio"
	"github.com/retarget-dev/retarget/ir"
)

// maxHeaderLen bounds a safetensors JSON header, as the reference
// implementation does.
const maxHeaderLen = 100 << 20

type stEntry struct {
	Dtype       string    `json:"dtype"`
	Shape       []int     `json:"shape"`
	DataOffsets [2]uint64 `json:"data_offsets"`
}

type namedTensor struct {
	key string
	t   *ir.Tensor
}

// writeSafetensors writes tensors in the given order, F32 little-endian.
func writeSafetensors(w io.Writer, tensors []namedTensor, meta map[string]string) error {
	header := map[string]any{}
	if len(meta) > 0 {
		header["__metadata__"] = meta
	}
	var off uint64
	for _, nt := range tensors {
		if nt.key == "__metadata__" {
			return fmt.Errorf("tensor key %q is reserved", nt.key)
		}
		if _, dup := header[nt.key]; dup {
			return fmt.Errorf("two tensors share the key %q", nt.key)
		}
		if len(nt.t.Data) != ir.NumElements(nt.t.Shape) {
			return fmt.Errorf("tensor %q holds %d values for shape %v", nt.key, len(nt.t.Data), nt.t.Shape)
		}
		shape := nt.t.Shape
		if shape == nil {
			shape = []int{}
		}
		n := uint64(len(nt.t.Data)) * 4
		header[nt.key] = stEntry{Dtype: "F32", Shape: shape, DataOffsets: [2]uint64{off, off + n}}
		off += n
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return err
	}
	// pad with spaces so the data starts 8-byte aligned, as the reference writer does
	for (8+len(hb))%8 != 0 {
		hb = append(hb, ' ')
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hb)))
	bw.Write(lenBuf[:])
	bw.Write(hb)
	var buf [4]byte
	for _, nt := range tensors {
		for _, v := range nt.t.Data {
			binary.LittleEndian.PutUint32(buf[:], math.Float32bits(v))
			bw.Write(buf[:])
		}
	}
	return bw.Flush()
}

// readSafetensors decodes a safetensors stream of exactly size bytes. Every
// offset and shape is checked against size before a tensor is allocated, so
// a header cannot make it allocate more than the stream holds.
func readSafetensors(r io.Reader, size int64) (map[string]*ir.Tensor, map[string]string, error) {
	if size < 8 {
		return nil, nil, fmt.Errorf("%d bytes: too short for a safetensors header", size)
	}
	var lenBuf [8]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return nil, nil, fmt.Errorf("reading the header length: %w", err)
	}
	hlen := binary.LittleEndian.Uint64(lenBuf[:])
	if hlen > maxHeaderLen || hlen > uint64(size-8) {
		return nil, nil, fmt.Errorf("header length %d does not fit in %d bytes", hlen, size)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(r, hb); err != nil {
		return nil, nil, fmt.Errorf("reading the header: %w", err)
	}
	dataLen := uint64(size) - 8 - hlen
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hb, &raw); err != nil {
		return nil, nil, fmt.Errorf("bad header JSON: %w", err)
	}
	var meta map[string]string
	type placed struct {
		key string
		e   stEntry
	}
	var list []placed
	for k, v := range raw {
		if k == "__metadata__" {
			if err := json.Unmarshal(v, &meta); err != nil {
				return nil, nil, fmt.Errorf("bad __metadata__: %w", err)
			}
			continue
		}
		var e stEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, nil, fmt.Errorf("tensor %q: bad header entry: %w", k, err)
		}
		if e.Dtype != "F32" {
			return nil, nil, fmt.Errorf("tensor %q: dtype %q is not supported (native files hold F32)", k, e.Dtype)
		}
		n, ok := elements(e.Shape)
		if !ok {
			return nil, nil, fmt.Errorf("tensor %q: bad shape %v", k, e.Shape)
		}
		b, end := e.DataOffsets[0], e.DataOffsets[1]
		if b > end || end > dataLen {
			return nil, nil, fmt.Errorf("tensor %q: data offsets [%d, %d] out of range (%d data bytes)", k, b, end, dataLen)
		}
		if n > dataLen/4 || end-b != n*4 {
			return nil, nil, fmt.Errorf("tensor %q: shape %v needs %d bytes, its offsets span %d", k, e.Shape, n*4, end-b)
		}
		list = append(list, placed{k, e})
	}
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i].e.DataOffsets, list[j].e.DataOffsets
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		return a[1] < b[1]
	})
	var pos uint64
	for _, p := range list {
		switch b := p.e.DataOffsets[0]; {
		case b < pos:
			return nil, nil, fmt.Errorf("tensor %q: data [%d, %d] overlaps the previous tensor", p.key, b, p.e.DataOffsets[1])
		case b > pos:
			return nil, nil, fmt.Errorf("tensor %q: %d unindexed bytes before it", p.key, b-pos)
		}
		pos = p.e.DataOffsets[1]
	}
	if pos != dataLen {
		return nil, nil, fmt.Errorf("%d data bytes after the last tensor", dataLen-pos)
	}
	out := make(map[string]*ir.Tensor, len(list))
	chunk := make([]byte, 1<<16)
	for _, p := range list {
		data := make([]float32, (p.e.DataOffsets[1]-p.e.DataOffsets[0])/4)
		for done := 0; done < len(data); {
			m := min(len(chunk)/4, len(data)-done)
			if _, err := io.ReadFull(r, chunk[:4*m]); err != nil {
				return nil, nil, fmt.Errorf("tensor %q: %w", p.key, boundedio.UnexpectedEOF(err))
			}
			for i := 0; i < m; i++ {
				data[done+i] = math.Float32frombits(binary.LittleEndian.Uint32(chunk[4*i:]))
			}
			done += m
		}
		out[p.key] = &ir.Tensor{Shape: append([]int{}, p.e.Shape...), Data: data}
	}
	return out, meta, nil
}

// elements is the product of a shape, false on a negative dimension or overflow.
func elements(shape []int) (uint64, bool) {
	n := uint64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d != 0 && n > math.MaxUint64/4/uint64(d) {
			return 0, false
		}
		n *= uint64(d)
	}
	return n, true
}
