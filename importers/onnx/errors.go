package onnx

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// FormatError means the file is not a readable ONNX model.
type FormatError struct {
	File string
	Err  error
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("onnx %s: not a readable ONNX model: %v (check that the file is complete and is an .onnx model)", e.File, e.Err)
}
func (e *FormatError) Unwrap() error { return e.Err }

// UnsupportedOp is one operator type the importer cannot map, with the nodes
// that use it.
type UnsupportedOp struct {
	OpType string
	Nodes  []string
	// Since is the first opset the importer converts this op at, when the
	// model's opset is older; 0 when no opset is supported.
	Since int
}

// UnsupportedOpsError lists every unsupported operator type in a model.
type UnsupportedOpsError struct {
	File  string
	Opset int // the model's default-domain opset
	Ops   []UnsupportedOp
}

func (e *UnsupportedOpsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "onnx %s: %d unsupported operator type(s); re-export the model without them or replace them:", e.File, len(e.Ops))
	for _, op := range e.Ops {
		names := op.Nodes
		more := ""
		if len(names) > 8 {
			names, more = names[:8], fmt.Sprintf(", ... (%d more)", len(op.Nodes)-8)
		}
		// quoted: names come from the file and may hold any bytes
		quoted := make([]string, len(names))
		for i, n := range names {
			quoted[i] = strconv.Quote(n)
		}
		fmt.Fprintf(&b, "\n  - %q x%d: %s%s", op.OpType, len(op.Nodes), strings.Join(quoted, ", "), more)
		if op.Since > 0 {
			fmt.Fprintf(&b, " (converted from opset %d; the model imports opset %d)", op.Since, e.Opset)
		}
	}
	return b.String()
}

func newUnsupported(file string, m map[string][]string) *UnsupportedOpsError {
	e := &UnsupportedOpsError{File: file}
	for op, nodes := range m {
		e.Ops = append(e.Ops, UnsupportedOp{OpType: op, Nodes: nodes})
	}
	sort.Slice(e.Ops, func(i, j int) bool { return e.Ops[i].OpType < e.Ops[j].OpType })
	return e
}

// NodeError is a problem converting one node.
type NodeError struct {
	File   string
	Node   string
	OpType string
	Err    error
}

func (e *NodeError) Error() string {
	return fmt.Sprintf("onnx %s: node %q (op %q): %v", e.File, e.Node, e.OpType, e.Err)
}
func (e *NodeError) Unwrap() error { return e.Err }

// ImportError collects every node problem of one import.
type ImportError struct {
	File     string
	Problems []error
}

func (e *ImportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "onnx %s: %d problem(s):", e.File, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.Error())
	}
	return b.String()
}
func (e *ImportError) Unwrap() []error { return e.Problems }

// ExternalDataError is a bad external-data reference of an initializer.
type ExternalDataError struct {
	File   string
	Tensor string
	Err    error
}

func (e *ExternalDataError) Error() string {
	return fmt.Sprintf("onnx %s: tensor %q: external data: %v", e.File, e.Tensor, e.Err)
}
func (e *ExternalDataError) Unwrap() error { return e.Err }

// BatchAxisError is an operation acting on the batch axis, which the IR
// keeps implicit.
type BatchAxisError struct{ What string }

func (e *BatchAxisError) Error() string {
	return fmt.Sprintf("%s acts on the batch axis (axis 0); retarget graphs keep the batch implicit, so the model cannot be imported as is", e.What)
}

// BatchFreeError is a value without a batch axis (an input whose first
// axis is not the batch, or a product contracting the batch away) reaching
// an op that only has a per-example (layer) form.
type BatchFreeError struct {
	Value string
	Shape []int
}

func (e *BatchFreeError) Error() string {
	return fmt.Sprintf("input %q (shape %v) has no batch axis; this op is only imported for per-example values", e.Value, e.Shape)
}
