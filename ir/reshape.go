package ir

import "fmt"

// Flatten turns [d1, d2, ...] into [d1*d2*...] in row-major order.
type Flatten struct{}

func (*Flatten) Kind() string { return "Flatten" }
func (*Flatten) OutputShape(in [][]int) ([]int, error) {
	if err := need(in, 1, "Flatten"); err != nil {
		return nil, err
	}
	n := NumElements(in[0])
	for _, d := range in[0] {
		if d < 0 {
			return nil, fmt.Errorf("Flatten needs a known shape, got %v", in[0])
		}
	}
	return []int{n}, nil
}
func (*Flatten) Params([][]int) []ParamSpec { return nil }

// Reshape changes the shape (without batch) keeping row-major order; one
// dimension may be -1 and is inferred.
type Reshape struct {
	Shape []int `json:"shape"`
}

func (*Reshape) Kind() string { return "Reshape" }
func (r *Reshape) OutputShape(in [][]int) ([]int, error) {
	if err := need(in, 1, "Reshape"); err != nil {
		return nil, err
	}
	n := NumElements(in[0])
	known, infer := 1, -1
	out := append([]int(nil), r.Shape...)
	for i, d := range out {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d <= 0:
			return nil, fmt.Errorf("Reshape target %v has a bad dimension", r.Shape)
		default:
			known *= d
		}
	}
	for _, d := range in[0] {
		if d < 0 {
			if infer >= 0 {
				out[infer] = -1
				return out, nil
			}
			return out, nil
		}
	}
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			return nil, fmt.Errorf("Reshape %v to %v: sizes do not divide", in[0], r.Shape)
		}
		out[infer] = n / known
	} else if known != n {
		return nil, fmt.Errorf("Reshape %v (%d values) to %v (%d values)", in[0], n, r.Shape, known)
	}
	return out, nil
}
func (*Reshape) Params([][]int) []ParamSpec { return nil }

// Permute reorders axes (without batch): output axis i is input axis Perm[i].
type Permute struct {
	Perm []int `json:"perm"`
}

func (*Permute) Kind() string { return "Permute" }
func (p *Permute) OutputShape(in [][]int) ([]int, error) {
	if err := need(in, 1, "Permute"); err != nil {
		return nil, err
	}
	if len(p.Perm) != len(in[0]) {
		return nil, fmt.Errorf("Permute %v on rank %d", p.Perm, len(in[0]))
	}
	seen := make([]bool, len(p.Perm))
	out := make([]int, len(p.Perm))
	for i, a := range p.Perm {
		if a < 0 || a >= len(p.Perm) || seen[a] {
			return nil, fmt.Errorf("Permute %v is not a permutation", p.Perm)
		}
		seen[a] = true
		out[i] = in[0][a]
	}
	return out, nil
}
func (*Permute) Params([][]int) []ParamSpec { return nil }

// PadMode is how Pad fills.
type PadMode string

const (
	PadConstant PadMode = "constant"
	PadReflect  PadMode = "reflect"
	PadEdge     PadMode = "edge"
)

// Pad pads the trailing Rank axes (spatial axes of [C, ...]); Pads holds
// begin values for each padded axis, then end values (ZeroPadding1D/2D is
// Mode constant with Value 0).
type Pad struct {
	Rank  int     `json:"rank"`
	Mode  PadMode `json:"mode"`
	Pads  []int   `json:"pads"`
	Value float32 `json:"value,omitempty"`
}

func (*Pad) Kind() string { return "Pad" }
func (p *Pad) OutputShape(in [][]int) ([]int, error) {
	if err := need(in, 1, "Pad"); err != nil {
		return nil, err
	}
	return adjustTrailing("Pad", in[0], p.Rank, p.Pads, 1)
}
func (*Pad) Params([][]int) []ParamSpec { return nil }

// Cropping removes Crops (begins then ends) from the trailing Rank axes.
type Cropping struct {
	Rank  int   `json:"rank"`
	Crops []int `json:"crops"`
}

func (*Cropping) Kind() string { return "Cropping" }
func (c *Cropping) OutputShape(in [][]int) ([]int, error) {
	if err := need(in, 1, "Cropping"); err != nil {
		return nil, err
	}
	return adjustTrailing("Cropping", in[0], c.Rank, c.Crops, -1)
}
func (*Cropping) Params([][]int) []ParamSpec { return nil }

