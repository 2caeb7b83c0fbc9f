package ir

import "fmt"

// Conv is a 1-D (Rank 1, input [C, W]), 2-D (Rank 2, input [C, H, W]) or
// 3-D (Rank 3, input [C, D, H, W]) convolution. Kernel W has shape [Filters, C/Groups, k...] (ONNX/PyTorch
// OIHW); b [Filters]. Depthwise convolution is Groups == C.
type Conv struct {
	Rank       int        `json:"rank"`
	Filters    int        `json:"filters"`
	Kernel     []int      `json:"kernel"`
	Strides    []int      `json:"strides,omitempty"`
	Dilations  []int      `json:"dilations,omitempty"`
	Groups     int        `json:"groups,omitempty"`
	Padding    Padding    `json:"padding"`
	Pads       []int      `json:"pads,omitempty"` // explicit: begins then ends
	NoBias     bool       `json:"no_bias,omitempty"`
	Activation Activation `json:"activation"`
}

func (c *Conv) Kind() string {
	switch c.Rank {
	case 1:
		return "Conv1D"
	case 3:
		return "Conv3D"
	}
	return "Conv2D"
}
func (c *Conv) OutUnits() int     { return c.Filters }
func (c *Conv) SetOutUnits(n int) { c.Filters = n }

// GroupCount is Groups with 0 read as 1.
func (c *Conv) GroupCount() int { return positiveOr(c.Groups, 1) }

func (c *Conv) OutputShape(in [][]int) ([]int, error) {
	kind := c.Kind()
	if c.Rank < 1 || c.Rank > 3 {
		return nil, fmt.Errorf("convolution rank %d; 1, 2 or 3 supported", c.Rank)
	}
	if err := needOne(in, c.Rank+1, kind); err != nil {
		return nil, err
	}
	if c.Filters <= 0 {
		return nil, fmt.Errorf("%s filters must be positive", kind)
	}
	g := c.GroupCount()
	if in[0][0]%g != 0 || c.Filters%g != 0 {
		return nil, fmt.Errorf("%s: %d input and %d output channels are not divisible by %d groups", kind, in[0][0], c.Filters, g)
	}
	sp, err := SpatialOut(kind, in[0][1:], c.Kernel, c.Strides, c.Dilations, c.Padding, c.Pads, false)
	if err != nil {
		return nil, err
	}
	if err := c.Activation.validate(); err != nil {
		return nil, err
	}
	return append([]int{c.Filters}, sp...), nil
}

func (c *Conv) Params(in [][]int) []ParamSpec {
	if len(in) != 1 || len(in[0]) != c.Rank+1 {
		return nil
	}
	cin := in[0][0] / c.GroupCount()
	rf := NumElements(c.Kernel)
	shape := append([]int{c.Filters, cin}, c.Kernel...)
	ps := []ParamSpec{spec("W", RoleWeight, cin*rf, c.Filters/c.GroupCount()*rf, shape...)}
	if !c.NoBias {
		ps = append(ps, spec("b", RoleBias, cin*rf, c.Filters*rf, c.Filters))
	}
	return ps
}

// ConvTranspose2D is a transposed 2-D convolution (input [C, H, W]), or 1-D
// or 3-D with Rank 1 or 3 (kinds ConvTranspose1D, ConvTranspose3D; input
// [C, W], [C, D, H, W]); W [C,
// Filters/Groups, k...] (ONNX layout), b [Filters]. Padding
// valid/same/explicit as ONNX.
type ConvTranspose2D struct {
	Rank          int        `json:"rank,omitempty"` // 0 reads as 2
	Filters       int        `json:"filters"`
	Kernel        []int      `json:"kernel"`
	Strides       []int      `json:"strides,omitempty"`
	Dilations     []int      `json:"dilations,omitempty"`
	Groups        int        `json:"groups,omitempty"`
	Padding       Padding    `json:"padding"`
	Pads          []int      `json:"pads,omitempty"`
	OutputPadding []int      `json:"output_padding,omitempty"`
	NoBias        bool       `json:"no_bias,omitempty"`
	Activation    Activation `json:"activation"`
}

func (c *ConvTranspose2D) Kind() string {
	switch c.Rank {
	case 1:
		return "ConvTranspose1D"
	case 3:
		return "ConvTranspose3D"
	}
	return "ConvTranspose2D"
}

// SpatialRank is Rank with 0 read as 2.
func (c *ConvTranspose2D) SpatialRank() int  { return positiveOr(c.Rank, 2) }
func (c *ConvTranspose2D) OutUnits() int     { return c.Filters }
func (c *ConvTranspose2D) SetOutUnits(n int) { c.Filters = n }

