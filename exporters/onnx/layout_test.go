package onnx_test

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"testing"

	exponnx "github.com/retarget-dev/retarget/exporters/onnx"
	imponnx "github.com/retarget-dev/retarget/importers/onnx"
	"github.com/retarget-dev/retarget/internal/layout"
	"github.com/retarget-dev/retarget/internal/numtest"
	"github.com/retarget-dev/retarget/internal/onnxpb"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// channelsLastGraphs take and give channels-last data, as graphs imported
// from TensorFlow-backend Keras do.
func channelsLastGraphs() map[string]*ir.Graph {
	return map[string]*ir.Graph{
		"image": {Inputs: []ir.Input{{Name: "x", Shape: []int{3, 6, 5}, Layout: ir.LayoutNHWC}},
			Vertices: []*ir.Vertex{
				vx("conv", &ir.Conv{Rank: 2, Filters: 4, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: ir.Act(ir.ActReLU)}, "x"),
				vx("flat", &ir.Flatten{}, "conv"),
				vx("out", &ir.Output{Units: 3, Activation: ir.Activation{Kind: ir.ActSoftmax, Axis: -1}, Loss: ir.LossMCXENT}, "flat"),
			},
			Outputs: []ir.GraphOutput{{Name: "fmap", Vertex: "conv", Layout: ir.LayoutNHWC}, {Name: "probs", Vertex: "out"}}},
		"signal": {Inputs: []ir.Input{{Name: "s", Shape: []int{2, 7}, Layout: ir.LayoutNWC}},
			Vertices: []*ir.Vertex{
				vx("conv1", &ir.Conv{Rank: 1, Filters: 3, Kernel: []int{3}, Padding: ir.PadValid, Activation: ir.Act(ir.ActTanh)}, "s"),
			},
			Outputs: []ir.GraphOutput{{Name: "seq", Vertex: "conv1", Layout: ir.LayoutNWC}}},
	}
}

// sourceInputs are random inputs in each graph input's source layout.
func sourceInputs(g *ir.Graph, seed int64) []*ir.Tensor {
	rng := rand.New(rand.NewSource(seed))
	var out []*ir.Tensor
	for _, in := range g.Inputs {
		shape := append([]int{2}, layout.CLShape(in.Shape)...)
		t := ir.NewTensor(shape...)
		for k := range t.Data {
			t.Data[k] = float32(rng.Float64()*2 - 1)
		}
		out = append(out, t)
	}
	return out
}

// toChannelsFirst transposes a batch-first channels-last tensor.
func toChannelsFirst(t *ir.Tensor) *ir.Tensor {
	if len(t.Shape) < 3 {
		return t
	}
	d, s := layout.Transpose(t.Data, t.Shape, append([]int{0}, plusOne(layout.CFPerm(len(t.Shape)-1))...))
	return ir.FromData(d, s...)
}

func plusOne(p []int) []int {
	out := make([]int, len(p))
	for i, a := range p {
		out[i] = a + 1
	}
	return out
}

func predictSource(t *testing.T, g *ir.Graph, xs []*ir.Tensor) []*ir.Tensor {
	t.Helper()
	net, err := nn.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	ys, err := net.Predict(xs...)
	if err != nil {
		t.Fatal(err)
	}
	return ys
}

func metaValue(m *onnxpb.ModelProto, key string) string {
	for _, kv := range m.GetMetadataProps() {
		if kv.GetKey() == key {
			return kv.GetValue()
		}
	}
	return ""
}

func dims(vi *onnxpb.ValueInfoProto) []int {
	var out []int
	for k, d := range vi.GetType().GetTensorType().GetShape().GetDim() {
		if k == 0 {
			out = append(out, -1)
			continue
		}
		out = append(out, int(d.GetDimValue()))
	}
	return out
}

