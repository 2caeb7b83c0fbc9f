// Package integration_test runs the transfer-learning builder end to end on
// realistic architectures (zoo ResNet50, MobileNetV2, VGG16) and on
// imported ONNX and Keras models: edit, fine-tune, export, re-import.
package integration_test

import (
	"io"
	"math"
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/internal/layout"
	"github.com/retarget-dev/retarget/internal/numtest"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
	"github.com/retarget-dev/retarget/retarget"
)

// pretend makes a freshly initialised graph look trained: random biases,
// BatchNorm running statistics set to the statistics of x (one training
// forward with momentum 0, so activations stay in range through deep
// nets), then random gamma and beta. x is in the internal layout.
func pretend(t testing.TB, g *ir.Graph, x *ir.Tensor, seed int64) {
	t.Helper()
	r := rand.New(rand.NewSource(seed))
	norm := func(d []float32, mu, sd float64) {
		for i := range d {
			d[i] = float32(mu + sd*r.NormFloat64())
		}
	}
	momentum := map[*ir.BatchNorm]float32{}
	for _, v := range g.Vertices {
		if b := v.Params["b"]; b != nil {
			norm(b.Data, 0, 0.05)
		}
		if bn, ok := v.Layer.(*ir.BatchNorm); ok {
			momentum[bn] = bn.Momentum
			bn.Momentum = 0
		}
	}
	if len(momentum) == 0 {
		// no normalisation: He-scale the Glorot weights so that
		// activations keep their size through a deep relu stack
		for _, v := range g.Vertices {
			switch v.Layer.(type) {
			case *ir.Conv, *ir.Dense:
				for i := range v.Params["W"].Data {
					v.Params["W"].Data[i] *= math.Sqrt2
				}
			}
		}
	}
	if len(momentum) > 0 {
		net, err := nn.Compile(g)
		if err != nil {
			t.Fatal(err)
		}
		in := &nn.Mat[float32]{Shape: x.Shape, Data: x.Data}
		if _, err := net.Forward([]*nn.Mat[float32]{in}, true); err != nil {
			t.Fatal(err)
		}
	}
	for bn, m := range momentum {
		bn.Momentum = m
	}
	for _, v := range g.Vertices {
		if _, ok := v.Layer.(*ir.BatchNorm); ok {
			// a few examples leave some channels with a near-zero
			// variance, which would blow up other inputs
			vr := v.Params["var"].Data
			mean := 0.0
			for _, x := range vr {
				mean += float64(x) / float64(len(vr))
			}
			for i := range vr {
				vr[i] += float32(0.2*mean) + 1e-3
			}
			for i := range v.Params["gamma"].Data {
				v.Params["gamma"].Data[i] = float32(0.5 + r.Float64())
			}
			norm(v.Params["beta"].Data, 0, 0.1)
		}
	}
}

// images makes n examples of shape (internal layout) whose class shifts
// the mean of one channel band, and one-hot labels of k classes.
func images(seed int64, n, k int, shape ...int) (*ir.Tensor, *ir.Tensor) {
	r := rand.New(rand.NewSource(seed))
	x, y := ir.NewTensor(append([]int{n}, shape...)...), ir.NewTensor(n, k)
	per := ir.NumElements(shape)
	band := max(per/k, 1)
	for i := 0; i < n; i++ {
		c := i % k
		y.Data[i*k+c] = 1
		img := x.Data[i*per : (i+1)*per]
		for j := range img {
			img[j] = float32(r.NormFloat64() * 0.5)
		}
		for j := c * band; j < min((c+1)*band, per); j++ {
			img[j] += 1
		}
	}
	return x, y
}

// feed lays x (internal layout, batch first) out as g's first input takes it.
func feed(g *ir.Graph, x *ir.Tensor) *ir.Tensor {
	if l := g.Inputs[0].Layout; (l == ir.LayoutNHWC || l == ir.LayoutNWC) && len(x.Shape) >= 3 {
		rank := len(x.Shape) - 1
		perm := []int{0}
		for _, p := range layout.CLPerm(rank) {
			perm = append(perm, p+1)
		}
		d, s := transpose(x.Data, x.Shape, perm)
		return ir.FromData(d, s...)
	}
	return x
}

var transpose = layout.Transpose

