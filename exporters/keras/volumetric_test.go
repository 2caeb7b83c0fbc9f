package keras_test

import (
	"errors"
	"math/rand"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	kexp "github.com/retarget-dev/retarget/exporters/keras"
	kimp "github.com/retarget-dev/retarget/importers/keras"
	"github.com/retarget-dev/retarget/internal/numtest"
	"github.com/retarget-dev/retarget/internal/testenv"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
	"github.com/retarget-dev/retarget/npy"
)

// volumetricGraph is a channels-last (NDHWC) 3-D CNN with every volumetric
// kind Keras has.
func volumetricGraph(t *testing.T) *ir.Graph {
	t.Helper()
	g := &ir.Graph{Inputs: []ir.Input{{Name: "vol", Shape: []int{2, 6, 7, 6}, Layout: ir.LayoutNDHWC}}}
	add := func(name string, l ir.Layer, in string) string {
		g.Vertices = append(g.Vertices, &ir.Vertex{Name: name, Layer: l, Inputs: []string{in}})
		return name
	}
	x := add("conv_a", &ir.Conv{Rank: 3, Filters: 4, Kernel: []int{3, 3, 3}, Strides: []int{1, 2, 1}, Padding: ir.PadSame, Activation: ir.Act(ir.ActReLU)}, "vol")
	x = add("conv_b", &ir.Conv{Rank: 3, Filters: 4, Groups: 2, Kernel: []int{2, 3, 2}, Dilations: []int{1, 1, 2}, Padding: ir.PadExplicit, Pads: []int{0, 1, 1, 1, 0, 1}, Activation: ir.Act(ir.ActTanh)}, x)
	x = add("bn", &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.99}, x)
	x = add("pool", &ir.Pool{Rank: 3, Op: ir.PoolMax, Kernel: []int{2, 2, 2}, Strides: []int{2, 1, 2}}, x)
	x = add("up", &ir.ConvTranspose2D{Rank: 3, Filters: 3, Kernel: []int{2, 2, 3}, Strides: []int{2, 1, 2}, OutputPadding: []int{1, 0, 0}, Padding: ir.PadValid, Activation: ir.Act(ir.ActSigmoid)}, x)
	x = add("avg", &ir.Pool{Rank: 3, Op: ir.PoolAvg, Kernel: []int{2, 2, 2}, Strides: []int{1, 1, 1}}, x)
	x = add("gap", &ir.GlobalPool{Rank: 3, Op: ir.PoolAvg}, x)
	x = add("out", &ir.Output{Units: 3, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}, x)
	g.Outputs = []ir.GraphOutput{{Name: x, Vertex: x}}
	if err := nn.InitGraph(g, ir.InitXavierUniform, 7); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(2))
	for _, v := range g.Vertices {
		for _, name := range v.ParamNames() { // sorted: the same graph every call
			p := v.Params[name]
			for i := range p.Data {
				if p.Data[i] == 0 || p.Data[i] == 1 {
					p.Data[i] += float32(r.Float64()*0.4 - 0.2)
				}
			}
		}
	}
	return g
}

// TestVolumetricKerasRoundTrip writes Conv3D, Conv3DTranspose, pools and
// BatchNormalization over NDHWC to Keras HDF5, reads the file back, and
// requires the same kinds and predictions; an independent reader of the
// file (testdata/gen/keras_h5_torch.py, PyTorch) must agree too.
func TestVolumetricKerasRoundTrip(t *testing.T) {
	x := ir.NewTensor(3, 6, 7, 6, 2) // NDHWC
	r := rand.New(rand.NewSource(5))
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	path := checkKerasRoundTrip(t, volumetricGraph(t), x)
	if back, err := kimp.Import(path, kimp.Options{}); err != nil || back.Vertex("conv_b_pad") == nil {
		t.Errorf("no ZeroPadding3D before conv_b's asymmetric padding (%v)", err)
	}
	// the weights alone load into a graph of the same architecture
	fresh := volumetricGraph(t)
	for _, v := range fresh.Vertices {
		for _, p := range v.Params {
			clear(p.Data)
		}
	}
	if err := kimp.LoadWeights(fresh, path, kimp.LoadWeightsOptions{}); err != nil {
		t.Fatal(err)
	}
	if d := numtest.MaxAbsDiff(predictT(t, volumetricGraph(t), x), predictT(t, fresh, x)); d > 1e-6 {
		t.Fatalf("LoadWeights: predictions differ by %g", d)
	}
}

