package keras

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/retarget-dev/retarget/internal/hdf5"
)

// attrStrings reads a string-list attribute, also in the split form Keras
// uses when the list does not fit one attribute (name0, name1, ...).
func attrStrings(g *hdf5.Group, name string) ([]string, bool, error) {
	v, err := g.Attr(name)
	if err == nil {
		s, err := asStrings(v)
		return s, true, err
	}
	if !errors.Is(err, hdf5.ErrNotFound) {
		return nil, false, err
	}
	var out []string
	found := false
	for i := 0; i < 1<<16; i++ {
		v, err := g.Attr(name + strconv.Itoa(i))
		if errors.Is(err, hdf5.ErrNotFound) {
			break
		}
		if err != nil {
			return nil, false, err
		}
		s, err := asStrings(v)
		if err != nil {
			return nil, false, err
		}
		found = true
		out = append(out, s...)
	}
	return out, found, nil
}

func asStrings(v any) ([]string, error) {
	switch x := v.(type) {
	case string:
		return []string{x}, nil
	case []string:
		return x, nil
	case []byte:
		return []string{string(x)}, nil
	case [][]byte:
		out := make([]string, len(x))
		for i, b := range x {
			out[i] = string(b)
		}
		return out, nil
	case []any:
		var out []string
		for _, e := range x {
			s, err := asStrings(e)
			if err != nil {
				return nil, err
			}
			out = append(out, s...)
		}
		return out, nil
	case []float64:
		if len(x) == 0 { // numpy writes an empty list as float64
			return nil, nil
		}
	case []float32:
		if len(x) == 0 {
			return nil, nil
		}
	}
	return nil, fmt.Errorf("expected strings, got %T", v)
}

// attrString reads a string attribute (model_config and the like).
func attrString(g *hdf5.Group, name string) (string, bool, error) {
	v, err := g.Attr(name)
	if errors.Is(err, hdf5.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	s, err := asStrings(v)
	if err != nil || len(s) != 1 {
		return "", false, fmt.Errorf("attribute %s is not a string", name)
	}
	return s[0], true, nil
}

// h5Weights reads Keras 1/2 weights: a group per layer listed in
// layer_names, each with weight_names naming its datasets in order.
type h5Weights struct {
	root   *hdf5.Group
	layers map[string]bool
	cache  map[string][]kWeight
}

func newH5Weights(root *hdf5.Group) (*h5Weights, error) {
	names, found, err := attrStrings(root, "layer_names")
	if err != nil {
		return nil, fmt.Errorf("layer_names: %w", err)
	}
	if !found {
		return nil, fmt.Errorf("no layer_names attribute: not a Keras weights group")
	}
	w := &h5Weights{root: root, layers: map[string]bool{}, cache: map[string][]kWeight{}}
	for _, n := range names {
		w.layers[n] = true
	}
	return w, nil
}

func readDataset(g *hdf5.Group, name string) (kWeight, error) {
	ds, err := g.Dataset(name)
	if err != nil {
		return kWeight{}, err
	}
	var shape []int
	for _, d := range ds.Shape() {
		if d > maxDim {
			return kWeight{}, fmt.Errorf("dataset %s: dimension %d too large", name, d)
		}
		shape = append(shape, int(d))
	}
	data, err := ds.ReadFloat32()
	if err != nil {
		return kWeight{}, fmt.Errorf("dataset %s: %w", name, err)
	}
	return kWeight{name: name, shape: shape, data: data}, nil
}

func (w *h5Weights) layerWeights(path []string) ([]kWeight, error) {
	top := path[0]
	if !w.layers[top] {
		return nil, nil
	}
	ws, ok := w.cache[top]
	if !ok {
		g, err := w.root.Group(top)
		if err != nil {
			return nil, err
		}
		names, _, err := attrStrings(g, "weight_names")
		if err != nil {
			return nil, fmt.Errorf("weight_names of %s: %w", top, err)
		}
		for _, n := range names {
			kw, err := readDataset(g, n)
			if err != nil {
				return nil, err
			}
			ws = append(ws, kw)
		}
		w.cache[top] = ws
	}
	// A layer inside a nested model: its weights are in the model's group,
	// named "<layer>/kernel:0" (possibly behind more scopes).
	for _, name := range path[1:] {
		var keep []kWeight
		for _, kw := range ws {
			for _, comp := range strings.Split(kw.name, "/") {
				if comp == name {
					keep = append(keep, kw)
					break
				}
			}
		}
		ws = keep
	}
	return ws, nil
}

// k3Weights reads the Keras 3 layout: layers/<name>/vars/<i>, with
// sub-objects (an LSTM's cell, a Bidirectional's forward_layer) as groups.
type k3Weights struct {
	root *hdf5.Group
}

func (w *k3Weights) layerWeights(path []string) ([]kWeight, error) {
	var g *hdf5.Group
	for _, top := range []string{"layers", "_layer_checkpoint_dependencies"} {
		p := top + "/" + strings.Join(path, "/"+top+"/")
		if x, err := w.root.Group(p); err == nil {
			g = x
			break
		}
	}
	if g == nil {
		return nil, nil
	}
	var out []kWeight
	if err := collectK3(g, "", &out, 0); err != nil {
		return nil, err
	}
	return out, nil
}

func collectK3(g *hdf5.Group, prefix string, out *[]kWeight, depth int) error {
	if depth > maxNesting {
		return fmt.Errorf("weights nested too deep under %s", g.Name())
	}
	members, err := g.Members()
	if err != nil {
		return err
	}
	hasVars := false
	var subs []string
	for _, m := range members {
		if m == "vars" {
			hasVars = true
		} else {
			subs = append(subs, m)
		}
	}
	if hasVars {
		vg, err := g.Group("vars")
		if err != nil {
			return err
		}
		vars, err := vg.Members()
		if err != nil {
			return err
		}
		sort.Slice(vars, func(i, j int) bool {
			a, ea := strconv.Atoi(vars[i])
			b, eb := strconv.Atoi(vars[j])
			if ea != nil || eb != nil {
				return vars[i] < vars[j]
			}
			return a < b
		})
		for _, v := range vars {
			kw, err := readDataset(vg, v)
			if err != nil {
				return err
			}
			kw.name = prefix + "vars/" + v
			*out = append(*out, kw)
		}
	}
	sort.Strings(subs)
	for _, s := range subs {
		if k, err := g.Kind(s); err != nil || k != hdf5.KindGroup {
			continue
		}
		sg, err := g.Group(s)
		if err != nil {
			return err
		}
		if err := collectK3(sg, prefix+s+"/", out, depth+1); err != nil {
			return err
		}
	}
	return nil
}
