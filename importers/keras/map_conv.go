package keras

import (
	"fmt"
	"strings"

	"github.com/retarget-dev/retarget/internal/layout"
	"github.com/retarget-dev/retarget/ir"
)

func init() {
	register(mapConv, "Conv1D", "Conv2D", "Conv3D", "Convolution1D", "Convolution2D", "AtrousConvolution1D",
		"AtrousConvolution2D")
	register(mapDepthwise, "DepthwiseConv2D")
	register(mapSeparable, "SeparableConv2D", "SeparableConvolution2D")
	register(mapConvTranspose, "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
	register(mapPool, "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
		"AveragePooling3D", "MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D", "AvgPool3D")
	register(mapGlobalPool, "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "GlobalAveragePooling1D",
		"GlobalAveragePooling2D", "GlobalAveragePooling3D", "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D",
		"GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D")
	register(mapZeroPadding, "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D")
	register(mapCropping, "Cropping1D", "Cropping2D", "Cropping3D")
	register(mapUpSampling, "UpSampling1D", "UpSampling2D")
}

func channelsFirst(c cfg) bool {
	return c.str("", "data_format") == "channels_first" || c.str("", "dim_ordering") == "th"
}

// spatialRank is the number of spatial axes a layer works on (0: none).
func spatialRank(l *kLayer) int {
	switch l.Class {
	case "Conv1D", "Convolution1D", "AtrousConvolution1D", "MaxPooling1D", "AveragePooling1D",
		"MaxPool1D", "AvgPool1D", "GlobalMaxPooling1D", "GlobalAveragePooling1D", "GlobalMaxPool1D",
		"GlobalAvgPool1D", "ZeroPadding1D", "Cropping1D", "UpSampling1D", "SpatialDropout1D", "Conv1DTranspose":
		return 1
	case "Conv2D", "Convolution2D", "AtrousConvolution2D", "SeparableConv2D", "SeparableConvolution2D",
		"DepthwiseConv2D", "Conv2DTranspose", "MaxPooling2D", "AveragePooling2D", "MaxPool2D",
		"AvgPool2D", "GlobalMaxPooling2D", "GlobalAveragePooling2D", "GlobalMaxPool2D",
		"GlobalAvgPool2D", "ZeroPadding2D", "Cropping2D", "UpSampling2D", "SpatialDropout2D":
		return 2
	case "Conv3D", "Conv3DTranspose", "MaxPooling3D", "AveragePooling3D", "MaxPool3D", "AvgPool3D",
		"GlobalMaxPooling3D", "GlobalAveragePooling3D", "GlobalMaxPool3D", "GlobalAvgPool3D", "ZeroPadding3D",
		"Cropping3D":
		return 3
	}
	return 0
}

func (c *call) rank() int { return spatialRank(c.l) }

func (c *call) padding() (ir.Padding, error) {
	p := c.l.Cfg.str("valid", "padding", "border_mode")
	switch p {
	case "valid":
		return ir.PadValid, nil
	case "same":
		return ir.PadSame, nil
	case "causal":
		if c.rank() == 1 {
			return ir.PadCausal, nil
		}
	}
	return "", c.errf("padding %q is not supported", p)
}

// convGeometry reads kernel, strides and dilations of an n-D layer.
func (c *call) convGeometry(n int) (kernel, strides, dil []int, err error) {
	cf := c.l.Cfg
	switch {
	case cf.has("kernel_size"):
		kernel, err = cf.ints(n, nil, "kernel_size")
	case cf.has("filter_length"):
		kernel, err = cf.ints(1, nil, "filter_length")
	case cf.has("nb_row"):
		r, e1 := cf.integer(0, "nb_row")
		k, e2 := cf.integer(0, "nb_col")
		if e1 != nil || e2 != nil {
			err = fmt.Errorf("bad nb_row/nb_col")
		}
		kernel = []int{r, k}
	default:
		err = fmt.Errorf("no kernel size")
	}
	if err != nil {
		return nil, nil, nil, c.errf("%v", err)
	}
	if strides, err = cf.ints(n, ones(n), "strides", "subsample", "subsample_length"); err != nil {
		return nil, nil, nil, c.errf("%v", err)
	}
	if dil, err = cf.ints(n, ones(n), "dilation_rate", "atrous_rate"); err != nil {
		return nil, nil, nil, c.errf("%v", err)
	}
	for _, v := range append(append(append([]int(nil), kernel...), strides...), dil...) {
		if v <= 0 {
			return nil, nil, nil, c.errf("kernel %v, strides %v, dilation %v must be positive", kernel, strides, dil)
		}
	}
	if len(kernel) != n {
		return nil, nil, nil, c.errf("kernel %v is not %d-D", kernel, n)
	}
	return kernel, strides, dil, nil
}

func ones(n int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = 1
	}
	return o
}

