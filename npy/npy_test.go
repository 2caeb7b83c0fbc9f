package npy

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/internal/testenv"
)

type manifest struct {
	OK map[string]struct {
		Shape  []int `json:"shape"`
		Values []any `json:"values"`
	} `json:"ok"`
	Refused map[string]string `json:"refused"`
}

func loadManifest(t *testing.T) manifest {
	b, err := os.ReadFile("testdata/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Files written by NumPy (testdata/gen/npy_fixtures.py) read as NumPy's own
// float32 conversion says.
func TestNumPyFixtures(t *testing.T) {
	m := loadManifest(t)
	for name, want := range m.OK {
		a, err := ReadFile(filepath.Join("testdata", name+".npy"))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(a.Shape, want.Shape) || len(a.Data) != len(want.Values) {
			t.Errorf("%s: shape %v with %d values, want %v with %d", name, a.Shape, len(a.Data), want.Shape, len(want.Values))
			continue
		}
		for i, w := range want.Values {
			var wf float32
			switch w := w.(type) {
			case float64:
				wf = float32(w)
			case string:
				wf = float32(math.Inf(1))
				if w == "-inf" {
					wf = float32(math.Inf(-1))
				}
			}
			if a.Data[i] != wf {
				t.Errorf("%s[%d] = %v, want %v", name, i, a.Data[i], wf)
			}
		}
	}
	for name, why := range m.Refused {
		_, err := ReadFile(filepath.Join("testdata", name+".npy"))
		var fe *FormatError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), why) || !strings.Contains(err.Error(), name+".npy") {
			t.Errorf("%s: want a FormatError naming the file and %q, got %v", name, why, err)
		}
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	for _, c := range []struct {
		shape []int
		data  []float32
	}{
		{[]int{2, 3}, []float32{1, -2, 3.5, float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1))}},
		{[]int{}, []float32{7}},
		{[]int{4}, []float32{1, 2, 3, 4}},
		{[]int{0, 5}, nil},
	} {
		var b bytes.Buffer
		if err := Write(&b, c.shape, c.data); err != nil {
			t.Fatal(err)
		}
		if (b.Len()-len(c.data)*4)%64 != 0 {
			t.Errorf("header of %d bytes is not 64-aligned", b.Len()-len(c.data)*4)
		}
		for _, size := range []int64{int64(b.Len()), -1} {
			a, err := Read(bytes.NewReader(b.Bytes()), size)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a.Shape, c.shape) || len(a.Data) != len(c.data) {
				t.Fatalf("%v: got %v", c.shape, a.Shape)
			}
			for i := range c.data {
				if math.Float32bits(a.Data[i]) != math.Float32bits(c.data[i]) {
					t.Fatalf("value %d: %v, want %v", i, a.Data[i], c.data[i])
				}
			}
		}
	}
	if err := Write(&bytes.Buffer{}, []int{2}, []float32{1}); err == nil {
		t.Fatal("a shape/data mismatch must fail")
	}
}

// NumPy loads what Write produces (skipped where python3-numpy is absent).
func TestNumPyReadsOurFiles(t *testing.T) {
	py, err := testenv.Python("numpy")
	if err != nil {
		t.Skip(err)
	}
	path := filepath.Join(t.TempDir(), "a.npy")
	if err := WriteFile(path, []int{2, 2}, []float32{1.5, -2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", "import numpy as np,sys; a=np.load(sys.argv[1]); print(a.dtype, a.shape, a.ravel().tolist())", path).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "float32 (2, 2) [1.5, -2.0, 3.0, 4.0]" {
		t.Fatal(got)
	}
}

func TestBadInputs(t *testing.T) {
	var good bytes.Buffer
	Write(&good, []int{2, 2}, []float32{1, 2, 3, 4})
	g := good.Bytes()
	hdr := func(dict string) []byte {
		b := []byte(Magic + "\x01\x00")
		b = append(b, byte(len(dict)), byte(len(dict)>>8))
		return append(b, dict...)
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "magic"},
		{"not npy", []byte("PK\x03\x04 hello"), "magic"},
		{"truncated data", g[:len(g)-3], "needs 16 data bytes"},
		{"trailing data", append(append([]byte{}, g...), 0), "needs 16 data bytes"},
		{"version 9", append([]byte(Magic+"\x09\x00"), 0, 0), "version 9"},
		{"huge claim", hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000, 100000), }"), "needs"},
		{"overflow", hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }"), "too large"},
		{"negative", hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }"), "unexpected"},
		{"missing key", hdr("{'descr': '<f4', 'shape': (1,), }"), "fortran_order"},
		{"extra key", hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (), 'x': 1}"), "unknown header key"},
		{"bad dtype", hdr("{'descr': '<f3', 'fortran_order': False, 'shape': (), }"), "not supported"},
		{"bad order", hdr("{'descr': '|f4', 'fortran_order': False, 'shape': (), }"), "byte order"},
		{"unterminated", hdr("{'descr': '<f4"), "unterminated"},
		{"not a dict", hdr("(1, 2)"), "not a dictionary"},
		{"deep", hdr(strings.Repeat("[", 100)), "nested too deeply"},
	}
	for _, c := range cases {
		_, err := Read(bytes.NewReader(c.data), int64(len(c.data)))
		var fe *FormatError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want a FormatError with %q", c.name, err, c.want)
		}
	}
	// unknown size: a header claiming a huge array in a short stream fails at EOF
	_, err := Read(bytes.NewReader(hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000), }")), -1)
	if err == nil || !strings.Contains(err.Error(), "unexpected EOF") {
		t.Fatal(err)
	}
}

func TestHalf(t *testing.T) {
	for h, want := range map[uint16]float32{0x3c00: 1, 0xc000: -2, 0x7bff: 65504, 0x0001: 5.9604645e-08, 0x0400: 6.1035156e-05, 0x8000: float32(math.Copysign(0, -1))} {
		if got := halfToFloat32(h); math.Float32bits(got) != math.Float32bits(want) {
			t.Errorf("%#04x: %v, want %v", h, got, want)
		}
	}
	if !math.IsNaN(float64(halfToFloat32(0x7e00))) {
		t.Error("NaN")
	}
}
