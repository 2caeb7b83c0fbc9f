package onnx

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/retarget-dev/retarget/internal/onnxpb"
	"github.com/retarget-dev/retarget/internal/testenv"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/npy"
)

// ortRun runs a model file in ONNX Runtime on the fixture inputs (int64
// for "ids", as PyTorch exports them) and returns its outputs; it skips
// without ONNX Runtime.
func ortRun(t *testing.T, model string, ins []fixtureArray) []fixtureArray {
	return ortRunIDs(t, model, ins, true)
}

// ortRunIDs is ortRun with "ids" as float32 unless intIDs (our exports
// take token ids as floats, as the engine does).
func ortRunIDs(t *testing.T, model string, ins []fixtureArray, intIDs bool) []fixtureArray {
	t.Helper()
	if why := testenv.ORTMissing(); why != "" {
		t.Skip(why)
	}
	dir := t.TempDir()
	var args []string
	for k, in := range ins {
		p := filepath.Join(dir, fmt.Sprintf("in%d.npy", k))
		var err error
		if in.Name == "ids" && intIDs {
			ids := make([]int64, len(in.Data))
			for i, v := range in.Data {
				ids[i] = int64(v)
			}
			err = writeInt64Npy(p, in.Shape, ids)
		} else {
			d := make([]float32, len(in.Data))
			for i, v := range in.Data {
				d[i] = float32(v)
			}
			err = npy.WriteFile(p, in.Shape, d)
		}
		if err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	out, err := testenv.RunORT(append([]string{model}, args...)...)
	if err != nil {
		t.Fatalf("onnxruntime: %v", err)
	}
	var res struct{ Outputs []fixtureArray }
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	return res.Outputs
}

// The LayerNormalization forms the layer handler refuses (over the batch
// axis, a computed scale) import as general ops and run as ONNX Runtime
// does.
func TestLayerNormalizationGeneralPath(t *testing.T) {
	const path = "../../testdata/onnx/layernorm_op17.onnx"
	fx := loadFixture(t, path)
	for _, tc := range []struct {
		name string
		edit func(n *onnxpb.NodeProto)
	}{
		{"over_the_batch_axis", func(n *onnxpb.NodeProto) { setAttrInt(n, "axis", 0) }},
		{"computed_scale", func(n *onnxpb.NodeProto) { n.Input[1] = n.Input[0] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := readModel(t, path)
			for _, n := range m.Graph.Node {
				if n.GetName() == "/ln2/LayerNormalization" {
					tc.edit(n)
				}
			}
			g, err := importProto(m, "", Options{})
			if err != nil {
				t.Fatal(err)
			}
			if v := g.Vertex("/ln2/LayerNormalization/normalise"); v == nil || v.Layer.Kind() != "TensorLayerNorm" {
				t.Fatalf("no TensorLayerNorm for the edited node: %v", countKinds(g))
			}
			b, err := proto.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), "ln.onnx")
			if err := os.WriteFile(file, b, 0o644); err != nil {
				t.Fatal(err)
			}
			want := ortRun(t, file, fx.Inputs)
			got, _, err := predict(g, fx.Inputs)
			if err != nil {
				t.Fatal(err)
			}
			d, err := maxAbsDiff(got[0], want[0])
			if err != nil || d > 1e-5 {
				t.Fatalf("engine vs ONNX Runtime: %g (%v)", d, err)
			}
			t.Logf("engine vs ONNX Runtime max abs diff %.3g", d)
		})
	}
}

func countKinds(g *ir.Graph) map[string]int {
	m := map[string]int{}
	for _, v := range g.Vertices {
		m[v.Layer.Kind()]++
	}
	return m
}

// writeInt64Npy writes token ids as a little-endian int64 .npy file.
func writeInt64Npy(path string, shape []int, v []int64) error {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	tuple := "(" + strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	dict := "{'descr': '<i8', 'fortran_order': False, 'shape': " + tuple + "), }"
	dict += strings.Repeat(" ", (64-(len(npy.Magic)+4+len(dict)+1)%64)%64) + "\n"
	b := append([]byte(npy.Magic), 1, 0, byte(len(dict)), byte(len(dict)>>8))
	b = append(b, dict...)
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, uint64(x))
	}
	return os.WriteFile(path, b, 0o644)
}

// Gemm of two computed matrices with alpha, beta and a computed C (torch
// addmm) is alpha·A·B + beta·C.
func TestGemmOfComputedWithC(t *testing.T) {
	m := (&smallModel{outputs: []string{"y"}}).input("a", "N", 3).input("b", 3, 2).input("c", "N", 2).
		node("Gemm", []string{"a", "b", "c"}, "y", aF("alpha", 2), aF("beta", 0.5)).model()
	g, err := importProto(m, "", Options{KeepDense: true})
	if err != nil {
		t.Fatal(err)
	}
	a := fixtureArray{Shape: []int{2, 3}, Data: []float64{1, 2, 3, 4, 5, 6}}
	b := fixtureArray{Shape: []int{3, 2}, Data: []float64{1, 0, 0, 1, 1, 1}}
	c := fixtureArray{Shape: []int{2, 2}, Data: []float64{2, 4, 6, 8}}
	out, _, err := predict(g, []fixtureArray{a, b, c})
	if err != nil {
		t.Fatal(err)
	}
	// A·B = [[4 5] [10 11]]
	want := fixtureArray{Shape: []int{2, 2}, Data: []float64{2*4 + 1, 2*5 + 2, 2*10 + 3, 2*11 + 4}}
	if d, err := maxAbsDiff(out[0], want); err != nil || d > 1e-6 {
		t.Fatalf("got %v, want %v (%v)", out[0].Data, want.Data, err)
	}
}