// kerasKernel converts a Keras convolution kernel to IR [out, in, k...].
// Keras 2/3 (and Keras 1 "tf" ordering) store [k..., in, out]; Keras 1
// Convolution1D stores [k, 1, in, out]; Keras 1 "th" stores [out, in, k...].
func (c *call) kerasKernel(w *kWeight, n, in, out int, kernel []int) (*ir.Tensor, error) {
	shape := w.shape
	data := w.data
	if n == 1 && len(shape) == 4 && shape[1] == 1 { // Keras 1 Convolution1D
		shape = []int{shape[0], shape[2], shape[3]}
	}
	irShape := append([]int{out, in}, kernel...)
	var t *ir.Tensor
	if c.l.Cfg.has("nb_filter") && c.l.Cfg.str("", "dim_ordering") == "th" && n == 2 {
		if !ir.SameShape(shape, irShape) {
			return nil, c.errf("weight %s has shape %v, the layer config needs %v", w.name, w.shape, irShape)
		}
		t = ir.FromData(append([]float32(nil), data...), irShape...)
	} else {
		want := append(append([]int(nil), kernel...), in, out)
		if !ir.SameShape(shape, want) {
			return nil, c.errf("weight %s has shape %v, the layer config needs %v", w.name, w.shape, want)
		}
		perm := []int{n + 1, n}
		for i := 0; i < n; i++ {
			perm = append(perm, i)
		}
		d, s := layout.Transpose(data, shape, perm)
		t = ir.FromData(d, s...)
	}
	if c.b.theano {
		flipSpatial(t, n)
	}
	return t, nil
}

func (c *call) bias(pos, n int) (*ir.Tensor, error) {
	b, err := c.weight(pos, "", "bias", "b")
	if err != nil {
		return nil, err
	}
	if err := c.expect(b, n); err != nil {
		return nil, err
	}
	return c.tensorOf(b), nil
}

// withBias adds the bias, weight pos of n values, to params when the layer
// has one.
func (c *call) withBias(params map[string]*ir.Tensor, bias bool, pos, n int) (map[string]*ir.Tensor, error) {
	if !bias {
		return params, nil
	}
	b, err := c.bias(pos, n)
	if err != nil {
		return nil, err
	}
	params["b"] = b
	return params, nil
}

func mapConv(c *call) (tensor, error) {
	x, form, err := c.spatialInput()
	if err != nil {
		return tensor{}, err
	}
	n := c.rank()
	filters, err := c.l.Cfg.integer(0, "filters", "nb_filter")
	if err != nil || filters <= 0 {
		return tensor{}, c.errf("needs positive filters")
	}
	groups, err := c.l.Cfg.integer(1, "groups")
	if err != nil || groups <= 0 {
		return tensor{}, c.errf("bad groups")
	}
	kernel, strides, dil, err := c.convGeometry(n)
	if err != nil {
		return tensor{}, err
	}
	pad, err := c.padding()
	if err != nil {
		return tensor{}, err
	}
	act, err := c.activation()
	if err != nil {
		return tensor{}, err
	}
	bias := c.l.Cfg.boolean(true, "use_bias", "bias")
	l := &ir.Conv{Rank: n, Filters: filters, Kernel: kernel, Strides: strides, Dilations: dil,
		Padding: pad, NoBias: !bias, Activation: act}
	if groups > 1 {
		l.Groups = groups
	}
	if len(x.shape) != n+1 {
		return tensor{}, c.errf("needs a rank-%d input (without batch), got %v", n+1, x.kerasShape())
	}
	var params map[string]*ir.Tensor
	if c.hasWeights() {
		if params, err = c.convParams(n, x.shape[0]/groups, filters, kernel, bias); err != nil {
			return tensor{}, err
		}
	}
	return c.addForm(form, l, params, x)
}

