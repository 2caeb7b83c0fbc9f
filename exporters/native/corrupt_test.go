package native

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

func mustFail(t *testing.T, b []byte, want ...string) error {
	t.Helper()
	_, err := readBytes(b)
	if err == nil {
		t.Fatal("expected an error")
	}
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("not a *FormatError: %T %v", err, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("error %q lacks %q", err, w)
		}
	}
	return err
}

func TestTruncatedEverywhere(t *testing.T) {
	b := encode(t, richGraph(t))
	step := 1
	if testing.Short() {
		step = 7
	}
	for n := 0; n < len(b); n += step {
		if _, err := readBytes(b[:n]); err == nil || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d of %d bytes: %v", n, len(b), err)
		}
	}
}

// Every flipped byte inside an entry's data is caught (checksum, deflate or
// parse error); anywhere else it must at least not panic.
func TestFlippedBytes(t *testing.T) {
	b := encode(t, richGraph(t))
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	inData := make([]bool, len(b))
	for _, f := range zr.File {
		off, _ := f.DataOffset()
		for i := off; i < off+int64(f.CompressedSize64); i++ {
			inData[i] = true
		}
	}
	// every byte of the zip structure; a sample of entry data (each entry
	// is covered by its checksum as a whole)
	step := 17
	if testing.Short() {
		step = 61
	}
	c := make([]byte, len(b))
	for i := 0; i < len(b); i++ {
		if inData[i] && i%step != 0 {
			continue
		}
		copy(c, b)
		c[i] ^= 0x5a
		_, err := readBytes(c)
		if inData[i] && err == nil {
			t.Fatalf("flipped byte %d (entry data) was not detected", i)
		}
	}
}

func stHeader(t *testing.T, header string, data []byte) []byte {
	t.Helper()
	out := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(out, uint64(len(header)))
	return append(append(out, header...), data...)
}