// predict runs g on x (internal layout) and returns output 0. Inference
// does not change the graph, so it runs on g itself (no copy of large
// models).
func predict(t testing.TB, g *ir.Graph, x *ir.Tensor) *ir.Tensor {
	t.Helper()
	net, err := nn.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	out, err := net.Predict(feed(g, x))
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

// values runs g and returns the named vertices' values (internal layout).
func values(t testing.TB, g *ir.Graph, x *ir.Tensor, names ...string) []*ir.Tensor {
	t.Helper()
	net, err := nn.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	out, err := net.PredictVertices(names, feed(g, x))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func maxDiff(a, b *ir.Tensor) float64 {
	if !ir.SameShape(a.Shape, b.Shape) {
		return math.Inf(1)
	}
	return numtest.MaxAbsDiff(a.Data, b.Data)
}

func maxAbs(a *ir.Tensor) float64 {
	m := 0.0
	for _, v := range a.Data {
		m = math.Max(m, math.Abs(float64(v)))
	}
	return m
}

// relDiff is the largest difference relative to the larger magnitude.
func relDiff(a, b *ir.Tensor) float64 {
	return maxDiff(a, b) / math.Max(1, math.Max(maxAbs(a), maxAbs(b)))
}

// build runs Build and fails on an error; notes are returned.
func build(t testing.TB, b *retarget.Builder) (*ir.Graph, []string) {
	t.Helper()
	g, notes, err := b.BuildNotes()
	if err != nil {
		t.Fatal(err)
	}
	return g, notes
}

// preserved checks that g computes what src computes on x: output 0 to
// 1e-5, and the named feature vertices to 1e-5 relative.
func preserved(t testing.TB, what string, src, g *ir.Graph, x *ir.Tensor, features ...string) {
	t.Helper()
	preservedTol(t, what, src, g, x, 1e-5, features...)
}

// preservedTol is preserved with a tolerance (net2net reorders sums: its
// float32 rounding differs, and a deep net amplifies it).
func preservedTol(t testing.TB, what string, src, g *ir.Graph, x *ir.Tensor, tol float64, features ...string) {
	t.Helper()
	// output 0 is rank 1 in every model here: its internal layout is
	// the source's
	names := append([]string{src.Outputs[0].Vertex}, features...)
	fw, fg := values(t, src, x, names...), values(t, g, x, names...)
	if d := maxDiff(fw[0], fg[0]); d > tol {
		t.Errorf("%s: predictions changed by %.3g", what, d)
	}
	for i, f := range features {
		if d := relDiff(fw[i+1], fg[i+1]); d > tol {
			t.Errorf("%s: %s changed by %.3g (relative)", what, f, d)
		}
	}
}

// fitFew trains g in place for steps on (x, y) (internal layout) and
// returns the losses of the first and last step; frozen vertices' tensors
// must stay bit-identical and some trainable one must move.
func fitFew(t testing.TB, g *ir.Graph, x, y *ir.Tensor, batch, steps int) (first, last float64) {
	t.Helper()
	before := g.Clone()
	net, err := nn.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	it, err := nn.NewArrayIterator(feed(g, x), y, batch, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	var losses []float64
	for len(losses) < steps {
		if err := it.Reset(); err != nil {
			t.Fatal(err)
		}
		for len(losses) < steps {
			b, err := it.Next()
			if err != nil {
				break
			}
			l, err := net.FitBatch(b)
			if err != nil {
				t.Fatal(err)
			}
			losses = append(losses, l)
		}
	}
	// the loss after training, on the first batch again
	if err := it.Reset(); err != nil {
		t.Fatal(err)
	}
	b, err := it.Next()
	if err != nil {
		t.Fatal(err)
	}
	ev, err := net.Evaluate(&oneBatch{b: b})
	if err != nil {
		t.Fatal(err)
	}
	first, last = losses[0], ev.Loss
	if !(last < first) || math.IsNaN(last) {
		t.Errorf("loss did not decrease: %.4g -> %.4g (steps %v)", first, last, losses)
	}
	moved := false
	for _, v := range g.Vertices {
		old := before.Vertex(v.Name)
		for k, p := range v.Params {
			same := p.Equal(old.Params[k])
			if v.Frozen && !same {
				t.Errorf("frozen %s/%s changed during fit", v.Name, k)
			}
			moved = moved || (!v.Frozen && !same)
		}
	}
	if !moved {
		t.Error("no trainable parameter moved")
	}
	return first, last
}

// oneBatch is an iterator over a single batch.
type oneBatch struct {
	b    *nn.Batch
	done bool
}

func (o *oneBatch) Reset() error { o.done = false; return nil }
func (o *oneBatch) Next() (*nn.Batch, error) {
	if o.done {
		return nil, io.EOF
	}
	o.done = true
	return o.b, nil
}

// frozenNames lists the frozen vertices of g.
func frozenNames(g *ir.Graph) map[string]bool {
	m := map[string]bool{}
	for _, v := range g.Vertices {
		if v.Frozen {
			m[v.Name] = true
		}
	}
	return m
}
