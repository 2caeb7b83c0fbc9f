package onnx_test

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"testing"

	exponnx "github.com/retarget-dev/retarget/exporters/onnx"
	"github.com/retarget-dev/retarget/ir"
)

// tensorElemGraphs use every element-wise, normalisation, reduction,
// constant and einsum tensor op, on values with the batch moved or absent;
// minOpset is the lowest opset each can be written at.
func tensorElemGraphs(t *testing.T) map[string]struct {
	g        *ir.Graph
	minOpset int
} {
	rng := rand.New(rand.NewSource(5))
	konst := func(name string, trainable bool, shape ...int) *ir.Vertex {
		return &ir.Vertex{Name: name, Layer: &ir.TensorConstant{Shape: shape, Trainable: trainable},
			Params: map[string]*ir.Tensor{"value": randTensor(rng, 1, shape...)}}
	}
	zero := &ir.Vertex{Name: "zero", Layer: &ir.TensorConstant{Shape: []int{1}}, Params: map[string]*ir.Tensor{"value": ir.NewTensor(1)}}
	fill := &ir.Vertex{Name: "fill", Layer: &ir.TensorConstant{Shape: []int{1}}, Params: map[string]*ir.Tensor{"value": ir.FromData([]float32{-1e4}, 1)}}
	two := &ir.Vertex{Name: "two", Layer: &ir.TensorConstant{Shape: []int{1}}, Params: map[string]*ir.Tensor{"value": ir.FromData([]float32{2}, 1)}}

	// x [B,3,4] moved to [3,B,4]; c a batch-free [4]
	vs := []*ir.Vertex{konst("c", true, 4), zero, two,
		vx("t", &ir.TensorTranspose{Perm: []int{1, 0, 2}}, "x")}
	last := "t"
	for _, op := range []string{"add", "sub", "mul", "max", "min", "equal", "less", "greater", "less_equal", "greater_equal", "and", "or", "xor"} {
		vs = append(vs, vx(op, &ir.TensorBinary{Op: op}, last, "c"))
		last = op
		if !ir.TensorBinaryDifferentiable(op) { // keep the values moving: 0/1 plus t
			vs = append(vs, vx(op+"_plus", &ir.TensorBinary{Op: "add"}, op, "t"))
			last = op + "_plus"
		}
	}
	vs = append(vs,
		vx("absval", &ir.TensorUnary{Op: ir.UnaryAbs}, last),
		vx("pow", &ir.TensorBinary{Op: "pow"}, "absval", "two"),
		vx("div", &ir.TensorBinary{Op: "div"}, "pow", "two"),
		vx("erf", &ir.TensorUnary{Op: ir.UnaryErf}, "div"),
		vx("gelu", &ir.TensorActivation{Activation: ir.Act(ir.ActGELU)}, "erf"),
		vx("ln", &ir.TensorLayerNorm{Axis: -1, Epsilon: 1e-5}, "gelu"),
		vx("sm", &ir.TensorSoftmax{Axis: 0}, "ln"),
		vx("lsm", &ir.TensorSoftmax{Axis: 1, Log: true}, "sm"), // over the batch axis
		vx("gt0", &ir.TensorBinary{Op: "greater"}, "t", "zero"),
		vx("where", &ir.TensorWhere{}, "gt0", "lsm", "c"),
		vx("rmean", &ir.TensorReduce{Op: "mean", Axes: []int{0}, KeepDims: true}, "where"),
		vx("rmax", &ir.TensorReduce{Op: "max", Axes: []int{-1}}, "where"),
		vx("rmin", &ir.TensorReduce{Op: "min", Axes: []int{2}}, "where"),
		vx("rprod", &ir.TensorReduce{Op: "prod", Axes: []int{0}}, "sm"),
		vx("rsum", &ir.TensorReduce{Op: "sum", Axes: []int{1}}, "rmean"), // over the batch: [1 4]
	)
	elem := &ir.Graph{Name: "tensor_elem", Inputs: []ir.Input{{Name: "x", Shape: []int{3, 4}}}, Vertices: vs,
		Outputs: []ir.GraphOutput{{Name: "rmax", Vertex: "rmax"}, {Name: "rmin", Vertex: "rmin"}, {Name: "rprod", Vertex: "rprod"}, {Name: "rsum", Vertex: "rsum"}}}

	// masked attention scores through einsum, the mask from ids == 0
	attn := &ir.Graph{Name: "tensor_attn", Inputs: []ir.Input{{Name: "x", Shape: []int{3, 4}}, {Name: "ids", Shape: []int{1, 3}}},
		Vertices: []*ir.Vertex{konst("wq", false, 4, 4), konst("w3", true, 3, 2), zero, fill,
			vx("q", &ir.TensorMatMul{}, "x", "wq"),
			vx("scores", &ir.TensorEinsum{Equation: "bqd,bkd->bqk"}, "q", "x"),
			vx("pad", &ir.TensorBinary{Op: "equal"}, "ids", "zero"),
			vx("masked", &ir.TensorWhere{}, "pad", "fill", "scores"),
			vx("probs", &ir.TensorSoftmax{Axis: -1}, "masked"),
			vx("ctx", &ir.TensorEinsum{Equation: "bqk,bkd->bqd"}, "probs", "x"),
			vx("trace", &ir.TensorEinsum{Equation: "bii->b"}, "probs"),
			vx("pool", &ir.TensorEinsum{Equation: "bqd->bd"}, "ctx"),
			vx("ell", &ir.TensorEinsum{Equation: "...qk,...kd->...qd"}, "probs", "w3"), // the ellipsis broadcasts wq's missing axes
		},
		Outputs: []ir.GraphOutput{{Name: "pool", Vertex: "pool"}, {Name: "trace", Vertex: "trace"}, {Name: "ell", Vertex: "ell"}}}
	for _, g := range []*ir.Graph{elem, attn} {
		if err := g.Validate(); err != nil {
			t.Fatalf("%s: %v", g.Name, err)
		}
	}
	return map[string]struct {
		g        *ir.Graph
		minOpset int
	}{"elem": {elem, 11}, "attn": {attn, 12}}
}