// A Conv1DTranspose over NWC round-trips the same way.
func TestConvTranspose1DKerasRoundTrip(t *testing.T) {
	g := &ir.Graph{Inputs: []ir.Input{{Name: "seq", Shape: []int{3, 9}, Layout: ir.LayoutNWC}}}
	add := func(name string, l ir.Layer, in string) string {
		g.Vertices = append(g.Vertices, &ir.Vertex{Name: name, Layer: l, Inputs: []string{in}})
		return name
	}
	x0 := add("conv", &ir.Conv{Rank: 1, Filters: 4, Kernel: []int{3}, Padding: ir.PadSame, Activation: ir.Act(ir.ActReLU)}, "seq")
	x0 = add("up", &ir.ConvTranspose2D{Rank: 1, Filters: 2, Kernel: []int{3}, Strides: []int{2}, OutputPadding: []int{1}, Padding: ir.PadValid, Activation: ir.Act(ir.ActTanh)}, x0)
	g.Outputs = []ir.GraphOutput{{Name: x0, Vertex: x0, Layout: ir.LayoutNWC}}
	if err := nn.InitGraph(g, ir.InitXavierUniform, 4); err != nil {
		t.Fatal(err)
	}
	x := ir.NewTensor(2, 9, 3) // NWC
	r := rand.New(rand.NewSource(6))
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	checkKerasRoundTrip(t, g, x)
}

// checkKerasRoundTrip exports g to Keras HDF5, reads it back and requires
// the same input, kinds and predictions on x (in the source layout), and
// the same predictions from testdata/gen/keras_h5_torch.py, which runs the
// file with PyTorch. It returns the file's path.
func checkKerasRoundTrip(t *testing.T, g *ir.Graph, x *ir.Tensor) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "vol.h5")
	if err := kexp.Export(path, g); err != nil {
		t.Fatal(err)
	}
	back, err := kimp.Import(path, kimp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if back.Inputs[0].Layout != g.Inputs[0].Layout || !ir.SameShape(back.Inputs[0].Shape, g.Inputs[0].Shape) {
		t.Fatalf("input %+v, want %+v", back.Inputs[0], g.Inputs[0])
	}
	for _, v := range g.Vertices {
		b := back.Vertex(v.Name)
		if b == nil || b.Layer.Kind() != v.Layer.Kind() {
			t.Fatalf("vertex %s: got %+v, want kind %s", v.Name, b, v.Layer.Kind())
		}
	}
	want := predictT(t, g, x)
	got := predictT(t, back, x)
	if d := numtest.MaxAbsDiff(want, got); d > 1e-5 {
		t.Fatalf("keras round trip: predictions differ by %g", d)
	}
	py, err := testenv.Python("torch", "h5py")
	if err != nil {
		t.Logf("independent PyTorch reader skipped: %v", err)
		return path
	}
	gen, err := testenv.GenDir()
	if err != nil {
		t.Fatal(err)
	}
	in, outp := filepath.Join(dir, "x.npy"), filepath.Join(dir, "y.npy")
	if err := npy.WriteFile(in, x.Shape, x.Data); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(py, filepath.Join(gen, "keras_h5_torch.py"), path, in, outp).CombinedOutput(); err != nil {
		t.Fatalf("keras_h5_torch.py: %v\n%s", err, out)
	}
	ref, err := npy.ReadFile(outp)
	if err != nil {
		t.Fatal(err)
	}
	d := numtest.MaxAbsDiff(want, ref.Data)
	t.Logf("max |nn - PyTorch reading the .h5| = %.3g", d)
	if d > 1e-5 {
		t.Fatalf("the exported file computes something else: differs by %g", d)
	}
	return path
}

func predictT(t *testing.T, g *ir.Graph, x *ir.Tensor) []float32 {
	t.Helper()
	net, err := nn.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	ys, err := net.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	return ys[0].Data
}

func TestDilatedPoolRefusedByKeras(t *testing.T) {
	g := &ir.Graph{Inputs: []ir.Input{{Name: "x", Shape: []int{2, 9}}},
		Vertices: []*ir.Vertex{{Name: "dil", Layer: &ir.Pool{Rank: 1, Op: ir.PoolMax, Kernel: []int{2}, Dilations: []int{2}}, Inputs: []string{"x"}}},
		Outputs:  []ir.GraphOutput{{Name: "dil", Vertex: "dil"}}}
	err := kexp.Export(filepath.Join(t.TempDir(), "d.h5"), g)
	var ue *kexp.UnsupportedError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "dil") || !strings.Contains(err.Error(), "dilated pooling") {
		t.Fatalf("want an UnsupportedError naming the dilated pool, got %v", err)
	}
}