// GroupCount is Groups with 0 read as 1.
func (c *ConvTranspose2D) GroupCount() int { return positiveOr(c.Groups, 1) }

// TransposePads returns begin/end pads for each spatial axis.
func (c *ConvTranspose2D) TransposePads(in []int) (begin, end []int) {
	r := c.SpatialRank()
	begin, end = make([]int, r), make([]int, r)
	for i := 0; i < r; i++ {
		k, s, d := at(c.Kernel, i, 1), at(c.Strides, i, 1), at(c.Dilations, i, 1)
		op := at(c.OutputPadding, i, 0)
		switch c.Padding {
		case PadExplicit:
			begin[i], end[i] = at(c.Pads, i, 0), at(c.Pads, i+r, 0)
		case PadSame, PadSameLow:
			total := s*(in[i]-1) + op + (k-1)*d + 1 - in[i]*s
			if total < 0 {
				total = 0
			}
			if c.Padding == PadSame {
				begin[i], end[i] = total/2, total-total/2
			} else {
				begin[i], end[i] = total-total/2, total/2
			}
		}
	}
	return
}

func (c *ConvTranspose2D) OutputShape(in [][]int) ([]int, error) {
	r, kind := c.SpatialRank(), c.Kind()
	if r < 1 || r > 3 {
		return nil, fmt.Errorf("%s rank %d; 1, 2 or 3 supported", kind, r)
	}
	if err := needOne(in, r+1, kind); err != nil {
		return nil, err
	}
	if len(c.Kernel) != r || c.Filters <= 0 {
		return nil, fmt.Errorf("%s needs a %d-D kernel and positive filters", kind, r)
	}
	g := c.GroupCount()
	if in[0][0]%g != 0 || c.Filters%g != 0 {
		return nil, fmt.Errorf("%s: %d input and %d output channels are not divisible by %d groups", kind, in[0][0], c.Filters, g)
	}
	b, e := c.TransposePads(in[0][1:])
	out := make([]int, r+1)
	out[0] = c.Filters
	for i := 0; i < r; i++ {
		k, s, d := c.Kernel[i], at(c.Strides, i, 1), at(c.Dilations, i, 1)
		out[i+1] = s*(in[0][i+1]-1) + at(c.OutputPadding, i, 0) + (k-1)*d + 1 - b[i] - e[i]
		if out[i+1] <= 0 {
			return nil, fmt.Errorf("%s output size %d on axis %d", kind, out[i+1], i)
		}
	}
	return out, nil
}

func (c *ConvTranspose2D) Params(in [][]int) []ParamSpec {
	if len(in) != 1 || len(in[0]) != c.SpatialRank()+1 {
		return nil
	}
	rf := NumElements(c.Kernel)
	g := c.GroupCount()
	shape := append([]int{in[0][0], c.Filters / g}, c.Kernel...)
	ps := []ParamSpec{spec("W", RoleWeight, in[0][0]/g*rf, c.Filters*rf, shape...)}
	if !c.NoBias {
		ps = append(ps, spec("b", RoleBias, 0, 0, c.Filters))
	}
	return ps
}

// SeparableConv2D is a depthwise convolution (DW [C*DepthMultiplier, 1, kh, kw])
// followed by a pointwise one (PW [Filters, C*DepthMultiplier, 1, 1]), b [Filters].
type SeparableConv2D struct {
	Filters         int        `json:"filters"`
	Kernel          []int      `json:"kernel"`
	Strides         []int      `json:"strides,omitempty"`
	Dilations       []int      `json:"dilations,omitempty"`
	DepthMultiplier int        `json:"depth_multiplier"`
	Padding         Padding    `json:"padding"`
	Pads            []int      `json:"pads,omitempty"`
	NoBias          bool       `json:"no_bias,omitempty"`
	Activation      Activation `json:"activation"`
}

func (*SeparableConv2D) Kind() string        { return "SeparableConv2D" }
func (c *SeparableConv2D) OutUnits() int     { return c.Filters }
func (c *SeparableConv2D) SetOutUnits(n int) { c.Filters = n }

func (c *SeparableConv2D) mult() int { return positiveOr(c.DepthMultiplier, 1) }

func (c *SeparableConv2D) OutputShape(in [][]int) ([]int, error) {
	if err := needOne(in, 3, "SeparableConv2D"); err != nil {
		return nil, err
	}
	sp, err := SpatialOut("SeparableConv2D", in[0][1:], c.Kernel, c.Strides, c.Dilations, c.Padding, c.Pads, false)
	if err != nil {
		return nil, err
	}
	return append([]int{c.Filters}, sp...), nil
}

