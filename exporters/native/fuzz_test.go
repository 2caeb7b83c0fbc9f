package native

import (
	"bytes"
	"errors"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

func smallGraph() *ir.Graph {
	g := &ir.Graph{Inputs: []ir.Input{{Name: "x", Shape: []int{3}}},
		Vertices: []*ir.Vertex{{Name: "d", Layer: &ir.Dense{Units: 2}, Inputs: []string{"x"},
			Params: map[string]*ir.Tensor{"W": ir.FromData([]float32{1, 2, 3, 4, 5, 6}, 3, 2), "b": ir.FromData([]float32{-1, 1}, 2)},
			State:  map[string]*ir.Tensor{"W/m": ir.NewTensor(3, 2)}}},
		Outputs: []ir.GraphOutput{{Name: "d", Vertex: "d"}}}
	return g
}

// FuzzRead: any byte string either fails with a FormatError or loads a
// graph that validates and survives a write/read round trip.
func FuzzRead(f *testing.F) {
	var b bytes.Buffer
	if err := ExportTo(&b, smallGraph()); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add(b.Bytes()[:len(b.Bytes())/2])
	f.Add([]byte("PK\x05\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ImportFrom(bytes.NewReader(data))
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		if err := g.Validate(); err != nil {
			t.Fatalf("Read returned an invalid graph: %v", err)
		}
		var out bytes.Buffer
		if err := ExportTo(&out, g); err != nil {
			t.Fatalf("re-writing a read graph: %v", err)
		}
		g2, err := ImportFrom(bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatalf("re-reading: %v", err)
		}
		requireSameGraph(t, g, g2)
	})
}

// FuzzSafetensors reaches the tensor parser directly (FuzzRead must first
// get past the zip checksums).
func FuzzSafetensors(f *testing.F) {
	var b bytes.Buffer
	writeSafetensors(&b, []namedTensor{{"a/W", ir.FromData([]float32{1, 2}, 2)}, {"b/c", ir.NewTensor(0)}}, map[string]string{"k": "v"})
	f.Add(b.Bytes())
	f.Add([]byte{2, 0, 0, 0, 0, 0, 0, 0, '{', '}'})
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, _, err := readSafetensors(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		total := 0
		for k, tn := range ts {
			if len(tn.Data) != ir.NumElements(tn.Shape) {
				t.Fatalf("%s: %d values for %v", k, len(tn.Data), tn.Shape)
			}
			total += 4 * len(tn.Data)
		}
		if total > len(data) {
			t.Fatalf("%d data bytes from a %d-byte input", total, len(data))
		}
	})
}
