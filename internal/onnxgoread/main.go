// Command onnxgoread decodes ONNX files with github.com/owulveryck/onnx-go
// (an ONNX reader written independently of internal/onnxpb) and prints, as
// JSON, what it read from each: node op types in order, initializer shapes,
// input and output counts, or the error. Tests use it to check that the
// files exporters/onnx writes are readable by another implementation; it is
// a separate program because onnx-go registers the same protobuf message
// names as internal/onnxpb, which one binary cannot hold.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	onnxgo "github.com/owulveryck/onnx-go"
	"gonum.org/v1/gonum/graph"
	"gonum.org/v1/gonum/graph/simple"
	"gorgonia.org/tensor"
)

// result is what onnx-go read from one file.
type result struct {
	File         string           `json:"file"`
	Ops          []string         `json:"ops"`
	Initializers map[string][]int `json:"initializers"`
	Inputs       int              `json:"inputs"`
	Outputs      int              `json:"outputs"`
	Error        string           `json:"error,omitempty"`
}

// backend records what onnx-go's decoder builds.
type backend struct {
	*simple.WeightedDirectedGraph
	ops []string
}

type node struct {
	id   int64
	name string
	t    tensor.Tensor
}

func (n *node) ID() int64                       { return n.id }
func (n *node) SetName(s string)                { n.name = s }
func (n *node) GetName() string                 { return n.name }
func (n *node) SetTensor(t tensor.Tensor) error { n.t = t; return nil }
func (n *node) GetTensor() tensor.Tensor        { return n.t }

func (b *backend) NewNode() graph.Node {
	return &node{id: b.WeightedDirectedGraph.NewNode().ID()}
}

func (b *backend) ApplyOperation(op onnxgo.Operation, _ ...graph.Node) error {
	b.ops = append(b.ops, op.Name)
	return nil
}

func read(path string) (r result) {
	r.File = path
	defer func() {
		if p := recover(); p != nil {
			r.Error = fmt.Sprintf("onnx-go panicked: %v", p)
		}
	}()
	data, err := os.ReadFile(path)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	b := &backend{WeightedDirectedGraph: simple.NewWeightedDirectedGraph(0, -1)}
	m := onnxgo.NewModel(b)
	if err := m.UnmarshalBinary(data); err != nil {
		r.Error = err.Error()
		return r
	}
	r.Ops, r.Inputs, r.Outputs = b.ops, len(m.Input), len(m.Output)
	r.Initializers = map[string][]int{}
	nodes := b.Nodes()
	for nodes.Next() {
		n := nodes.Node().(*node)
		if n.t != nil && n.t.Shape() != nil && m.Input != nil {
			r.Initializers[n.name] = append([]int{}, n.t.Shape()...)
		}
	}
	return r
}

func main() {
	var out []result
	for _, p := range os.Args[1:] {
		out = append(out, read(p))
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
