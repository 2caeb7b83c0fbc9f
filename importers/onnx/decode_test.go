package onnx

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"google.golang.org/protobuf/proto"

	"github.com/retarget-dev/retarget/internal/onnxpb"
)

// sameAsUnmarshal checks decodeOwned against proto.Unmarshal on b.
func sameAsUnmarshal(t *testing.T, b []byte) *onnxpb.ModelProto {
	t.Helper()
	want := &onnxpb.ModelProto{}
	wantErr := proto.Unmarshal(b, want)
	got, err := decodeOwned(append([]byte(nil), b...))
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("decodeOwned error %v, proto.Unmarshal error %v", err, wantErr)
	}
	if err == nil && !proto.Equal(got, want) {
		t.Fatalf("decodeOwned and proto.Unmarshal disagree")
	}
	return got
}

func TestDecodeOwnedFixtures(t *testing.T) {
	for _, p := range fixturePaths(t) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		m := sameAsUnmarshal(t, b)
		for _, init := range m.GetGraph().GetInitializer() {
			raw := init.GetRawData()
			if init.GetDataType() == dtFloat && len(raw) > 0 && uintptr(unsafe.Pointer(&raw[0]))%4 != 0 {
				t.Errorf("%s: %s: float raw_data not 4-byte aligned", filepath.Base(p), init.GetName())
			}
		}
	}
}

// f32Model has one float32 initializer after a name of pad bytes, so that
// its raw_data starts at every offset modulo 4 across pads.
func f32Model(pad int, vals []float32) *onnxpb.ModelProto {
	raw := make([]byte, 4*len(vals))
	for k, v := range vals {
		binary.LittleEndian.PutUint32(raw[4*k:], math.Float32bits(v))
	}
	return &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(13)}},
		Graph: &onnxpb.GraphProto{
			Name: proto.String("g"),
			Initializer: []*onnxpb.TensorProto{
				{Name: proto.String("i"), DataType: proto.Int32(dtInt64), Dims: []int64{1}, RawData: make([]byte, 8)},
				{Name: proto.String("w" + strings.Repeat("x", pad)), DataType: proto.Int32(dtFloat),
					Dims: []int64{int64(len(vals))}, RawData: raw},
				{Name: proto.String("empty"), DataType: proto.Int32(dtFloat), Dims: []int64{0}, RawData: []byte{}},
			},
		},
	}
}

func TestDecodeOwnedAlignsFloats(t *testing.T) {
	vals := []float32{1.5, -2, 3.25, 1e-7, float32(math.Inf(1)), 42}
	for pad := 0; pad < 8; pad++ {
		b, err := proto.Marshal(f32Model(pad, vals))
		if err != nil {
			t.Fatal(err)
		}
		m := sameAsUnmarshal(t, b)
		inits := m.GetGraph().GetInitializer()
		if inits[2].RawData == nil {
			t.Errorf("pad %d: empty raw_data became absent", pad)
		}
		raw := inits[1].GetRawData()
		if uintptr(unsafe.Pointer(&raw[0]))%4 != 0 {
			t.Errorf("pad %d: raw_data not aligned", pad)
		}
		got := float32View(raw, len(vals))
		for k, v := range vals {
			if got[k] != v {
				t.Errorf("pad %d: value %d = %v, want %v", pad, k, got[k], v)
			}
		}
	}
}

// TestDecodeOwnedEdgeCases: repeated graph fields and repeated raw_data
// (protobuf merges the one and keeps the last of the other), and
// malformed input, must decode as proto.Unmarshal does.
func TestDecodeOwnedEdgeCases(t *testing.T) {
	b, _ := proto.Marshal(f32Model(1, []float32{1, 2, 3}))
	twice := append(append([]byte(nil), b...), b...)
	if m := sameAsUnmarshal(t, twice); len(m.GetGraph().GetInitializer()) != 6 {
		t.Errorf("merged graphs have %d initializers, want 6", len(m.GetGraph().GetInitializer()))
	}
	tensor, _ := proto.Marshal(&onnxpb.TensorProto{RawData: []byte{1, 2, 3, 4}})
	tensor2, _ := proto.Marshal(&onnxpb.TensorProto{RawData: []byte{5, 6, 7, 8}, DataType: proto.Int32(dtFloat)})
	graph := appendField(nil, fieldGraphInit, append(tensor, tensor2...))
	model := appendField(nil, fieldModelGraph, graph)
	m := sameAsUnmarshal(t, model)
	if raw := m.GetGraph().GetInitializer()[0].GetRawData(); raw[0] != 5 {
		t.Errorf("raw_data %v, want the last one", raw)
	}
	for n := 0; n < len(b); n++ {
		sameAsUnmarshal(t, b[:n])
	}
	for k := range b {
		c := append([]byte(nil), b...)
		c[k] ^= 0xa5
		sameAsUnmarshal(t, c)
	}
}

func appendField(b []byte, num int, payload []byte) []byte {
	b = binary.AppendUvarint(b, uint64(num<<3|2))
	b = binary.AppendUvarint(b, uint64(len(payload)))
	return append(b, payload...)
}

func TestTransposeInPlace(t *testing.T) {
	// {2049, 1030} transposes its slabs on several goroutines; the last two
	// (over 2^23 values) also move their blocks' cycles on several, in
	// blocks of 1 and of 256 values
	for _, rc := range [][2]int{{1, 5}, {5, 1}, {2, 3}, {3, 2}, {7, 13}, {16, 16}, {300, 257}, {33, 512}, {257, 300}, {2049, 1030}, {2903, 2897}, {4100, 2048}} {
		rows, cols := rc[0], rc[1]
		w := make([]float32, rows*cols)
		for k := range w {
			w[k] = float32(k)
		}
		transposeInPlace(w, rows, cols)
		for r := 0; r < rows; r++ {
			for c := 0; c < cols; c++ {
				if w[c*rows+r] != float32(r*cols+c) {
					t.Fatalf("%dx%d: element (%d,%d) misplaced", rows, cols, r, c)
				}
			}
		}
	}
}

// TestFloat32sHandsOverOnce: tied weights get their own copy.
func TestFloat32sHandsOverOnce(t *testing.T) {
	c := &cval{shape: []int{2}, f32: []float32{1, 2}}
	a := c.float32s()
	b := reshaped(c, []int{1, 2}).float32s()
	d := c.float32s()
	a[0] = 9
	if b[0] != 1 || d[0] != 1 {
		t.Errorf("float32 values shared between tensors: %v %v %v", a, b, d)
	}
}

// FuzzDecodeOwned: decodeOwned must agree with proto.Unmarshal on any input.
func FuzzDecodeOwned(f *testing.F) {
	paths, _ := filepath.Glob("../../testdata/onnx/*.onnx")
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && len(b) < 8<<10 {
			f.Add(b)
		}
	}
	b, _ := proto.Marshal(f32Model(3, []float32{1, 2}))
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		sameAsUnmarshal(t, b)
	})
}