func adjustTrailing(kind string, in []int, rank int, amounts []int, sign int) ([]int, error) {
	if rank <= 0 || rank > len(in) || len(amounts) != 2*rank {
		return nil, fmt.Errorf("%s of %d axes with %v on shape %v", kind, rank, amounts, in)
	}
	out := append([]int(nil), in...)
	off := len(in) - rank
	for i := 0; i < rank; i++ {
		if amounts[i] < 0 || amounts[i+rank] < 0 {
			return nil, fmt.Errorf("%s amounts must not be negative: %v", kind, amounts)
		}
		if out[off+i] < 0 {
			continue
		}
		out[off+i] += sign * (amounts[i] + amounts[i+rank])
		if out[off+i] <= 0 {
			return nil, fmt.Errorf("%s %v leaves nothing of shape %v", kind, amounts, in)
		}
	}
	return out, nil
}

// UpSampling repeats (nearest) or interpolates (linear, align_corners=false
// / half-pixel) the trailing Rank axes by integer Size factors.
type UpSampling struct {
	Rank int    `json:"rank"`
	Size []int  `json:"size"`
	Mode string `json:"mode"` // "nearest" or "linear"
}

func (*UpSampling) Kind() string { return "UpSampling" }
func (u *UpSampling) OutputShape(in [][]int) ([]int, error) {
	if err := need(in, 1, "UpSampling"); err != nil {
		return nil, err
	}
	if u.Rank <= 0 || u.Rank > len(in[0]) || len(u.Size) != u.Rank {
		return nil, fmt.Errorf("UpSampling rank %d size %v on %v", u.Rank, u.Size, in[0])
	}
	if u.Mode != "nearest" && u.Mode != "linear" {
		return nil, fmt.Errorf("UpSampling mode %q", u.Mode)
	}
	out := append([]int(nil), in[0]...)
	off := len(out) - u.Rank
	for i, s := range u.Size {
		if s <= 0 {
			return nil, fmt.Errorf("UpSampling size %v", u.Size)
		}
		if out[off+i] > 0 {
			out[off+i] *= s
		}
	}
	return out, nil
}
func (*UpSampling) Params([][]int) []ParamSpec { return nil }

// RepeatVector turns [F] into [N, F].
type RepeatVector struct {
	N int `json:"n"`
}

func (*RepeatVector) Kind() string { return "RepeatVector" }
func (r *RepeatVector) OutputShape(in [][]int) ([]int, error) {
	if err := needOne(in, 1, "RepeatVector"); err != nil {
		return nil, err
	}
	if r.N <= 0 {
		return nil, fmt.Errorf("RepeatVector n %d", r.N)
	}
	return []int{r.N, in[0][0]}, nil
}
func (*RepeatVector) Params([][]int) []ParamSpec { return nil }

// Slice takes [Start, End) with Step along each of Axes (without batch).
// End is clamped to the axis size; negative Start/End count from the end.
type Slice struct {
	Axes   []int `json:"axes"`
	Starts []int `json:"starts"`
	Ends   []int `json:"ends"`
	Steps  []int `json:"steps,omitempty"`
}

func (*Slice) Kind() string { return "Slice" }

// Range resolves start, end and step of the i-th sliced axis of size n.
func (s *Slice) Range(i, n int) (start, end, step int) {
	step = at(s.Steps, i, 1)
	if i < len(s.Steps) && s.Steps[i] < 0 {
		step = s.Steps[i]
	}
	start, end = s.Starts[i], s.Ends[i]
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	if step > 0 {
		start = min(max(start, 0), n)
		end = min(max(end, 0), n)
	} else {
		start = min(max(start, -1), n-1)
		end = min(max(end, -1), n-1)
	}
	return
}

func (s *Slice) OutputShape(in [][]int) ([]int, error) {
	if err := need(in, 1, "Slice"); err != nil {
		return nil, err
	}
	if len(s.Starts) != len(s.Axes) || len(s.Ends) != len(s.Axes) {
		return nil, fmt.Errorf("Slice needs as many starts and ends as axes")
	}
	out := append([]int(nil), in[0]...)
	for i, a := range s.Axes {
		if a < 0 {
			a += len(out)
		}
		if a < 0 || a >= len(out) {
			return nil, fmt.Errorf("Slice axis %d out of range for %v", s.Axes[i], in[0])
		}
		if out[a] < 0 {
			continue
		}
		st, en, step := s.Range(i, in[0][a])
		if step == 0 {
			return nil, fmt.Errorf("Slice step 0")
		}
		n := 0
		if step > 0 && en > st {
			n = (en - st + step - 1) / step
		} else if step < 0 && st > en {
			n = (st - en - step - 1) / -step
		}
		if n <= 0 {
			return nil, fmt.Errorf("Slice leaves axis %d empty", s.Axes[i])
		}
		out[a] = n
	}
	return out, nil
}
func (*Slice) Params([][]int) []ParamSpec { return nil }

// DepthToSpace / SpaceToDepth rearrange [C, H, W] blocks (ONNX semantics;
// Mode "DCR" or "CRD" for DepthToSpace).
type DepthToSpace struct {
	Block int    `json:"block"`
	Mode  string `json:"mode"`
}

