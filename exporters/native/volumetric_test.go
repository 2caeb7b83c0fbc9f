package native

import (
	"math/rand"
	"path/filepath"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// The 3-D kinds and dilated max pooling keep their kind and every field
// through .rtm.
func TestVolumetricKindsRoundTrip(t *testing.T) {
	g := &ir.Graph{Name: "vol", Inputs: []ir.Input{{Name: "vol", Shape: []int{2, 6, 7, 6}, Layout: ir.LayoutNCHW}}}
	add := func(name string, l ir.Layer, in string) *ir.Vertex {
		v := &ir.Vertex{Name: name, Layer: l, Inputs: []string{in}}
		g.Vertices = append(g.Vertices, v)
		return v
	}
	add("conv3d", &ir.Conv{Rank: 3, Filters: 4, Kernel: []int{3, 2, 3}, Dilations: []int{2, 1, 1}, Padding: ir.PadExplicit, Pads: []int{1, 0, 1, 1, 1, 0}, Activation: ir.Act(ir.ActReLU)}, "vol").Frozen = true
	add("bn3d", &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.99}, "conv3d")
	add("maxpool3d", &ir.Pool{Rank: 3, Op: ir.PoolMax, Kernel: []int{2, 2, 2}, Strides: []int{1, 1, 1}, Dilations: []int{1, 2, 2}, CeilMode: true}, "bn3d")
	add("convt3d", &ir.ConvTranspose2D{Rank: 3, Filters: 3, Kernel: []int{2, 3, 2}, Strides: []int{2, 1, 2}, Padding: ir.PadValid, OutputPadding: []int{1, 0, 0}, Activation: ir.Act(ir.ActIdentity)}, "maxpool3d")
	add("avgpool3d", &ir.Pool{Rank: 3, Op: ir.PoolAvg, Kernel: []int{3, 2, 3}, Padding: ir.PadSame}, "convt3d")
	add("gmp3d", &ir.GlobalPool{Rank: 3, Op: ir.PoolMax}, "avgpool3d")
	g.Outputs = []ir.GraphOutput{{Name: "y", Vertex: "gmp3d"}}
	shapes, err := g.Shapes()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(3))
	for _, v := range g.Vertices {
		for _, p := range v.Layer.Params(v.InputShapes(shapes)) {
			if v.Params == nil {
				v.Params = map[string]*ir.Tensor{}
			}
			tn := ir.NewTensor(p.Shape...)
			for i := range tn.Data {
				tn.Data[i] = float32(rng.NormFloat64())
			}
			v.Params[p.Name] = tn
		}
	}
	path := filepath.Join(t.TempDir(), "vol.rtm")
	if err := Save(path, g); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	requireSameGraph(t, g, got)
	want := []string{"Conv3D", "BatchNorm", "MaxPool3D", "ConvTranspose3D", "AvgPool3D", "GlobalMaxPool3D"}
	for i, v := range got.Vertices {
		if v.Layer.Kind() != want[i] {
			t.Errorf("%s: kind %s, want %s", v.Name, v.Layer.Kind(), want[i])
		}
	}
}