// convParams reads a convolution kernel (converted to IR [out, in, k...])
// and bias; in is the input channel count per group.
func (c *call) convParams(n, in, filters int, kernel []int, bias bool) (map[string]*ir.Tensor, error) {
	k, err := c.weight(0, "", "kernel", "W")
	if err != nil {
		return nil, err
	}
	W, err := c.kerasKernel(k, n, in, filters, kernel)
	if err != nil {
		return nil, err
	}
	return c.withBias(map[string]*ir.Tensor{"W": W}, bias, 1, filters)
}

// plainIfFlat turns a flattened channels-last vector back into Keras order
// for layers that read it with a structure.
func (c *call) plainIfFlat(t tensor) (tensor, error) {
	if t.kind == formFlatCL {
		return c.plain(t)
	}
	return t, nil
}

// spatialInput returns the single input of a spatial layer in the form the
// layer works on in the IR, and the form of its output (see spatial).
func (c *call) spatialInput() (tensor, formKind, error) {
	t, err := c.one()
	if err != nil {
		return tensor{}, 0, err
	}
	if t, err = c.plainIfFlat(t); err != nil {
		return tensor{}, 0, err
	}
	return c.spatial(t)
}

// addForm adds the main vertex of a spatial layer, whose output is in form.
func (c *call) addForm(form formKind, l ir.Layer, params map[string]*ir.Tensor, x tensor) (tensor, error) {
	out, err := c.add(l, params, x)
	out.kind = form
	return out, err
}

// depthwiseKernel converts [kh, kw, C, M] to IR [C*M, 1, kh, kw]; output
// channel c*M+m is input channel c with multiplier m, as in TensorFlow.
func (c *call) depthwiseKernel(w *kWeight, ch, mult int, kernel []int) (*ir.Tensor, error) {
	if err := c.expect(w, kernel[0], kernel[1], ch, mult); err != nil {
		return nil, err
	}
	d, _ := layout.Transpose(w.data, w.shape, []int{2, 3, 0, 1})
	t := ir.FromData(d, ch*mult, 1, kernel[0], kernel[1])
	if c.b.theano {
		flipSpatial(t, 2)
	}
	return t, nil
}

func (c *call) depthwiseCommon() (x tensor, form formKind, kernel, strides, dil []int, pad ir.Padding, act ir.Activation, mult int, err error) {
	if x, form, err = c.spatialInput(); err != nil {
		return
	}
	if len(x.shape) != 3 {
		err = c.errf("needs a rank-3 input (without batch), got %v", x.kerasShape())
		return
	}
	if kernel, strides, dil, err = c.convGeometry(2); err != nil {
		return
	}
	if pad, err = c.padding(); err != nil {
		return
	}
	if act, err = c.activation(); err != nil {
		return
	}
	mult, err = c.l.Cfg.integer(1, "depth_multiplier")
	if err != nil || mult <= 0 {
		err = c.errf("bad depth_multiplier")
	}
	return
}

func mapDepthwise(c *call) (tensor, error) {
	x, form, kernel, strides, dil, pad, act, mult, err := c.depthwiseCommon()
	if err != nil {
		return tensor{}, err
	}
	ch := x.shape[0]
	bias := c.l.Cfg.boolean(true, "use_bias")
	l := &ir.Conv{Rank: 2, Filters: ch * mult, Kernel: kernel, Strides: strides, Dilations: dil,
		Groups: ch, Padding: pad, NoBias: !bias, Activation: act}
	var params map[string]*ir.Tensor
	if c.hasWeights() {
		if params, err = c.depthwiseParams(ch, mult, kernel, bias); err != nil {
			return tensor{}, err
		}
	}
	return c.addForm(form, l, params, x)
}

// depthwiseParams reads a DepthwiseConv2D kernel and bias.
func (c *call) depthwiseParams(ch, mult int, kernel []int, bias bool) (map[string]*ir.Tensor, error) {
	k, err := c.weight(0, "", "depthwise_kernel")
	if err != nil {
		return nil, err
	}
	W, err := c.depthwiseKernel(k, ch, mult, kernel)
	if err != nil {
		return nil, err
	}
	return c.withBias(map[string]*ir.Tensor{"W": W}, bias, 1, ch*mult)
}