// TestTensorElemOpsORT exports the graphs at opsets 11 (or 12), 13, 17 and
// 21 and runs ONNX Runtime against the engine.
func TestTensorElemOpsORT(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ONNX Runtime and python; not in -short")
	}
	maxPy := pythonOnnxMaxOpset(t)
	dir := t.TempDir()
	var jobs []*ortJob
	var check []string
	var wants [][]array
	var names []string
	for name, c := range tensorElemGraphs(t) {
		ins := randInputs(c.g, 3)
		if name == "attn" { // token ids with padding
			ins[1].Data = []float64{3, 1, 0, 2, 0, 0}
		}
		want, ok := nnPredict(t, c.g, ins)
		if !ok {
			t.Fatalf("%s: the engine cannot run it", name)
		}
		for _, opset := range []int{c.minOpset, 13, 17, 21} {
			path := filepath.Join(dir, fmt.Sprintf("%s_op%d.onnx", name, opset))
			if err := exponnx.Export(path, c.g, exponnx.Options{Opset: opset}); err != nil {
				t.Fatalf("%s opset %d: export: %v", name, opset, err)
			}
			if opset <= maxPy {
				check = append(check, path)
			}
			jobs = append(jobs, &ortJob{Model: path, arrays: ins})
			wants = append(wants, want)
			names = append(names, fmt.Sprintf("%s opset %d", name, opset))
		}
	}
	checkModels(t, check)
	outs := ortBatch(t, dir, jobs)
	for k := range jobs {
		if outs[k] != nil {
			t.Logf("%s: ORT vs nn max abs diff %.3g", names[k], compare(t, names[k], outs[k], wants[k], 1e-5))
		}
	}
	g := tensorElemGraphs(t)["attn"].g
	if err := exponnx.Export(filepath.Join(dir, "old.onnx"), g, exponnx.Options{Opset: 11}); err == nil {
		t.Error("Einsum exported at opset 11")
	}
}
