package npy

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/retarget-dev/retarget/internal/atomicfile"
)

// Write encodes a little-endian float32 C-order array.
func Write(w io.Writer, shape []int, data []float32) error {
	if n, ok := elements(shape); !ok || n != int64(len(data)) {
		return fmt.Errorf("npy: %d values for shape %v", len(data), shape)
	}
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	tuple := "(" + strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	tuple += ")"
	dict := "{'descr': '<f4', 'fortran_order': False, 'shape': " + tuple + ", }"
	// pad with spaces and end with '\n' so the data starts 64-byte aligned
	total := len(Magic) + 4 + len(dict) + 1
	if pad := (64 - total%64) % 64; pad > 0 {
		dict += strings.Repeat(" ", pad)
	}
	dict += "\n"
	bw := bufio.NewWriterSize(w, 1<<16)
	bw.WriteString(Magic)
	if len(dict) > math.MaxUint16 {
		return fmt.Errorf("npy: shape %v needs a header too long for version 1.0", shape)
	}
	bw.Write([]byte{1, 0})
	binary.Write(bw, binary.LittleEndian, uint16(len(dict)))
	bw.WriteString(dict)
	var b [4]byte
	for _, v := range data {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
		bw.Write(b[:])
	}
	return bw.Flush()
}

// WriteFile writes an array atomically (temporary file, then rename).
func WriteFile(path string, shape []int, data []float32) error {
	return atomicfile.Write(path, func(w io.Writer) error { return Write(w, shape, data) })
}
