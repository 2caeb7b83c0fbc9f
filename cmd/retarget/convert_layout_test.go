package main

import (
	"encoding/json"
	"math/rand"
	"path/filepath"
	"testing"

	"github.com/retarget-dev/retarget/demo"
	"github.com/retarget-dev/retarget/internal/layout"
	"github.com/retarget-dev/retarget/internal/numtest"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
	"github.com/retarget-dev/retarget/npy"
)

// `convert` to ONNX keeps a channels-last model's NHWC input (the same
// sample predicts the same with the source and the ONNX file);
// --channels-first makes it take NCHW.
func TestConvertKeepsLayout(t *testing.T) {
	g := demo.NewDigitsCNN(3)
	if err := nn.InitGraph(g, ir.InitXavierUniform, 3); err != nil {
		t.Fatal(err)
	}
	src := saved(t, g)
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(1))
	x := make([]float32, 2*8*8)
	for k := range x {
		x[k] = rng.Float32()
	}
	nhwc := writeNPY(t, dir, "x.npy", []int{2, 8, 8, 1}, x)
	xc, cs := layout.Transpose(x, []int{2, 8, 8, 1}, []int{0, 3, 1, 2})
	nchw := writeNPY(t, dir, "x_nchw.npy", cs, xc)
	predict := func(model, input string) []float32 {
		t.Helper()
		out := filepath.Join(dir, "pred_"+filepath.Base(model))
		if _, _, err := run("predict", model, "--input", input, "--out", out); err != nil {
			t.Fatal(err)
		}
		a, err := npy.ReadFile(filepath.Join(out, "predictions.npy"))
		if err != nil {
			t.Fatal(err)
		}
		return a.Data
	}
	want := predict(src, nhwc)
	for _, tc := range []struct {
		flags  []string
		shape  []int
		layout string
		sample string
	}{
		{nil, []int{-1, 8, 8, 1}, "NHWC", nhwc},
		{[]string{"--channels-first"}, []int{-1, 1, 8, 8}, "NCHW", nchw},
	} {
		out := filepath.Join(dir, "m"+tc.layout+".onnx")
		if _, _, err := run(append([]string{"convert", src, out}, tc.flags...)...); err != nil {
			t.Fatal(err)
		}
		js, _, err := run("inspect", "--json", out)
		if err != nil {
			t.Fatal(err)
		}
		var info struct {
			Inputs []struct {
				Shape  []int  `json:"shape"`
				Layout string `json:"layout"`
			} `json:"inputs"`
		}
		if err := json.Unmarshal([]byte(js), &info); err != nil {
			t.Fatal(err)
		}
		if len(info.Inputs) != 1 || !ir.SameShape(info.Inputs[0].Shape, tc.shape) || info.Inputs[0].Layout != tc.layout {
			t.Errorf("convert %v: inputs %+v, want shape %v layout %s", tc.flags, info.Inputs, tc.shape, tc.layout)
		}
		if d := numtest.MaxAbsDiff(predict(out, tc.sample), want); d > 1e-5 {
			t.Errorf("convert %v: predictions differ from the source's by %g", tc.flags, d)
		}
	}
}
