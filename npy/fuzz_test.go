package npy

import (
	"bytes"
	"math"
	"reflect"
	"testing"
)

// FuzzRead: known and unknown sizes agree, a success re-encodes exactly, and
// nothing panics.
func FuzzRead(f *testing.F) {
	var b bytes.Buffer
	Write(&b, []int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	f.Add(b.Bytes())
	f.Add([]byte(Magic + "\x01\x00\x46\x00{'descr': '>i2', 'fortran_order': False, 'shape': (1, 1L), }       \n\x01\x02"))
	f.Add([]byte(Magic + "\x02\x00\x10\x00\x00\x00{'descr':'|b1','fortran_order':False,'shape':()}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Read(bytes.NewReader(data), int64(len(data)))
		a2, err2 := Read(bytes.NewReader(data), -1)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("known size: %v, unknown size: %v", err, err2)
		}
		if err != nil {
			return
		}
		if n, ok := elements(a.Shape); !ok || n != int64(len(a.Data)) || !reflect.DeepEqual(a.Shape, a2.Shape) || len(a.Data) != len(a2.Data) {
			t.Fatalf("shape %v with %d values", a.Shape, len(a.Data))
		}
		var out bytes.Buffer
		if err := Write(&out, a.Shape, a.Data); err != nil {
			t.Fatal(err)
		}
		c, err := Read(bytes.NewReader(out.Bytes()), int64(out.Len()))
		if err != nil {
			t.Fatal(err)
		}
		for i := range a.Data {
			if math.Float32bits(c.Data[i]) != math.Float32bits(a.Data[i]) {
				t.Fatalf("value %d changed", i)
			}
		}
	})
}