func (c *SeparableConv2D) Params(in [][]int) []ParamSpec {
	if len(in) != 1 || len(in[0]) != 3 || len(c.Kernel) != 2 {
		return nil
	}
	ch, m := in[0][0], c.mult()
	rf := NumElements(c.Kernel)
	ps := []ParamSpec{
		spec("DW", RoleWeight, rf, m*rf, ch*m, 1, c.Kernel[0], c.Kernel[1]),
		spec("PW", RoleWeight, ch*m, c.Filters, c.Filters, ch*m, 1, 1),
	}
	if !c.NoBias {
		ps = append(ps, spec("b", RoleBias, 0, 0, c.Filters))
	}
	return ps
}

// at returns xs[i], or def when it is missing or not positive.
func at(xs []int, i, def int) int {
	if i < len(xs) {
		return positiveOr(xs[i], def)
	}
	return def
}

// positiveOr returns v, or def when v is not positive.
func positiveOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// ResolvePads returns the begin and end padding of each spatial axis for a
// kernel sliding over in (used by convolution and pooling).
func ResolvePads(in, kernel, strides, dilations []int, p Padding, pads []int) (begin, end []int) {
	n := len(in)
	begin, end = make([]int, n), make([]int, n)
	for i := 0; i < n; i++ {
		k, s, d := at(kernel, i, 1), at(strides, i, 1), at(dilations, i, 1)
		ek := (k-1)*d + 1
		switch p {
		case PadExplicit:
			if len(pads) == 2*n {
				begin[i], end[i] = pads[i], pads[i+n]
			}
		case PadSame, PadSameLow:
			if in[i] < 0 {
				continue
			}
			out := (in[i] + s - 1) / s
			total := (out-1)*s + ek - in[i]
			if total < 0 {
				total = 0
			}
			if p == PadSame {
				begin[i], end[i] = total/2, total-total/2
			} else {
				begin[i], end[i] = total-total/2, total/2
			}
		case PadCausal:
			begin[i] = ek - 1
		}
	}
	return
}

// SpatialOut computes the output spatial sizes of a sliding-window layer.
func SpatialOut(kind string, in, kernel, strides, dilations []int, p Padding, pads []int, ceil bool) ([]int, error) {
	n := len(in)
	if len(kernel) != n {
		return nil, fmt.Errorf("%s: kernel %v does not match %d spatial axes", kind, kernel, n)
	}
	switch p {
	case PadValid, PadSame, PadSameLow, PadCausal:
	case PadExplicit:
		if len(pads) != 2*n {
			return nil, fmt.Errorf("%s: explicit padding needs %d values, got %v", kind, 2*n, pads)
		}
	case "":
		p = PadValid
	default:
		return nil, fmt.Errorf("%s: unknown padding %q", kind, p)
	}
	if p == PadCausal && n != 1 {
		return nil, fmt.Errorf("%s: causal padding is 1-D only", kind)
	}
	b, e := ResolvePads(in, kernel, strides, dilations, p, pads)
	out := make([]int, n)
	for i := 0; i < n; i++ {
		k, s, d := kernel[i], at(strides, i, 1), at(dilations, i, 1)
		if k <= 0 {
			return nil, fmt.Errorf("%s: kernel size %d", kind, k)
		}
		if in[i] < 0 {
			out[i] = -1
			continue
		}
		ek := (k-1)*d + 1
		span := in[i] + b[i] + e[i] - ek
		if span < 0 {
			return nil, fmt.Errorf("%s: kernel %d (dilated %d) larger than padded input %d on spatial axis %d", kind, k, ek, in[i]+b[i]+e[i], i)
		}
		if ceil {
			out[i] = (span+s-1)/s + 1
			// the last window must start inside the input or left padding
			if (out[i]-1)*s >= in[i]+b[i] {
				out[i]--
			}
		} else {
			out[i] = span/s + 1
		}
	}
	return out, nil
}

func init() {
	Register("Conv1D", func() Layer { return &Conv{Rank: 1} })
	Register("Conv2D", func() Layer { return &Conv{Rank: 2} })
	Register("Conv3D", func() Layer { return &Conv{Rank: 3} })
	Register("ConvTranspose1D", func() Layer { return &ConvTranspose2D{Rank: 1} })
	Register("ConvTranspose2D", func() Layer { return &ConvTranspose2D{} })
	Register("ConvTranspose3D", func() Layer { return &ConvTranspose2D{Rank: 3} })
	Register("SeparableConv2D", func() Layer { return &SeparableConv2D{} })
}
