package retarget

import (
	"fmt"
	"sort"
	"sync"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
	"github.com/retarget-dev/retarget/npy"
)

// DataOptions are the iterator settings of a plan's training block.
type DataOptions struct {
	BatchSize int
	Shuffle   bool
	Seed      int64
}

// DataSource builds a plan's training iterator and, when the spec names
// validation data, a validation iterator (else nil) for graph g. Paths in
// spec are already resolved against the plan's folder. Batches are in the
// source layout of g's inputs, labels one per graph output.
type DataSource func(spec DataSpec, g *ir.Graph, opt DataOptions) (train, val nn.Iterator, err error)

var (
	dataMu      sync.RWMutex
	dataSources = map[string]DataSource{"npy": npySource}
)

// RegisterDataSource makes a data kind usable in plans (the data package
// registers image folders, CSV, …). Registering a kind again replaces it.
func RegisterDataSource(kind string, src DataSource) {
	dataMu.Lock()
	defer dataMu.Unlock()
	dataSources[kind] = src
}

// DataSourceOf returns the data source registered for a kind, or nil.
func DataSourceOf(kind string) DataSource { return dataSource(kind) }

func dataSource(kind string) DataSource {
	dataMu.RLock()
	defer dataMu.RUnlock()
	return dataSources[kind]
}

func dataKinds() []string {
	dataMu.RLock()
	defer dataMu.RUnlock()
	var out []string
	for k := range dataSources {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// npySource reads NPY arrays: features one per graph input, labels one per
// graph output with a loss. Integer class labels (rank 1) of a
// multi-class output are one-hot encoded unless its loss is sparse.
func npySource(spec DataSpec, g *ir.Graph, opt DataOptions) (nn.Iterator, nn.Iterator, error) {
	train, err := npyArrays(spec.Features, spec.Labels, g)
	if err != nil {
		return nil, nil, err
	}
	it, err := nn.NewSliceIterator(train[0], train[1], max(opt.BatchSize, 1), opt.Shuffle, opt.Seed)
	if err != nil {
		return nil, nil, err
	}
	if len(spec.ValidationFeatures) == 0 {
		return it, nil, nil
	}
	val, err := npyArrays(spec.ValidationFeatures, spec.ValidationLabels, g)
	if err != nil {
		return nil, nil, err
	}
	vit, err := nn.NewSliceIterator(val[0], val[1], max(opt.BatchSize, 1), false, 0)
	return it, vit, err
}

func npyArrays(features, labels []string, g *ir.Graph) ([2][]*ir.Tensor, error) {
	var out [2][]*ir.Tensor
	if len(features) != len(g.Inputs) {
		return out, fmt.Errorf("npy data: %d feature file(s) for %d graph input(s)", len(features), len(g.Inputs))
	}
	for _, f := range features {
		a, err := npy.ReadFile(f)
		if err != nil {
			return out, err
		}
		out[0] = append(out[0], ir.FromData(a.Data, a.Shape...))
	}
	var lossOuts []int
	for k, o := range g.Outputs {
		if v := g.Vertex(o.Vertex); v != nil && ir.IsOutputLayer(v.Layer) {
			lossOuts = append(lossOuts, k)
		}
	}
	if len(labels) != len(lossOuts) {
		return out, fmt.Errorf("npy data: %d label file(s) for %d output(s) with a loss", len(labels), len(lossOuts))
	}
	out[1] = make([]*ir.Tensor, len(g.Outputs))
	for i, f := range labels {
		a, err := npy.ReadFile(f)
		if err != nil {
			return out, err
		}
		t := ir.FromData(a.Data, a.Shape...)
		v := g.Vertex(g.Outputs[lossOuts[i]].Vertex)
		if t, err = oneHot(t, v.Layer); err != nil {
			return out, fmt.Errorf("%s: %w", f, err)
		}
		out[1][lossOuts[i]] = t
	}
	n := -1
	for _, ts := range out {
		for _, t := range ts {
			if t == nil {
				continue
			}
			if n >= 0 && (len(t.Shape) == 0 || t.Shape[0] != n) {
				return out, fmt.Errorf("npy data: the arrays hold different numbers of examples (%d and %v)", n, t.Shape)
			}
			n = t.Shape[0]
		}
	}
	return out, nil
}

// oneHot encodes class indices [N] for an Output with k > 1 units and a
// dense loss.
func oneHot(t *ir.Tensor, l ir.Layer) (*ir.Tensor, error) {
	o, ok := l.(*ir.Output)
	if !ok || len(t.Shape) != 1 || o.Units < 2 || o.Loss == ir.LossSparseMCXENT {
		return t, nil
	}
	k := o.Units
	out := ir.NewTensor(t.Shape[0], k)
	for i, v := range t.Data {
		c := int(v)
		if float32(c) != v || c < 0 || c >= k {
			return nil, fmt.Errorf("label %d is %g, not a class index in [0, %d)", i, v, k)
		}
		out.Data[i*k+c] = 1
	}
	return out, nil
}
