package keras

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/internal/hdf5"
	"github.com/retarget-dev/retarget/internal/numtest"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

const parityTol = 1e-4

// ioFixture is a Keras *_inputs_and_outputs.h5: inputs and the outputs
// Keras computed for them, by layer name.
type ioFixture struct {
	inputs, outputs map[string]*ir.Tensor
}

func readIOFixture(t *testing.T, path string) *ioFixture {
	t.Helper()
	f, err := hdf5.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	fx := &ioFixture{inputs: map[string]*ir.Tensor{}, outputs: map[string]*ir.Tensor{}}
	// "predictions" holds what Keras computed; in the recurrent examples
	// "outputs" holds the training targets instead, so prefer predictions.
	outGroup := "predictions"
	if _, err := f.Root().Group(outGroup); err != nil {
		outGroup = "outputs"
	}
	for grp, dst := range map[string]map[string]*ir.Tensor{"inputs": fx.inputs, outGroup: fx.outputs} {
		g, err := f.Root().Group(grp)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		names, err := g.Members()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			w, err := readDataset(g, n)
			if err != nil {
				t.Fatalf("%s/%s: %v", grp, n, err)
			}
			dst[n] = ir.FromData(w.data, w.shape...)
		}
	}
	return fx
}

// predict compiles g and runs it on the named inputs; it skips (naming
// the kind) when the engine cannot run a layer yet.
func predict(t *testing.T, g *ir.Graph, inputs map[string]*ir.Tensor) map[string]*ir.Tensor {
	t.Helper()
	net, err := nn.Compile(g)
	if err != nil {
		if strings.Contains(err.Error(), "cannot run layer kind") {
			t.Skipf("engine: %v", err)
		}
		t.Fatalf("compile: %v", err)
	}
	var in []*ir.Tensor
	for _, gi := range g.Inputs {
		x, ok := inputs[gi.Name]
		if !ok {
			t.Fatalf("no fixture input for graph input %q", gi.Name)
		}
		in = append(in, x)
	}
	outs, err := net.Predict(in...)
	if err != nil {
		t.Fatalf("predict: %v", err)
	}
	res := map[string]*ir.Tensor{}
	for i, o := range g.Outputs {
		res[o.Name] = outs[i]
	}
	return res
}

func maxAbsDiff(a, b *ir.Tensor) (float64, error) {
	if ir.NumElements(a.Shape) != ir.NumElements(b.Shape) {
		return 0, fmt.Errorf("shapes %v and %v differ", a.Shape, b.Shape)
	}
	return numtest.MaxAbsDiff(a.Data, b.Data), nil
}

func checkParity(t *testing.T, g *ir.Graph, fx *ioFixture) {
	t.Helper()
	got := predict(t, g, fx.inputs)
	for name, want := range fx.outputs {
		y, ok := got[name]
		if !ok {
			t.Fatalf("graph has no output %q (outputs %v)", name, g.Outputs)
		}
		if !ir.SameShape(y.Shape, want.Shape) {
			t.Fatalf("output %q: shape %v, Keras %v", name, y.Shape, want.Shape)
		}
		d, err := maxAbsDiff(y, want)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("output %q: max |ours - Keras| = %.3g", name, d)
		if d > parityTol {
			t.Errorf("output %q differs from Keras by %g (> %g)", name, d, parityTol)
		}
	}
}

// TestKerasParity imports every real Keras model that comes with inputs
// and Keras's own outputs, runs it, and compares.
func TestKerasParity(t *testing.T) {
	dir := needReal(t)
	ios, _ := filepath.Glob(filepath.Join(dir, "examples", "*", "*_inputs_and_outputs.h5"))
	if len(ios) == 0 {
		t.Fatalf("no *_inputs_and_outputs.h5 under %s", dir)
	}
	for _, io := range ios {
		base := strings.TrimSuffix(io, "_inputs_and_outputs.h5")
		name := filepath.Base(base)
		t.Run(name+"/model", func(t *testing.T) {
			g, err := Import(base+"_model.h5", Options{Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			checkParity(t, g, readIOFixture(t, io))
		})
		if _, err := os.Stat(base + "_config.json"); err == nil {
			t.Run(name+"/json+weights", func(t *testing.T) {
				g, err := Import(base+"_config.json", Options{Weights: base + "_weights.h5", Strict: true})
				if err != nil {
					t.Fatal(err)
				}
				checkParity(t, g, readIOFixture(t, io))
			})
		}
	}
}

// TestKerasParityCNN runs fullconfigs/cnn (Conv2D, BatchNormalization,
// Flatten after a channels-last convolution) against Keras's predictions.
func TestKerasParityCNN(t *testing.T) {
	dir := filepath.Join(needReal(t), "fullconfigs", "cnn")
	g, err := Import(filepath.Join(dir, "cnn_batch_norm.h5"), Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	x := readNpy(t, filepath.Join(dir, "input.npy"))
	want := readNpy(t, filepath.Join(dir, "predictions.npy"))
	fx := &ioFixture{inputs: map[string]*ir.Tensor{g.Inputs[0].Name: x},
		outputs: map[string]*ir.Tensor{g.Outputs[0].Name: want}}
	checkParity(t, g, fx)
}

// readNpy reads a little-endian float32/float64 C-order .npy array.
func readNpy(t *testing.T, path string) *ir.Tensor {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 10 || string(b[1:6]) != "NUMPY" {
		t.Fatalf("%s: not an npy file", path)
	}
	var hl, off int
	if b[6] == 1 {
		hl, off = int(binary.LittleEndian.Uint16(b[8:])), 10
	} else {
		hl, off = int(binary.LittleEndian.Uint32(b[8:])), 12
	}
	hdr := string(b[off : off+hl])
	data := b[off+hl:]
	if strings.Contains(hdr, "'fortran_order': True") {
		t.Fatalf("%s: fortran order", path)
	}
	i := strings.Index(hdr, "'shape': (")
	j := strings.Index(hdr[i:], ")")
	var shape []int
	for _, s := range strings.Split(hdr[i+10:i+j], ",") {
		if s = strings.TrimSpace(s); s != "" {
			var n int
			fmt.Sscan(s, &n)
			shape = append(shape, n)
		}
	}
	n := ir.NumElements(shape)
	out := make([]float32, n)
	switch {
	case strings.Contains(hdr, "'<f4'"):
		for k := range out {
			out[k] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*k:]))
		}
	case strings.Contains(hdr, "'<f8'"):
		for k := range out {
			out[k] = float32(math.Float64frombits(binary.LittleEndian.Uint64(data[8*k:])))
		}
	default:
		t.Fatalf("%s: unsupported dtype in %s", path, hdr)
	}
	return ir.FromData(out, shape...)
}
