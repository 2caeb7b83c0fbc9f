package keras

import (
	"testing"

	"github.com/retarget-dev/retarget/internal/numtest"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
	"github.com/retarget-dev/retarget/npy"
)

// TestConv3DKerasFile imports a Keras 2 HDF5 model of volumetric layers
// over NDHWC (testdata/gen/keras_conv3d_fixture.py) and requires the
// predictions PyTorch computed from the same file.
func TestConv3DKerasFile(t *testing.T) {
	const dir = "../../testdata/keras/conv3d/"
	g, err := Import(dir+"model.h5", Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	if in := g.Inputs[0]; in.Layout != ir.LayoutNDHWC || !ir.SameShape(in.Shape, []int{2, 4, 6, 5}) {
		t.Fatalf("input %+v, want NDHWC [2 4 6 5] (channels first inside)", in)
	}
	want := map[string]string{"conv3d_1": "Conv3D", "max_pooling3d_1": "MaxPool3D", "conv3d_transpose_1": "ConvTranspose3D",
		"average_pooling3d_1": "AvgPool3D", "global_average_pooling3d_1": "GlobalAvgPool3D"}
	for n, k := range want {
		if v := g.Vertex(n); v == nil || v.Layer.Kind() != k {
			t.Errorf("vertex %s: %+v, want kind %s", n, v, k)
		}
	}
	x, err := npy.ReadFile(dir + "input.npy")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := npy.ReadFile(dir + "predictions.npy")
	if err != nil {
		t.Fatal(err)
	}
	net, err := nn.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	ys, err := net.Predict(ir.FromData(x.Data, x.Shape...))
	if err != nil {
		t.Fatal(err)
	}
	if !ir.SameShape(ys[0].Shape, ref.Shape) {
		t.Fatalf("output shape %v, want %v", ys[0].Shape, ref.Shape)
	}
	d := numtest.MaxAbsDiff(ys[0].Data, ref.Data)
	t.Logf("max |nn - PyTorch| = %.3g", d)
	if d > 1e-5 {
		t.Fatalf("predictions differ by %g", d)
	}
}