// A channels-last graph exports taking and giving its own layout (a
// Transpose at each edge, the layout in metadata_props), or channels first
// with ChannelsFirst; ONNX Runtime runs both on the matching arrays, and
// the re-imported file takes the same arrays as the source graph, with
// the same inputs, layouts and vertices.
func TestExportKeepsSourceLayout(t *testing.T) {
	dir := t.TempDir()
	var jobs []*ortJob
	var wants [][]*ir.Tensor
	for name, g := range channelsLastGraphs() {
		fillParams(t, g, 5)
		xs := sourceInputs(g, 6)
		want := predictSource(t, g, xs)
		for _, cf := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/channels_first=%v", name, cf), func(t *testing.T) {
				m, err := exponnx.ToModel(g, exponnx.Options{ChannelsFirst: cf})
				if err != nil {
					t.Fatal(err)
				}
				in, out := g.Inputs[0], g.Outputs[0]
				wantIn, wantL := append([]int{-1}, layout.CLShape(in.Shape)...), in.Layout
				if cf {
					wantIn, wantL = append([]int{-1}, in.Shape...), map[ir.Layout]ir.Layout{ir.LayoutNHWC: ir.LayoutNCHW, ir.LayoutNWC: ir.LayoutNCW}[in.Layout]
				}
				if got := dims(m.Graph.Input[0]); !ir.SameShape(got, wantIn) {
					t.Errorf("ONNX input %v, want %v", got, wantIn)
				}
				if got := metaValue(m, exponnx.LayoutKey+in.Name); got != string(wantL) {
					t.Errorf("metadata %s%s = %q, want %q", exponnx.LayoutKey, in.Name, got, wantL)
				}
				if got := metaValue(m, exponnx.LayoutKey+out.Name); got != string(wantL) {
					t.Errorf("metadata %s%s = %q, want %q", exponnx.LayoutKey, out.Name, got, wantL)
				}
				path := filepath.Join(dir, fmt.Sprintf("%s_cf%v.onnx", name, cf))
				if err := exponnx.Export(path, g, exponnx.Options{ChannelsFirst: cf}); err != nil {
					t.Fatal(err)
				}
				g2, err := imponnx.Import(path, imponnx.Options{})
				if err != nil {
					t.Fatal(err)
				}
				feed, expect := xs, want
				if cf {
					feed, expect = nil, nil
					for _, x := range xs {
						feed = append(feed, toChannelsFirst(x))
					}
					for _, y := range want {
						expect = append(expect, toChannelsFirst(y))
					}
				}
				if !cf {
					if !ir.SameShape(g2.Inputs[0].Shape, in.Shape) || g2.Inputs[0].Layout != in.Layout || g2.Outputs[0].Layout != out.Layout {
						t.Errorf("re-imported input %+v output %+v, want %+v and %+v", g2.Inputs[0], g2.Outputs[0], in, out)
					}
					for _, v := range g2.Vertices {
						if _, ok := v.Layer.(*ir.Permute); ok {
							t.Errorf("re-imported graph has a Permute vertex %q: the edge transposes belong to the input and output", v.Name)
						}
					}
				}
				for k, y := range predictSource(t, g2, feed) {
					if !ir.SameShape(y.Shape, expect[k].Shape) {
						t.Fatalf("output %d of shape %v, want %v", k, y.Shape, expect[k].Shape)
					}
					if d := numtest.MaxAbsDiff(y.Data, expect[k].Data); d > 1e-5 {
						t.Errorf("re-imported output %d differs by %g", k, d)
					}
				}
				job := &ortJob{Model: path}
				for k, x := range feed {
					job.arrays = append(job.arrays, toArray(g.Inputs[k].Name, x))
				}
				jobs = append(jobs, job)
				wants = append(wants, expect)
			})
		}
	}
	if testing.Short() {
		return
	}
	var paths []string
	for _, j := range jobs {
		paths = append(paths, j.Model)
	}
	checkModels(t, paths)
	for j, got := range ortBatch(t, dir, jobs) {
		for k, y := range got {
			w := wants[j][k]
			if !ir.SameShape(y.Shape, w.Shape) {
				t.Errorf("%s: ORT output %d of shape %v, want %v", filepath.Base(jobs[j].Model), k, y.Shape, w.Shape)
				continue
			}
			if d := numtest.MaxAbsDiff(y.Data, w.Data); d > 1e-5 {
				t.Errorf("%s: ORT output %d differs from nn by %g", filepath.Base(jobs[j].Model), k, d)
			}
		}
	}
}