func TestBadSafetensors(t *testing.T) {
	good := encode(t, richGraph(t))
	cases := []struct {
		name    string
		payload []byte
		want    string
	}{
		{"short", []byte{1, 2, 3}, "too short"},
		{"header length too big", stHeader(t, "{}", nil)[:8], "does not fit"},
		{"header not json", stHeader(t, "{nope", nil), "bad header JSON"},
		{"dtype", stHeader(t, `{"x/W":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}`, make([]byte, 2)), `dtype "F16"`},
		{"out of range", stHeader(t, `{"x/W":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 4)), "out of range"},
		{"shape disagrees", stHeader(t, `{"x/W":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)), "needs 12 bytes"},
		{"negative dim", stHeader(t, `{"x/W":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, make([]byte, 4)), "bad shape"},
		{"overflow", stHeader(t, `{"x/W":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}}`, make([]byte, 4)), "bad shape"},
		{"overlap", stHeader(t, `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)), "overlaps"},
		{"hole", stHeader(t, `{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), "unindexed"},
		{"trailing", stHeader(t, `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 8)), "after the last tensor"},
		{"reversed offsets", stHeader(t, `{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, make([]byte, 4)), "out of range"},
		{"bad metadata", stHeader(t, `{"__metadata__":{"a":1}}`, nil), "__metadata__"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := readSafetensors(bytes.NewReader(c.payload), int64(len(c.payload))); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("readSafetensors: %v, want %q", err, c.want)
			}
			es := entries(t, good)
			es[entryWeights] = c.payload
			mustFail(t, pack(t, es), entryWeights, c.want)
		})
	}
}

// A header claiming a huge tensor in a small file fails before allocating it.
func TestHugeClaimDoesNotAllocate(t *testing.T) {
	payload := stHeader(t, `{"x/W":{"dtype":"F32","shape":[1000000000],"data_offsets":[0,4000000000]}}`, make([]byte, 16))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, _, err := readSafetensors(bytes.NewReader(payload), int64(len(payload)))
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("expected an error")
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("allocated %d bytes for a %d-byte input", grew, len(payload))
	}
}

// A deflated entry that claims an impossible size is refused before reading.
func TestZipBombClaimRefused(t *testing.T) {
	es := entries(t, encode(t, richGraph(t)))
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, n := range []string{entryMeta, entryWeights, entryState} {
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Store})
		w.Write(es[n])
	}
	w, _ := zw.CreateRaw(&zip.FileHeader{Name: entryGraph, Method: zip.Deflate, CompressedSize64: 10, UncompressedSize64: 1 << 40})
	w.Write(make([]byte, 10))
	zw.Close()
	mustFail(t, b.Bytes(), entryGraph, "impossible for deflate")
}

func TestUnsafePathsRefused(t *testing.T) {
	es := entries(t, encode(t, richGraph(t)))
	for _, name := range []string{"../x", "/etc/passwd", "a/../../x", `..\x`, "C:/x", "./meta.json"} {
		es2 := map[string][]byte{name: []byte("x")}
		for k, v := range es {
			es2[k] = v
		}
		err := mustFail(t, pack(t, es2))
		if name != "./meta.json" && !errors.Is(err, ErrUnsafePath) {
			t.Errorf("%q: %v", name, err)
		}
	}
}

func TestMissingAndDuplicateEntries(t *testing.T) {
	es := entries(t, encode(t, richGraph(t)))
	for _, n := range []string{entryMeta, entryGraph, entryWeights, entryState} {
		es2 := map[string][]byte{}
		for k, v := range es {
			if k != n {
				es2[k] = v
			}
		}
		mustFail(t, pack(t, es2), n, "missing")
	}
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, n := range []string{entryMeta, entryGraph, entryGraph, entryWeights, entryState} {
		w, _ := zw.Create(n)
		w.Write(es[n])
	}
	zw.Close()
	mustFail(t, b.Bytes(), "twice")
}

func TestMetaChecks(t *testing.T) {
	es := entries(t, encode(t, richGraph(t)))
	set := func(meta string) []byte {
		es[entryMeta] = []byte(meta)
		return pack(t, es)
	}
	err := mustFail(t, set(`{"format":"retarget.rtm","format_version":7,"created_by":{"name":"x","version":"y"}}`), "upgrade retarget")
	if !errors.Is(err, ErrNewerVersion) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("newer version: %v", err)
	}
	mustFail(t, set(`{"format":"other","format_version":1,"created_by":{}}`), `format "other"`)
	mustFail(t, set(`{"format":"retarget.rtm","format_version":0,"created_by":{}}`), "bad format version")
	mustFail(t, set(`{"format":"retarget.rtm","format_version":1,"created_by":{},"extra":1}`), "unknown field")
	mustFail(t, set(`[]`), "bad JSON")
}

// A graph that does not validate is refused with every problem listed.
func TestGraphProblemsAllReported(t *testing.T) {
	good := encode(t, richGraph(t))
	b := editGraphJSON(t, good, func(m map[string]any) {
		vs := m["vertices"].([]any)
		for _, v := range vs {
			vm := v.(map[string]any)
			switch vm["name"] {
			case "drop":
				vm["inputs"] = []any{"nope"}
			case "gap":
				vm["layer"] = map[string]any{"kind": "NoSuchLayer", "config": map[string]any{}}
			case "dense":
				vm["params"] = []any{"W", "b", "extra"}
			case "sep":
				vm["params"] = []any{"DW", "b"} // PW now belongs to no vertex
			}
		}
	})
	err := mustFail(t, b, "NoSuchLayer", `"extra"`, "sep/PW", "belongs to no vertex")
	var ve *ir.ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 3 {
		t.Fatalf("want 3 problems, got %v", err)
	}
	// structurally fine but the wrong shape: ir.Validate's report comes through
	es := entries(t, good)
	g := richGraph(t)
	g.Vertex("dense").Layer.(*ir.Dense).Units = 8
	g.Vertex("out").Layer.(*ir.Output).Units = 4
	var gj graphJSON
	json.Unmarshal(es[entryGraph], &gj)
	for i := range gj.Vertices {
		if l := g.Vertex(gj.Vertices[i].Name).Layer; l != nil {
			gj.Vertices[i].Layer, _ = ir.MarshalLayer(l)
		}
	}
	es[entryGraph], _ = json.Marshal(gj)
	err = mustFail(t, pack(t, es), `"dense"`, `"out"`, "has shape")
	if len(ir.Problems(errors.Unwrap(err))) < 2 {
		t.Fatalf("want every problem: %v", err)
	}
}

func TestNotAZip(t *testing.T) {
	mustFail(t, []byte("hello, not a zip"), "not a readable zip")
	mustFail(t, nil)
}

func TestErrorNamesTheFile(t *testing.T) {
	_, err := Import("testdata/does-not-exist.rtm")
	if err == nil || !strings.Contains(err.Error(), "does-not-exist.rtm") {
		t.Fatal(err)
	}
}
