package nn

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// Fixtures written by testdata/gen/nn_rnn_fixtures.py (PyTorch, or a numpy
// implementation of the Keras equations where torch has no equivalent).
type rnnFixtureTensor struct {
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

type rnnFixture struct {
	Name    string                      `json:"name"`
	Source  string                      `json:"source"`
	Layer   json.RawMessage             `json:"layer"`
	Params  map[string]rnnFixtureTensor `json:"params"`
	X       rnnFixtureTensor            `json:"x"`
	Y       rnnFixtureTensor            `json:"y"`
	Mask    *rnnFixtureTensor           `json:"mask"`
	OutMask *rnnFixtureTensor           `json:"out_mask"`
}

func loadRnnFixtures(t *testing.T, file string) []rnnFixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "nn", file))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []rnnFixture `json:"cases"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) == 0 {
		t.Fatalf("%s has no cases", file)
	}
	return f.Cases
}

func rnnFixtureMat[F Float](t rnnFixtureTensor) *Mat[F] {
	m := NewMat[F](t.Shape...)
	for i, v := range t.Data {
		m.Data[i] = F(v)
	}
	return m
}

// runRnnFixture runs one fixture's forward pass in F and compares it with
// tolerance tol (relative to max(1, |want|)).
func runRnnFixture[F Float](t *testing.T, c rnnFixture, tol float64) {
	t.Helper()
	l, err := ir.UnmarshalLayer(c.Layer)
	if err != nil {
		t.Fatal(err)
	}
	in := [][]int{c.X.Shape[1:]}
	out, err := l.OutputShape(in)
	if err != nil {
		t.Fatal(err)
	}
	if !ir.SameShape(append([]int{c.X.Shape[0]}, out...), c.Y.Shape) {
		t.Fatalf("ir output shape %v, fixture %v", out, c.Y.Shape)
	}
	params := &Params[F]{Values: map[string]*Mat[F]{}, Grads: map[string]*Mat[F]{}}
	for _, s := range l.Params(in) {
		p, ok := c.Params[s.Name]
		if !ok {
			t.Fatalf("fixture lacks parameter %s", s.Name)
		}
		params.Values[s.Name] = rnnFixtureMat[F](p)
	}
	b, err := builderFor[F](l.Kind())
	if err != nil {
		t.Fatal(err)
	}
	op, err := b(&ir.Vertex{Name: c.Name, Layer: l}, in, out, params)
	if err != nil {
		t.Fatal(err)
	}
	// A larger batch (and sequence) first leaves stale values in every
	// buffer the op reuses.
	dirty := append([]int{c.X.Shape[0] + 2}, c.X.Shape[1:]...)
	if len(dirty) > 2 {
		dirty[1]++
	}
	dx := NewMat[F](dirty...)
	for i := range dx.Data {
		dx.Data[i] = F(math.Sin(float64(i)))
	}
	op.Forward(&Pass[F]{Train: true}, []*Mat[F]{dx})

	p := &Pass[F]{}
	if c.Mask != nil {
		p.Mask = rnnFixtureMat[F](*c.Mask).Data
	}
	y := op.Forward(p, []*Mat[F]{rnnFixtureMat[F](c.X)})
	if f, ok := op.(Failer); ok && f.Err() != nil {
		t.Fatal(f.Err())
	}
	if !ir.SameShape(y.Shape, c.Y.Shape) {
		t.Fatalf("output shape %v, want %v", y.Shape, c.Y.Shape)
	}
	for i, want := range c.Y.Data {
		if d := math.Abs(float64(y.Data[i]) - want); !(d <= tol*math.Max(1, math.Abs(want))) {
			t.Fatalf("y[%d] = %.9g, want %.9g (%s)", i, y.Data[i], want, c.Source)
		}
	}
	if c.OutMask != nil {
		for i, want := range c.OutMask.Data {
			if i >= len(p.Mask) || float64(p.Mask[i]) != want {
				t.Fatalf("Pass.Mask = %v, want %v", p.Mask, c.OutMask.Data)
			}
		}
	}
}

func TestRnnForwardFixtures(t *testing.T) {
	for _, file := range []string{"rnn_recurrent.json", "rnn_sequence.json"} {
		for _, c := range loadRnnFixtures(t, file) {
			t.Run(c.Name+"/f64", func(t *testing.T) { runRnnFixture[float64](t, c, 1e-9) })
			t.Run(c.Name+"/f32", func(t *testing.T) { runRnnFixture[float32](t, c, 2e-6) })
		}
	}
}