func mapSeparable(c *call) (tensor, error) {
	x, form, kernel, strides, dil, pad, act, mult, err := c.depthwiseCommon()
	if err != nil {
		return tensor{}, err
	}
	ch := x.shape[0]
	filters, err := c.l.Cfg.integer(0, "filters", "nb_filter")
	if err != nil || filters <= 0 {
		return tensor{}, c.errf("needs positive filters")
	}
	bias := c.l.Cfg.boolean(true, "use_bias", "bias")
	l := &ir.SeparableConv2D{Filters: filters, Kernel: kernel, Strides: strides, Dilations: dil,
		DepthMultiplier: mult, Padding: pad, NoBias: !bias, Activation: act}
	var params map[string]*ir.Tensor
	if c.hasWeights() {
		if params, err = c.separableParams(ch, mult, filters, kernel, bias); err != nil {
			return tensor{}, err
		}
	}
	return c.addForm(form, l, params, x)
}

// separableParams reads a SeparableConv2D's depthwise and pointwise
// kernels and bias.
func (c *call) separableParams(ch, mult, filters int, kernel []int, bias bool) (map[string]*ir.Tensor, error) {
	dk, err := c.weight(0, "", "depthwise_kernel")
	if err != nil {
		return nil, err
	}
	DW, err := c.depthwiseKernel(dk, ch, mult, kernel)
	if err != nil {
		return nil, err
	}
	pk, err := c.weight(1, "", "pointwise_kernel")
	if err != nil {
		return nil, err
	}
	if err := c.expect(pk, 1, 1, ch*mult, filters); err != nil {
		return nil, err
	}
	d, s := layout.Transpose(pk.data, pk.shape, []int{3, 2, 0, 1})
	return c.withBias(map[string]*ir.Tensor{"DW": DW, "PW": ir.FromData(d, s...)}, bias, 2, filters)
}

func mapConvTranspose(c *call) (tensor, error) {
	x, form, err := c.spatialInput()
	if err != nil {
		return tensor{}, err
	}
	n := c.rank()
	if len(x.shape) != n+1 {
		return tensor{}, c.errf("needs a rank-%d input (without batch), got %v", n+1, x.kerasShape())
	}
	filters, err := c.l.Cfg.integer(0, "filters")
	if err != nil || filters <= 0 {
		return tensor{}, c.errf("needs positive filters")
	}
	kernel, strides, dil, err := c.convGeometry(n)
	if err != nil {
		return tensor{}, err
	}
	pad, err := c.padding()
	if err != nil {
		return tensor{}, err
	}
	act, err := c.activation()
	if err != nil {
		return tensor{}, err
	}
	outPad, err := c.l.Cfg.ints(n, nil, "output_padding")
	if err != nil {
		return tensor{}, c.errf("%v", err)
	}
	bias := c.l.Cfg.boolean(true, "use_bias")
	rank := n
	if n == 2 {
		rank = 0 // ir's default
	}
	l := &ir.ConvTranspose2D{Rank: rank, Filters: filters, Kernel: kernel, Strides: strides, Dilations: dil,
		Padding: pad, OutputPadding: outPad, NoBias: !bias, Activation: act}
	var params map[string]*ir.Tensor
	if c.hasWeights() {
		if params, err = c.convTransposeParams(x.shape[0], filters, kernel, bias); err != nil {
			return tensor{}, err
		}
	}
	return c.addForm(form, l, params, x)
}

// convTransposeParams reads a Conv1D/2D/3DTranspose kernel [k...,
// filters, in] as IR [in, filters, k...], and its bias.
func (c *call) convTransposeParams(in, filters int, kernel []int, bias bool) (map[string]*ir.Tensor, error) {
	k, err := c.weight(0, "", "kernel")
	if err != nil {
		return nil, err
	}
	n := len(kernel)
	if err := c.expect(k, append(append([]int(nil), kernel...), filters, in)...); err != nil {
		return nil, err
	}
	perm := []int{n + 1, n}
	for i := 0; i < n; i++ {
		perm = append(perm, i)
	}
	d, s := layout.Transpose(k.data, k.shape, perm)
	W := ir.FromData(d, s...)
	if c.b.theano {
		flipSpatial(W, n)
	}
	return c.withBias(map[string]*ir.Tensor{"W": W}, bias, 1, filters)
}

