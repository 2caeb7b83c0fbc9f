package onnx

import "github.com/retarget-dev/retarget/ir"

// The general tensor ops are ONNX operators already: each writes one node
// on the full shapes it holds.

func emitTensorMatMul(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	b.op("MatMul", "", ins, out)
	return nil
}

func emitTensorTranspose(b *builder, v *ir.Vertex, ins []string, inShapes [][]int, rank int, out string) error {
	b.transpose("", ins[0], v.Layer.(*ir.TensorTranspose).Perm, out)
	return nil
}

func init() {
	register(&ir.TensorMatMul{}, emitTensorMatMul)
	register(&ir.TensorTranspose{}, emitTensorTranspose)
}
