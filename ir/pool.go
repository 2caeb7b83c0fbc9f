package ir

import "fmt"

// PoolOp is max or average.
type PoolOp string

const (
	PoolMax PoolOp = "max"
	PoolAvg PoolOp = "avg"
)

// Pool is 1-D ([C, W]), 2-D ([C, H, W]) or 3-D ([C, D, H, W]) max/average
// pooling. CountIncludePad: padded zeros count in the average (ONNX
// count_include_pad; Keras and TF exclude them). Dilations (max pooling
// only, ONNX MaxPool dilations) space the window's taps.
type Pool struct {
	Rank            int     `json:"rank"`
	Op              PoolOp  `json:"op"`
	Kernel          []int   `json:"kernel"`
	Strides         []int   `json:"strides,omitempty"` // default: the kernel
	Padding         Padding `json:"padding"`
	Pads            []int   `json:"pads,omitempty"`
	Dilations       []int   `json:"dilations,omitempty"`
	CeilMode        bool    `json:"ceil_mode,omitempty"`
	CountIncludePad bool    `json:"count_include_pad,omitempty"`
}

func (p *Pool) Kind() string {
	s := "MaxPool"
	if p.Op == PoolAvg {
		s = "AvgPool"
	}
	return fmt.Sprintf("%s%dD", s, p.Rank)
}

// Stride returns the effective strides (the kernel when unset).
func (p *Pool) Stride() []int {
	if len(p.Strides) == len(p.Kernel) {
		return p.Strides
	}
	return p.Kernel
}

func (p *Pool) OutputShape(in [][]int) ([]int, error) {
	if p.Rank < 1 || p.Rank > 3 {
		return nil, fmt.Errorf("pooling rank %d; 1, 2 or 3 supported", p.Rank)
	}
	if err := needOne(in, p.Rank+1, p.Kind()); err != nil {
		return nil, err
	}
	if p.Op != PoolMax && p.Op != PoolAvg {
		return nil, fmt.Errorf("pool op %q", p.Op)
	}
	if p.Dilated() && p.Op != PoolMax {
		return nil, fmt.Errorf("%s: dilations %v; only max pooling can be dilated", p.Kind(), p.Dilations)
	}
	sp, err := SpatialOut(p.Kind(), in[0][1:], p.Kernel, p.Stride(), p.Dilations, p.Padding, p.Pads, p.CeilMode)
	if err != nil {
		return nil, err
	}
	return append([]int{in[0][0]}, sp...), nil
}

// Dilated reports whether a dilation above 1 is set.
func (p *Pool) Dilated() bool {
	for _, d := range p.Dilations {
		if d > 1 {
			return true
		}
	}
	return false
}

func (p *Pool) Params([][]int) []ParamSpec { return nil }

// GlobalPool pools every spatial position: [C, ...] -> [C] (or [C, 1, ...]
// with KeepDims). Rank is the number of spatial axes.
type GlobalPool struct {
	Rank     int    `json:"rank"`
	Op       PoolOp `json:"op"`
	KeepDims bool   `json:"keep_dims,omitempty"`
}

func (p *GlobalPool) Kind() string {
	s := "GlobalMaxPool"
	if p.Op == PoolAvg {
		s = "GlobalAvgPool"
	}
	return fmt.Sprintf("%s%dD", s, p.Rank)
}

func (p *GlobalPool) OutputShape(in [][]int) ([]int, error) {
	if err := needOne(in, p.Rank+1, p.Kind()); err != nil {
		return nil, err
	}
	if !p.KeepDims {
		return []int{in[0][0]}, nil
	}
	out := []int{in[0][0]}
	for i := 0; i < p.Rank; i++ {
		out = append(out, 1)
	}
	return out, nil
}

func (p *GlobalPool) Params([][]int) []ParamSpec { return nil }

func init() {
	for _, op := range []PoolOp{PoolMax, PoolAvg} {
		for _, r := range []int{1, 2, 3} {
			op, r := op, r
			Register((&Pool{Rank: r, Op: op}).Kind(), func() Layer { return &Pool{Rank: r, Op: op} })
			Register((&GlobalPool{Rank: r, Op: op}).Kind(), func() Layer { return &GlobalPool{Rank: r, Op: op} })
		}
	}
}
