package onnx

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/internal/numtest"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

type fixtureArray struct {
	Name  string    `json:"name"`
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

type fixture struct {
	Opset   int            `json:"opset"`
	Atol    float64        `json:"atol"`
	Inputs  []fixtureArray `json:"inputs"`
	Outputs []fixtureArray `json:"outputs"`
}

func loadFixture(t testing.TB, path string) *fixture {
	t.Helper()
	b, err := os.ReadFile(strings.TrimSuffix(path, ".onnx") + ".json")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{}
	if err := json.Unmarshal(b, f); err != nil {
		t.Fatal(err)
	}
	return f
}

func (a fixtureArray) mat() *nn.Mat[float32] {
	m := nn.NewMat[float32](a.Shape...)
	for k, v := range a.Data {
		m.Data[k] = float32(v)
	}
	return m
}

// engineMissing reports whether err says the engine lacks a layer kind.
func engineMissing(err error) bool {
	return err != nil && strings.Contains(err.Error(), "cannot run layer kind")
}

// predict runs g on the fixture inputs; skip is set when nn cannot run it yet.
func predict(g *ir.Graph, ins []fixtureArray) (outs []*nn.Mat[float32], skip string, err error) {
	net, err := nn.Compile(g)
	if engineMissing(err) {
		return nil, err.Error(), nil
	}
	if err != nil {
		return nil, "", err
	}
	var mats []*nn.Mat[float32]
	for _, in := range ins {
		mats = append(mats, in.mat())
	}
	outs, err = net.Forward(mats, false)
	return outs, "", err
}

func maxAbsDiff(got *nn.Mat[float32], want fixtureArray) (float64, error) {
	if !ir.SameShape(got.Shape, want.Shape) {
		return 0, fmt.Errorf("shape %v, want %v", got.Shape, want.Shape)
	}
	return numtest.MaxAbsDiff(got.Data, want.Data), nil
}

func fixturePaths(t *testing.T) []string {
	paths, _ := filepath.Glob("../../testdata/onnx/*.onnx")
	ext, _ := filepath.Glob("../../testdata/onnx/external/*.onnx")
	var out []string
	for _, p := range append(paths, ext...) {
		if !strings.Contains(p, "onnxpb_fixture") {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		t.Fatal("no fixtures in testdata/onnx; run python3 testdata/gen/onnx_fixtures.py")
	}
	return out
}

// checkParity imports a fixture, runs it with nn and compares with the
// framework's outputs; it returns the max abs diff, or -1 when skipped.
func checkParity(t *testing.T, path string) float64 {
	t.Helper()
	fx := loadFixture(t, path)
	g, err := Import(path, Options{})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	for k, o := range fx.Outputs {
		if g.Outputs[k].Name != o.Name {
			t.Errorf("output %d named %q, want %q", k, g.Outputs[k].Name, o.Name)
		}
	}
	if len(fx.Outputs) == 0 {
		t.Logf("no expected outputs recorded; import only")
		return -1
	}
	outs, skip, err := predict(g, fx.Inputs)
	if skip != "" {
		t.Logf("PARITY SKIPPED: %s", skip)
		return -1
	}
	if err != nil {
		t.Fatalf("predict: %v", err)
	}
	worst := 0.0
	for k, want := range fx.Outputs {
		d, err := maxAbsDiff(outs[k], want)
		if err != nil {
			t.Fatalf("output %q: %v", want.Name, err)
		}
		worst = math.Max(worst, d)
		atol := fx.Atol
		if atol == 0 {
			atol = 1e-4
		}
		if d > atol {
			t.Errorf("output %q: max abs diff %g > %g", want.Name, d, atol)
		}
	}
	return worst
}

func TestFixtureParity(t *testing.T) {
	for _, p := range fixturePaths(t) {
		p := p
		t.Run(strings.TrimSuffix(filepath.Base(p), ".onnx"), func(t *testing.T) {
			if d := checkParity(t, p); d >= 0 {
				t.Logf("max abs diff vs PyTorch/ORT: %.3g", d)
			}
		})
	}
}
