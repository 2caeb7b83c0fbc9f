package onnx

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

func init() {
	handlers["MaxPool"] = func(c *converter, n *node) error { return c.pool(n, ir.PoolMax) }
	handlers["AveragePool"] = func(c *converter, n *node) error { return c.pool(n, ir.PoolAvg) }
	handlers["GlobalMaxPool"] = func(c *converter, n *node) error { return c.globalPool(n, ir.PoolMax) }
	handlers["GlobalAveragePool"] = func(c *converter, n *node) error { return c.globalPool(n, ir.PoolAvg) }
	handlers["Resize"] = (*converter).resize
	handlers["Upsample"] = (*converter).resize
}

func (c *converter) pool(n *node, op ir.PoolOp) error {
	if n.out(1) != "" && c.uses[n.out(1)] > 0 {
		return fmt.Errorf("the Indices output is used")
	}
	d, x, err := c.batchFirst(n, 0)
	if err != nil {
		return err
	}
	rank := len(d.shape) - 2
	if rank < 1 || rank > 3 {
		return fmt.Errorf("%d-D pooling; only 1-D, 2-D and 3-D are supported", rank)
	}
	var dil []int
	for _, dl := range n.ints("dilations") {
		if dl != 1 {
			dil = toInts(n.ints("dilations"))
		}
	}
	if dil != nil && (op != ir.PoolMax || len(dil) != rank) {
		return fmt.Errorf("dilations %v: only MaxPool can be dilated, one value per spatial axis", dil)
	}
	kernel := toInts(n.ints("kernel_shape"))
	if len(kernel) != rank {
		return fmt.Errorf("kernel_shape %v for %d spatial axes", kernel, rank)
	}
	strides := toInts(n.ints("strides"))
	if len(strides) == 0 {
		strides = make([]int, rank)
		for k := range strides {
			strides[k] = 1
		}
	}
	pad, pads, err := padding(n, rank)
	if err != nil {
		return err
	}
	l := &ir.Pool{Rank: rank, Op: op, Kernel: kernel, Strides: strides, Padding: pad, Pads: pads, Dilations: dil,
		CeilMode: n.int("ceil_mode", 0) == 1, CountIncludePad: op == ir.PoolAvg && n.int("count_include_pad", 0) == 1}
	return c.addOut(n, 0, n.label, l, []string{x}, nil)
}

func (c *converter) globalPool(n *node, op ir.PoolOp) error {
	d, x, err := c.batchFirst(n, 0)
	if err != nil {
		return err
	}
	rank := len(d.shape) - 2
	if rank < 1 || rank > 3 {
		return fmt.Errorf("%d-D global pooling; only 1-D, 2-D and 3-D are supported", rank)
	}
	return c.addOut(n, 0, n.label, &ir.GlobalPool{Rank: rank, Op: op, KeepDims: true}, []string{x}, nil)
}

// resize maps Resize/Upsample with integer scale factors on the spatial
// axes to ir.UpSampling (nearest repeat, or half-pixel linear).
func (c *converter) resize(n *node) error {
	d, x, err := c.batchFirst(n, 0)
	if err != nil {
		return err
	}
	r := len(d.shape)
	var scales []float64
	var sizes []int64
	switch {
	case n.GetOpType() == "Upsample" && n.in(1) == "":
		for _, s := range n.attr("scales").GetFloats() {
			scales = append(scales, float64(s))
		}
	case n.GetOpType() == "Upsample" || c.opset < 11:
		v, err := c.constIn(n, 1, "scales")
		if err != nil {
			return err
		}
		scales = v.floats()
	default:
		if v, err := c.optConst(n, 2, "scales"); err != nil {
			return err
		} else if v != nil && v.size() > 0 {
			scales = v.floats()
		}
		if v, err := c.optConst(n, 3, "sizes"); err != nil {
			return err
		} else if v != nil && v.size() > 0 {
			sizes = v.ints()
		}
	}
	factors := make([]int, r)
	switch {
	case len(scales) == r:
		for k, s := range scales {
			factors[k] = int(s)
			if float64(factors[k]) != s || s < 1 {
				return fmt.Errorf("scale %v is not a whole number >= 1", s)
			}
		}
	case len(sizes) == r:
		for k, s := range sizes {
			if k < 2 {
				factors[k] = 1
				continue
			}
			if d.shape[k] <= 0 || s%int64(d.shape[k]) != 0 {
				return fmt.Errorf("size %d is not a multiple of %d", s, d.shape[k])
			}
			factors[k] = int(s / int64(d.shape[k]))
		}
	default:
		return fmt.Errorf("needs %d scales or sizes", r)
	}
	if factors[0] != 1 || factors[1] != 1 {
		return fmt.Errorf("scaling the batch or channel axis is not supported")
	}
	mode := n.str("mode", "nearest")
	ctm := n.str("coordinate_transformation_mode", "half_pixel")
	if n.GetOpType() == "Upsample" || c.opset < 11 {
		ctm = "asymmetric"
	}
	nm := n.str("nearest_mode", "round_prefer_floor")
	l := &ir.UpSampling{Rank: r - 2, Size: factors[2:]}
	switch mode {
	case "nearest":
		ok := ctm == "asymmetric" && (nm == "floor" || nm == "round_prefer_floor") ||
			(ctm == "half_pixel" || ctm == "pytorch_half_pixel") && (nm == "round_prefer_floor" || nm == "round_prefer_ceil")
		if !ok {
			return fmt.Errorf("nearest with coordinate_transformation_mode %q and nearest_mode %q is not a plain repeat", ctm, nm)
		}
		l.Mode = "nearest"
	case "linear", "bilinear":
		if ctm != "half_pixel" && ctm != "pytorch_half_pixel" {
			return fmt.Errorf("linear resize with coordinate_transformation_mode %q (only half_pixel, as align_corners=False)", ctm)
		}
		l.Mode = "linear"
	default:
		return fmt.Errorf("resize mode %q is not supported", mode)
	}
	return c.addOut(n, 0, n.label, l, []string{x}, nil)
}
