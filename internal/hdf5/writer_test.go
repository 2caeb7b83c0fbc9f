package hdf5

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/internal/testenv"
)

type writerCase struct {
	kernel []float32
	bias   []float64
	ints   []int32
	i64    []int64
	u8     []uint8
	i16    []int16
	u64    []uint64
	bools  []bool
	config string
	layers []string
}

func newWriterCase() *writerCase {
	c := &writerCase{
		kernel: make([]float32, 3*5),
		bias:   []float64{-1.5, 0, math.Pi},
		ints:   []int32{-7, 0, 1 << 30},
		i64:    []int64{math.MinInt64, 1, math.MaxInt64},
		u8:     []uint8{0, 128, 255},
		i16:    []int16{-32768, 5, 32767},
		u64:    []uint64{0, math.MaxUint64},
		bools:  []bool{true, false},
		config: `{"class_name": "Functional", "config": {"name": "m\u00e9"}}` + strings.Repeat("x", 70000),
		layers: []string{"input_1", "dense", "dense_1"},
	}
	for i := range c.kernel {
		c.kernel[i] = float32(i)*0.25 - 1
	}
	c.kernel[3] = float32(math.Inf(-1))
	return c
}

// writeCase builds a Keras-like file.
func writeCase(t testing.TB, path string, c *writerCase) {
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	root := w.Root()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(root.SetAttr("model_config", c.config))
	must(root.SetAttr("keras_version", "2.13.1"))
	must(root.SetAttr("epoch", int64(3)))
	must(root.SetAttr("lr", 0.001))
	must(root.SetAttr("vstrs", VarStrings{"a", "", "\u00e9\u00e9"}))
	mw := root.CreateGroup("model_weights")
	must(mw.SetAttr("layer_names", c.layers))
	must(mw.SetAttr("ints", []int64{1, -2, 3}))
	must(mw.SetAttr("floats", []float64{0.5, -0.25}))
	must(mw.SetAttr("f32s", []float32{1.5}))
	must(mw.SetAttr("flag", true))
	mw.CreateGroup("input_1")
	dg := mw.CreateGroup("dense/dense")
	must(mw.CreateGroup("dense").SetAttr("weight_names", []string{"dense/kernel:0", "dense/bias:0"}))
	k, err := dg.CreateDataset("kernel:0", []uint64{3, 5}, c.kernel)
	must(err)
	must(k.SetAttr("note", "kernel"))
	_, err = dg.CreateDataset("bias:0", []uint64{3}, c.bias)
	must(err)
	other := root.CreateGroup("other")
	for name, v := range map[string]any{"i32": c.ints, "i64": c.i64, "u8": c.u8, "i16": c.i16, "u64": c.u64, "bool": c.bools} {
		n := uint64(reflect.ValueOf(v).Len())
		_, err := other.CreateDataset(name, []uint64{n}, v)
		must(err)
	}
	_, err = other.CreateDataset("scalar", nil, []float32{42})
	must(err)
	_, err = other.CreateDataset("empty", []uint64{0}, []float32{})
	must(err)
	_, err = other.CreateDataset("fixed_str", []uint64{2}, []string{"ab", "c"})
	must(err)
	_, err = other.CreateDataset("vlen_str", []uint64{2}, VarStrings{"hello", "w\u00f6rld"})
	must(err)
	many := root.CreateGroup("many")
	for i := 0; i < 700; i++ {
		many.CreateGroup(fmt.Sprintf("g%03d", i))
	}
	must(w.Close())
}

func TestWriterRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.h5")
	c := newWriterCase()
	writeCase(t, path, c)
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var dump bytes.Buffer
	if err := dumpFile(f, &dump); err != nil {
		t.Fatalf("walk: %v", err)
	}
	root := f.Root()
	attr := func(g interface{ Attr(string) (any, error) }, n string) any {
		t.Helper()
		v, err := g.Attr(n)
		if err != nil {
			t.Fatalf("attr %s: %v", n, err)
		}
		return v
	}
	eq := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v, want %v", what, got, want)
		}
	}
	eq("model_config", attr(root, "model_config"), c.config)
	eq("epoch", attr(root, "epoch"), int64(3))
	eq("lr", attr(root, "lr"), 0.001)
	eq("vstrs", attr(root, "vstrs"), []string{"a", "", "\u00e9\u00e9"})
	mw, err := root.Group("model_weights")
	if err != nil {
		t.Fatal(err)
	}
	eq("layer_names", attr(mw, "layer_names"), c.layers)
	eq("ints", attr(mw, "ints"), []int64{1, -2, 3})
	eq("floats", attr(mw, "floats"), []float64{0.5, -0.25})
	eq("f32s", attr(mw, "f32s"), []float64{1.5})
	eq("flag", attr(mw, "flag"), true)
	k, err := root.Dataset("model_weights/dense/dense/kernel:0")
	if err != nil {
		t.Fatal(err)
	}
	eq("kernel shape", k.Shape(), []uint64{3, 5})
	kv, err := k.ReadFloat32()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sliceBytes(kv), sliceBytes(c.kernel)) {
		t.Errorf("kernel not bit-identical: %v vs %v", kv, c.kernel)
	}
	eq("note", attr(k, "note"), "kernel")
	b, _ := root.Dataset("/model_weights/dense/dense/bias:0")
	bv, err := b.ReadFloat64()
	if err != nil {
		t.Fatal(err)
	}
	eq("bias", bv, c.bias)
	other, _ := root.Group("other")
	val := func(n string) any {
		d, err := other.Dataset(n)
		if err != nil {
			t.Fatal(err)
		}
		v, err := d.Value()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	eq("i32", val("i32"), []int64{-7, 0, 1 << 30})
	eq("i64", val("i64"), c.i64)
	eq("u8", val("u8"), []uint64{0, 128, 255})
	eq("i16", val("i16"), []int64{-32768, 5, 32767})
	eq("u64", val("u64"), c.u64)
	eq("bool", val("bool"), c.bools)
	eq("scalar", val("scalar"), 42.0)
	eq("empty", val("empty"), []float64{})
	eq("fixed_str", val("fixed_str"), []string{"ab", "c"})
	eq("vlen_str", val("vlen_str"), []string{"hello", "w\u00f6rld"})
	many, _ := root.Group("many")
	m, err := many.Members()
	if err != nil || len(m) != 700 || m[0] != "g000" || m[699] != "g699" {
		t.Errorf("many: %d members (%v)", len(m), err)
	}
	if _, err := many.Group("g345"); err != nil {
		t.Error(err)
	}
	checkWithH5py(t, path, c)
	checkWithH5dump(t, path)
}

