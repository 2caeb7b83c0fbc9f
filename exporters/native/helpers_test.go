package native

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"math"
	"math/rand"
	"reflect"
	"sort"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// richGraph uses many layer kinds, two inputs and outputs, frozen vertices,
// per-vertex train overrides, updater state and odd float bit patterns.
func richGraph(t testing.TB) *ir.Graph {
	t.Helper()
	drop := 0.25
	g := &ir.Graph{
		Name: "rich",
		Inputs: []ir.Input{
			{Name: "img", Shape: []int{3, 8, 8}, Layout: ir.LayoutNHWC},
			{Name: "seq", Shape: []int{-1, 4}, Layout: ir.LayoutNWC},
		},
		Meta:  map[string]string{"source_format": "keras", "source_file": "m.h5"},
		Train: &ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 1e-3, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-7, Schedule: ir.Schedule{Kind: "cosine", Steps: 100, MinLR: 1e-6}, Seed: 42, Dropout: &drop},
		Step:  1234,
	}
	add := func(name string, l ir.Layer, in ...string) *ir.Vertex {
		v := &ir.Vertex{Name: name, Layer: l, Inputs: in}
		g.Vertices = append(g.Vertices, v)
		return v
	}
	add("conv", &ir.Conv{Rank: 2, Filters: 4, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: ir.Act(ir.ActReLU)}, "img").Frozen = true
	add("bn", &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.99}, "conv").Frozen = true
	add("pool", &ir.Pool{Rank: 2, Op: ir.PoolMax, Kernel: []int{2, 2}}, "bn")
	add("sep", &ir.SeparableConv2D{Filters: 6, Kernel: []int{3, 3}, DepthMultiplier: 2, Padding: ir.PadSame, Activation: ir.Activation{Kind: ir.ActLeakyReLU, Alpha: 0.1}}, "pool")
	add("gap", &ir.GlobalPool{Rank: 2, Op: ir.PoolAvg}, "sep")
	add("mask", &ir.Masking{}, "seq")
	add("lstm", &ir.LSTM{Units: 5, ReturnSequences: true, Peephole: true}, "mask")
	add("bigru", &ir.Bidirectional{Layer: &ir.GRU{Units: 3}, Merge: ir.BiConcat}, "lstm")
	add("cat", &ir.Concat{Axis: 0}, "gap", "bigru")
	d := add("dense", &ir.Dense{Units: 7, Activation: ir.Act(ir.ActTanh)}, "cat")
	d.Train = &ir.TrainConfig{LearningRate: 0.01, L2: 1e-4}
	add("drop", &ir.Dropout{Rate: 0.5}, "dense")
	add("prelu", &ir.PReLU{}, "drop")
	add("ln", &ir.LayerNorm{Epsilon: 1e-5, Axis: -1}, "prelu")
	add("res", &ir.Merge{Op: ir.MergeAdd}, "ln", "drop")
	add("out", &ir.Output{Units: 3, Activation: ir.Activation{Kind: ir.ActSoftmax, Axis: -1}, Loss: ir.LossMCXENT}, "res")
	add("aux", &ir.Output{Units: 2, Loss: ir.LossMSE, NoBias: true}, "gap").Train = &ir.TrainConfig{Updater: ir.UpdSGD}
	add("const", &ir.Constant{Shape: []int{2}})
	add("aux2", &ir.Merge{Op: ir.MergeMultiply}, "aux", "const")
	g.Outputs = []ir.GraphOutput{{Name: "probs", Vertex: "out"}, {Name: "aux2", Vertex: "aux2", Layout: ir.LayoutNone}}

	shapes, err := g.Shapes()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	odd := []float32{float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		math.Float32frombits(0x7fc00001), math.Float32frombits(1), math.MaxFloat32}
	fill := func(shape []int) *ir.Tensor {
		tn := ir.NewTensor(shape...)
		for i := range tn.Data {
			if rng.Intn(10) == 0 {
				tn.Data[i] = odd[rng.Intn(len(odd))]
			} else {
				tn.Data[i] = float32(rng.NormFloat64())
			}
		}
		return tn
	}
	for _, v := range g.Vertices {
		for _, p := range v.Layer.Params(v.InputShapes(shapes)) {
			if v.Params == nil {
				v.Params = map[string]*ir.Tensor{}
			}
			v.Params[p.Name] = fill(p.Shape)
			if p.Trainable && !v.Frozen {
				if v.State == nil {
					v.State = map[string]*ir.Tensor{}
				}
				v.State[p.Name+"/m"] = fill(p.Shape)
				v.State[p.Name+"/v"] = fill(p.Shape)
			}
		}
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	return g
}

// requireSameGraph compares everything Save writes, tensors bit for bit.
func requireSameGraph(t testing.TB, want, got *ir.Graph) {
	t.Helper()
	if got.Name != want.Name || got.Step != want.Step {
		t.Fatalf("name/step: %q %d, want %q %d", got.Name, got.Step, want.Name, want.Step)
	}
	for _, c := range []struct {
		what      string
		want, got any
	}{{"inputs", want.Inputs, got.Inputs}, {"outputs", want.Outputs, got.Outputs}, {"meta", want.Meta, got.Meta}, {"train", want.Train, got.Train}} {
		if !reflect.DeepEqual(c.want, c.got) {
			t.Fatalf("%s: got %+v, want %+v", c.what, c.got, c.want)
		}
	}
	if len(got.Vertices) != len(want.Vertices) {
		t.Fatalf("%d vertices, want %d", len(got.Vertices), len(want.Vertices))
	}
	for i, w := range want.Vertices {
		v := got.Vertices[i]
		if v.Name != w.Name || v.Frozen != w.Frozen || !reflect.DeepEqual(v.Inputs, w.Inputs) || !reflect.DeepEqual(v.Train, w.Train) {
			t.Fatalf("vertex %d: got %+v, want %+v", i, v, w)
		}
		if !reflect.DeepEqual(v.Layer, w.Layer) {
			t.Fatalf("vertex %s layer: got %+v, want %+v", w.Name, v.Layer, w.Layer)
		}
		sameTensors(t, w.Name+" params", w.Params, v.Params)
		sameTensors(t, w.Name+" state", w.State, v.State)
	}
}

func sameTensors(t testing.TB, what string, want, got map[string]*ir.Tensor) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%s: %d tensors, want %d", what, len(got), len(want))
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || !w.Equal(g) {
			t.Fatalf("%s: tensor %q differs", what, k)
		}
	}
}

func encode(t testing.TB, g *ir.Graph) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := ExportTo(&b, g); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// entries unpacks an archive (trusted: one this package wrote).
func entries(t testing.TB, b []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	return out
}

// pack builds an archive from entries in a fixed order.
func pack(t testing.TB, es map[string][]byte) []byte {
	t.Helper()
	var names []string
	for n := range es {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, n := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(es[n])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// editGraphJSON rewrites graph.json through a generic map.
func editGraphJSON(t testing.TB, b []byte, edit func(m map[string]any)) []byte {
	t.Helper()
	es := entries(t, b)
	var m map[string]any
	if err := json.Unmarshal(es[entryGraph], &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	es[entryGraph], _ = json.Marshal(m)
	return pack(t, es)
}

func readBytes(b []byte) (*ir.Graph, error) { return ImportFrom(bytes.NewReader(b)) }
