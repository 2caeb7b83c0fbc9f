package ir

import "fmt"

// The general tensor ops (see TensorOp): shapes are full, the batch is
// Batch wherever it is.

// BroadcastFull is the NumPy broadcast of two full shapes. Batch matches
// Batch or 1; an unknown size (-1) takes the other size.
func BroadcastFull(a, b []int) ([]int, error) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := 0; i < n; i++ {
		x, y := 1, 1
		if j := len(a) - n + i; j >= 0 {
			x = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			y = b[j]
		}
		switch {
		case x == y, y == 1, y == -1 && x != 1:
			out[i] = x
		case x == 1, x == -1:
			out[i] = y
		default:
			return nil, fmt.Errorf("shapes %s and %s do not broadcast", FormatShape(a), FormatShape(b))
		}
	}
	return out, nil
}

// TensorMatMul is ONNX MatMul (NumPy matmul) of two computed tensors:
// [..., M, K] × [..., K, N] → [..., M, N], leading axes broadcast; a 1-D
// operand is a row (first) or a column (second) vector whose axis is
// dropped from the result.
type TensorMatMul struct{}

func (*TensorMatMul) Kind() string { return "TensorMatMul" }
func (*TensorMatMul) FullShapes()  {}
func (*TensorMatMul) OutputShape(in [][]int) ([]int, error) {
	if err := need(in, 2, "TensorMatMul"); err != nil {
		return nil, err
	}
	a, b := in[0], in[1]
	if len(a) == 0 || len(b) == 0 {
		return nil, fmt.Errorf("TensorMatMul of a scalar")
	}
	if len(a) == 1 {
		a = []int{1, a[0]}
	}
	if len(b) == 1 {
		b = []int{b[0], 1}
	}
	k1, k2 := a[len(a)-1], b[len(b)-2]
	if k1 != k2 && k1 != -1 && k2 != -1 {
		return nil, fmt.Errorf("TensorMatMul of %s and %s: inner sizes differ", FormatShape(in[0]), FormatShape(in[1]))
	}
	lead, err := BroadcastFull(a[:len(a)-2], b[:len(b)-2])
	if err != nil {
		return nil, fmt.Errorf("TensorMatMul: %w", err)
	}
	out := lead
	if len(in[0]) > 1 {
		out = append(out, a[len(a)-2])
	}
	if len(in[1]) > 1 {
		out = append(out, b[len(b)-1])
	}
	return out, nil
}
func (*TensorMatMul) Params([][]int) []ParamSpec { return nil }

// TensorTranspose permutes axes: output axis i is input axis Perm[i].
type TensorTranspose struct {
	Perm []int `json:"perm"`
}

func (*TensorTranspose) Kind() string { return "TensorTranspose" }
func (*TensorTranspose) FullShapes()  {}
func (t *TensorTranspose) OutputShape(in [][]int) ([]int, error) {
	if err := need(in, 1, "TensorTranspose"); err != nil {
		return nil, err
	}
	return (&Permute{Perm: t.Perm}).OutputShape(in)
}
func (*TensorTranspose) Params([][]int) []ParamSpec { return nil }

func init() {
	Register("TensorMatMul", func() Layer { return &TensorMatMul{} })
	Register("TensorTranspose", func() Layer { return &TensorTranspose{} })
}
