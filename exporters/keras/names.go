package keras

import (
	"fmt"
	"strings"

	"github.com/retarget-dev/retarget/ir"
)

// LayerName is the Keras layer name written for a vertex or input name.
// Keras forbids "/" in layer names (HDF5 would read it as a path; Keras 3
// refuses it) and uses ":" in weight names, so ONNX names such as
// "/conv1/Conv" are written as "conv1_Conv". Other names are kept.
func LayerName(name string) string {
	n := strings.TrimLeft(name, "/")
	n = strings.NewReplacer("/", "_", ":", "_").Replace(n)
	if n == "" {
		return "layer"
	}
	return n
}

// kerasNamed returns g with every name Keras cannot hold replaced (see
// LayerName), made unique. The copy shares layers and tensors with g; g
// is not changed. It returns g itself when no name needs changing.
func kerasNamed(g *ir.Graph) *ir.Graph {
	changed := false
	for _, in := range g.Inputs {
		changed = changed || LayerName(in.Name) != in.Name
	}
	for _, v := range g.Vertices {
		changed = changed || LayerName(v.Name) != v.Name
	}
	if !changed {
		return g
	}
	taken := map[string]bool{}
	for _, in := range g.Inputs {
		if LayerName(in.Name) == in.Name {
			taken[in.Name] = true
		}
	}
	for _, v := range g.Vertices {
		if LayerName(v.Name) == v.Name {
			taken[v.Name] = true
		}
	}
	rename := map[string]string{}
	name := func(old string) string {
		if n, ok := rename[old]; ok {
			return n
		}
		n := LayerName(old)
		if n != old {
			base := n
			for i := 1; taken[n]; i++ {
				n = fmt.Sprintf("%s_%d", base, i)
			}
			taken[n] = true
		}
		rename[old] = n
		return n
	}
	c := &ir.Graph{Name: g.Name, Meta: g.Meta, Train: g.Train, Step: g.Step}
	for _, in := range g.Inputs {
		in.Name = name(in.Name)
		c.Inputs = append(c.Inputs, in)
	}
	for _, v := range g.Vertices {
		nv := *v
		nv.Name = name(v.Name)
		nv.Inputs = make([]string, len(v.Inputs))
		for i, n := range v.Inputs {
			nv.Inputs[i] = name(n)
		}
		c.Vertices = append(c.Vertices, &nv)
	}
	for _, o := range g.Outputs {
		o.Vertex = name(o.Vertex)
		if LayerName(o.Name) != o.Name {
			o.Name = name(o.Name)
		}
		c.Outputs = append(c.Outputs, o)
	}
	return c
}