func mapPool(c *call) (tensor, error) {
	x, form, err := c.spatialInput()
	if err != nil {
		return tensor{}, err
	}
	n := c.rank()
	size, err := c.l.Cfg.ints(n, ones(n), "pool_size", "pool_length")
	if err != nil {
		return tensor{}, c.errf("%v", err)
	}
	strides, err := c.l.Cfg.ints(n, size, "strides", "stride")
	if err != nil {
		return tensor{}, c.errf("%v", err)
	}
	pad, err := c.padding()
	if err != nil {
		return tensor{}, err
	}
	op := ir.PoolMax
	if strings.HasPrefix(c.l.Class, "Av") {
		op = ir.PoolAvg
	}
	return c.addForm(form, &ir.Pool{Rank: n, Op: op, Kernel: size, Strides: strides, Padding: pad}, nil, x)
}

func mapGlobalPool(c *call) (tensor, error) {
	x, form, err := c.spatialInput()
	if err != nil {
		return tensor{}, err
	}
	op := ir.PoolMax
	if strings.Contains(c.l.Class, "Average") || strings.Contains(c.l.Class, "Avg") {
		op = ir.PoolAvg
	}
	keep := c.l.Cfg.boolean(false, "keepdims")
	out, err := c.add(&ir.GlobalPool{Rank: c.rank(), Op: op, KeepDims: keep}, nil, x)
	if keep {
		out.kind = form
	}
	return out, err
}

// pairs reads Keras padding/cropping amounts for n axes: an int, one int
// per axis (symmetric), or a (begin, end) pair per axis. It returns the IR
// order: begins, then ends.
func pairs(v any, n int, what string) ([]int, error) {
	out := make([]int, 2*n)
	if l, ok := v.([]any); ok {
		if n == 1 && len(l) == 2 {
			xs, err := toInts(l, 2, what)
			if err != nil {
				return nil, err
			}
			return xs, nil
		}
		if len(l) != n {
			return nil, fmt.Errorf("%s: need %d entries, got %v", what, n, v)
		}
		for i, e := range l {
			xs, err := toInts(e, 2, what)
			if err != nil {
				return nil, err
			}
			out[i], out[n+i] = xs[0], xs[1]
		}
	} else {
		xs, err := toInts(v, 1, what)
		if err != nil {
			return nil, err
		}
		for i := range out {
			out[i] = xs[0]
		}
	}
	for _, x := range out {
		if x < 0 {
			return nil, fmt.Errorf("%s: negative amount in %v", what, v)
		}
	}
	return out, nil
}

// pairsCfg reads the padding or cropping amounts under key (see pairs),
// def for every amount when the config has none.
func (c *call) pairsCfg(key string, def float64, n int) ([]int, error) {
	v, ok := c.l.Cfg.raw(key)
	if !ok {
		v = def
	}
	p, err := pairs(v, n, key)
	if err != nil {
		return nil, c.errf("%v", err)
	}
	return p, nil
}

func mapZeroPadding(c *call) (tensor, error) {
	x, form, err := c.spatialInput()
	if err != nil {
		return tensor{}, err
	}
	n := c.rank()
	p, err := c.pairsCfg("padding", 1, n)
	if err != nil {
		return tensor{}, err
	}
	return c.addForm(form, &ir.Pad{Rank: n, Mode: ir.PadConstant, Pads: p}, nil, x)
}

func mapCropping(c *call) (tensor, error) {
	x, form, err := c.spatialInput()
	if err != nil {
		return tensor{}, err
	}
	n := c.rank()
	p, err := c.pairsCfg("cropping", 0, n)
	if err != nil {
		return tensor{}, err
	}
	return c.addForm(form, &ir.Cropping{Rank: n, Crops: p}, nil, x)
}

func mapUpSampling(c *call) (tensor, error) {
	x, form, err := c.spatialInput()
	if err != nil {
		return tensor{}, err
	}
	n := c.rank()
	size, err := c.l.Cfg.ints(n, []int{2, 2}[:n], "size", "length")
	if err != nil {
		return tensor{}, c.errf("%v", err)
	}
	mode := "nearest"
	switch c.l.Cfg.str("nearest", "interpolation") {
	case "nearest":
	case "bilinear":
		mode = "linear"
	default:
		return tensor{}, c.errf("interpolation %q is not supported", c.l.Cfg.str("", "interpolation"))
	}
	return c.addForm(form, &ir.UpSampling{Rank: n, Size: size, Mode: mode}, nil, x)
}