func (*DepthToSpace) Kind() string { return "DepthToSpace" }
func (d *DepthToSpace) OutputShape(in [][]int) ([]int, error) {
	if err := needOne(in, 3, "DepthToSpace"); err != nil {
		return nil, err
	}
	b := d.Block
	if b <= 0 || in[0][0]%(b*b) != 0 {
		return nil, fmt.Errorf("DepthToSpace block %d on %v", b, in[0])
	}
	return []int{in[0][0] / (b * b), in[0][1] * b, in[0][2] * b}, nil
}
func (*DepthToSpace) Params([][]int) []ParamSpec { return nil }

// SpaceToDepth is the inverse of DepthToSpace in DCR mode.
type SpaceToDepth struct {
	Block int `json:"block"`
}

func (*SpaceToDepth) Kind() string { return "SpaceToDepth" }
func (d *SpaceToDepth) OutputShape(in [][]int) ([]int, error) {
	if err := needOne(in, 3, "SpaceToDepth"); err != nil {
		return nil, err
	}
	b := d.Block
	if b <= 0 || in[0][1]%b != 0 || in[0][2]%b != 0 {
		return nil, fmt.Errorf("SpaceToDepth block %d on %v", b, in[0])
	}
	return []int{in[0][0] * b * b, in[0][1] / b, in[0][2] / b}, nil
}
func (*SpaceToDepth) Params([][]int) []ParamSpec { return nil }

// Reduce reduces Axes (without batch) with mean, sum or max.
type Reduce struct {
	Op       string `json:"op"` // "mean", "sum", "max"
	Axes     []int  `json:"axes"`
	KeepDims bool   `json:"keep_dims,omitempty"`
}

func (*Reduce) Kind() string { return "Reduce" }
func (r *Reduce) OutputShape(in [][]int) ([]int, error) {
	if err := need(in, 1, "Reduce"); err != nil {
		return nil, err
	}
	if r.Op != "mean" && r.Op != "sum" && r.Op != "max" {
		return nil, fmt.Errorf("Reduce op %q", r.Op)
	}
	red := make([]bool, len(in[0]))
	for _, a := range r.Axes {
		if a < 0 {
			a += len(in[0])
		}
		if a < 0 || a >= len(in[0]) {
			return nil, fmt.Errorf("Reduce axis out of range for %v", in[0])
		}
		red[a] = true
	}
	var out []int
	for i, d := range in[0] {
		switch {
		case !red[i]:
			out = append(out, d)
		case r.KeepDims:
			out = append(out, 1)
		}
	}
	return out, nil
}
func (*Reduce) Params([][]int) []ParamSpec { return nil }

func init() {
	Register("Flatten", func() Layer { return &Flatten{} })
	Register("Reshape", func() Layer { return &Reshape{} })
	Register("Permute", func() Layer { return &Permute{} })
	Register("Pad", func() Layer { return &Pad{Mode: PadConstant} })
	Register("Cropping", func() Layer { return &Cropping{} })
	Register("UpSampling", func() Layer { return &UpSampling{Mode: "nearest"} })
	Register("RepeatVector", func() Layer { return &RepeatVector{} })
	Register("Slice", func() Layer { return &Slice{} })
	Register("DepthToSpace", func() Layer { return &DepthToSpace{Mode: "DCR"} })
	Register("SpaceToDepth", func() Layer { return &SpaceToDepth{} })
	Register("Reduce", func() Layer { return &Reduce{} })
}

// Tile repeats the tensor Repeats[k] times along axis k (axes without the
// batch, which is never repeated): ONNX Tile, torch's Tensor.repeat.
type Tile struct {
	Repeats []int `json:"repeats"`
}

func (*Tile) Kind() string { return "Tile" }

func (l *Tile) OutputShape(in [][]int) ([]int, error) {
	if err := need(in, 1, "Tile"); err != nil {
		return nil, err
	}
	if len(l.Repeats) != len(in[0]) {
		return nil, fmt.Errorf("Tile has %d repeats for an input of rank %d (without batch) %v", len(l.Repeats), len(in[0]), in[0])
	}
	out := make([]int, len(in[0]))
	for k, d := range in[0] {
		r := l.Repeats[k]
		if r < 1 || d <= 0 && r != 1 || d > 0 && r > (1<<31)/d {
			return nil, fmt.Errorf("Tile repeats %v do not fit input %v", l.Repeats, in[0])
		}
		out[k] = d * r
		if d < 0 {
			out[k] = -1
		}
	}
	return out, nil
}

func (*Tile) Params([][]int) []ParamSpec { return nil }

func init() { Register("Tile", func() Layer { return &Tile{} }) }