func checkWithH5dump(t *testing.T, path string) {
	if _, err := exec.LookPath("h5dump"); err != nil {
		t.Log("h5dump not found; skipping h5dump check")
		return
	}
	cmd := exec.Command("h5dump", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &bytes.Buffer{}
	err := cmd.Run()
	if err != nil || stderr.Len() > 0 {
		t.Errorf("h5dump: %v: %s", err, stderr.String())
	}
}

const h5pyReadScript = `
import sys, json, h5py, numpy as np
out = {}
with h5py.File(sys.argv[1], "r") as f:
    def conv(v):
        if isinstance(v, bytes): return v.decode()
        if isinstance(v, np.ndarray): return [conv(x) for x in v.tolist()]
        if isinstance(v, list): return [conv(x) for x in v]
        if isinstance(v, np.generic): return conv(v.item())
        if isinstance(v, float) and not np.isfinite(v): return repr(v)
        return v
    def visit(name, obj):
        d = {"attrs": {k: conv(obj.attrs[k]) for k in obj.attrs}}
        if isinstance(obj, h5py.Dataset):
            v = obj[()]
            d["value"] = conv(v)
            d["dtype"] = obj.dtype.str
            if obj.dtype == np.float32:
                d["hex"] = np.ascontiguousarray(v).tobytes().hex()
        out["/" + name] = d
    out["/"] = {"attrs": {k: conv(f.attrs[k]) for k in f.attrs}}
    f.visititems(visit)
json.dump(out, sys.stdout)
`

func checkWithH5py(t *testing.T, path string, c *writerCase) {
	py, err := testenv.Python("h5py")
	if err != nil {
		t.Logf("skipping h5py check: %v", err)
		return
	}
	cmd := exec.Command(py, "-c", h5pyReadScript, path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("h5py failed: %v\n%s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("h5py stderr: %s", stderr.String())
	}
	var got map[string]struct {
		Attrs map[string]any `json:"attrs"`
		Value any            `json:"value"`
		Dtype string         `json:"dtype"`
		Hex   string         `json:"hex"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if got["/"].Attrs["model_config"] != c.config {
		t.Errorf("h5py model_config mismatch")
	}
	if v := got["/"].Attrs["epoch"]; v != 3.0 {
		t.Errorf("h5py epoch = %v", v)
	}
	if v := got["/"].Attrs["vstrs"]; !reflect.DeepEqual(v, []any{"a", "", "\u00e9\u00e9"}) {
		t.Errorf("h5py vstrs = %v", v)
	}
	if v := got["/model_weights"].Attrs["layer_names"]; !reflect.DeepEqual(v, []any{"input_1", "dense", "dense_1"}) {
		t.Errorf("h5py layer_names = %v", v)
	}
	if v := got["/model_weights"].Attrs["flag"]; v != true {
		t.Errorf("h5py flag = %v", v)
	}
	k := got["/model_weights/dense/dense/kernel:0"]
	if k.Dtype != "<f4" || k.Hex != hexOf(sliceBytes(c.kernel)) {
		t.Errorf("h5py kernel: dtype %s hex %s", k.Dtype, k.Hex)
	}
	if v := got["/model_weights/dense"].Attrs["weight_names"]; !reflect.DeepEqual(v, []any{"dense/kernel:0", "dense/bias:0"}) {
		t.Errorf("h5py weight_names = %v", v)
	}
	checks := map[string]any{
		"/other/i32":       []any{-7.0, 0.0, float64(1 << 30)},
		"/other/bool":      []any{true, false},
		"/other/fixed_str": []any{"ab", "c"},
		"/other/vlen_str":  []any{"hello", "w\u00f6rld"},
		"/other/scalar":    42.0,
		"/other/u8":        []any{0.0, 128.0, 255.0},
	}
	for p, want := range checks {
		if !reflect.DeepEqual(got[p].Value, want) {
			t.Errorf("h5py %s = %v, want %v", p, got[p].Value, want)
		}
	}
	if n := len(got); n != 1+1+1+1+3+1+10+1+700 {
		t.Errorf("h5py sees %d objects", n)
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(out)
}
