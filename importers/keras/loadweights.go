package keras

import (
	"fmt"
	"sort"
	"strings"

	"github.com/retarget-dev/retarget/internal/hdf5"
	"github.com/retarget-dev/retarget/internal/kerasclass"
	"github.com/retarget-dev/retarget/internal/layout"
	"github.com/retarget-dev/retarget/ir"
)

// LoadWeightsOptions tune LoadWeights.
type LoadWeightsOptions struct {
	// SkipMismatch leaves a vertex whose weights in the file do not fit
	// (wrong shape or count) as it is instead of failing; the skipped
	// vertices are listed in the graph's Meta["keras_weights_skipped"].
	SkipMismatch bool
	// SkipMissing accepts graph vertices with parameters that the file
	// lacks (they keep their values) and file layers with weights that the
	// graph lacks (ignored), as Keras's load_weights(by_name=True) does.
	SkipMissing bool
}

// WeightsError lists every problem LoadWeights found; nothing was loaded.
type WeightsError struct {
	File string
	// Missing: graph vertices with parameters and no layer in the file.
	Missing []string
	// Unused: file layers with weights and no vertex in the graph.
	Unused []string
	// Mismatch: one line per vertex whose weights do not fit.
	Mismatch []string
}

func (e *WeightsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "keras weights %s do not fit the graph:", e.File)
	for _, m := range e.Missing {
		fmt.Fprintf(&b, "\n  - vertex %q has parameters; the file has no layer of that name", m)
	}
	for _, u := range e.Unused {
		fmt.Fprintf(&b, "\n  - file layer %q has weights; the graph has no vertex of that name", u)
	}
	for _, m := range e.Mismatch {
		fmt.Fprintf(&b, "\n  - %s", m)
	}
	if len(e.Missing)+len(e.Unused) > 0 {
		b.WriteString("\nhint: check that the graph was built for these weights (include_top, classes, alpha); SkipMissing loads the layers that match")
	}
	return b.String()
}

// LoadWeights fills g's parameters from a Keras weights file that holds no
// model config: a save_weights HDF5 file (Keras 1/2: layer_names and
// weight_names), a Keras 3 .weights.h5 (layers/<name>/vars/<i>), or the
// model_weights group of a whole-model file. Layers are matched to vertices
// by name, and each layer's weights are converted to the IR layout by the
// same code the importer uses. The Keras model is taken to be the one
// exporters/keras would write for g: image layers channels last, an
// Output vertex a Dense, a Flatten of a channels-last tensor flattening in
// Keras's order (the Dense that reads it gets its rows permuted).
//
// All problems are reported together in a *WeightsError, and g is changed
// only when there are none (with the Skip options: the vertices that fit
// are loaded).
func LoadWeights(g *ir.Graph, path string, opts LoadWeightsOptions) error {
	hf, err := hdf5.Open(path)
	if err != nil {
		return &ImportError{File: path, Err: err}
	}
	defer hf.Close()
	ws, version, backend, err := h5WeightsOnly(hf.Root())
	if err != nil {
		return &ImportError{File: path, Err: err}
	}
	fileLayers, err := weightedLayers(ws)
	if err != nil {
		return &ImportError{File: path, Err: err}
	}
	shapes, err := g.Shapes()
	if err != nil {
		return &ImportError{File: path, Err: fmt.Errorf("graph: %w", err)}
	}
	b := newBuilder(ws)
	_, isK3 := ws.(*k3Weights)
	b.keras3 = isK3 || strings.HasPrefix(version, "3")
	b.theano = backend == "theano"
	forms := kerasForms(g, shapes)

	werr := &WeightsError{File: path}
	loaded := map[string]map[string]*ir.Tensor{}
	seen := map[string]bool{}
	for _, v := range g.Vertices {
		in := v.InputShapes(shapes)
		specs := v.Layer.Params(in)
		_, inFile := fileLayers[v.Name]
		seen[v.Name] = true
		switch {
		case len(specs) == 0 && !inFile:
			continue
		case len(specs) == 0:
			werr.Mismatch = append(werr.Mismatch, fmt.Sprintf("vertex %q (%s) has no parameters; the file holds %d weight(s) for it", v.Name, v.Layer.Kind(), fileLayers[v.Name]))
			continue
		case !inFile:
			werr.Missing = append(werr.Missing, v.Name)
			continue
		}
		c := &call{b: b, l: &kLayer{Name: v.Name, Class: kerasclass.Of(v.Layer, in), Cfg: cfg{}}, name: v.Name, wpath: []string{v.Name}}
		params, err := vertexWeights(c, v, in, forms)
		if err == nil {
			err = c.checkAllWeightsUsed()
		}
		if err == nil {
			err = checkParamSpecs(v, specs, params)
		}
		if err != nil {
			werr.Mismatch = append(werr.Mismatch, err.Error())
			continue
		}
		loaded[v.Name] = params
	}
	for name := range fileLayers {
		if !seen[name] {
			werr.Unused = append(werr.Unused, name)
		}
	}
	sort.Strings(werr.Unused)
	fail := len(werr.Mismatch) > 0 && !opts.SkipMismatch ||
		len(werr.Missing)+len(werr.Unused) > 0 && !opts.SkipMissing
	if fail {
		return werr
	}
	if len(loaded) == 0 {
		return &ImportError{File: path, Err: fmt.Errorf("no layer of the file matches a vertex of the graph")}
	}
	for _, v := range g.Vertices {
		if p, ok := loaded[v.Name]; ok {
			v.Params = p
		}
	}
	if len(werr.Mismatch) > 0 {
		if g.Meta == nil {
			g.Meta = map[string]string{}
		}
		g.Meta["keras_weights_skipped"] = strings.Join(werr.Mismatch, "\n")
	}
	return nil
}

// weightedLayers maps each top-level layer of the file that holds weights
// to its weight count.
func weightedLayers(ws weightSource) (map[string]int, error) {
	out := map[string]int{}
	var names []string
	switch w := ws.(type) {
	case *h5Weights:
		for n := range w.layers {
			names = append(names, n)
		}
	case *k3Weights:
		for _, top := range []string{"layers", "_layer_checkpoint_dependencies"} {
			g, err := w.root.Group(top)
			if err != nil {
				continue
			}
			m, err := g.Members()
			if err != nil {
				return nil, err
			}
			names = append(names, m...)
		}
	}
	for _, n := range names {
		kws, err := ws.layerWeights([]string{n})
		if err != nil {
			return nil, fmt.Errorf("layer %q: %w", n, err)
		}
		if len(kws) > 0 {
			out[n] = len(kws)
		}
	}
	return out, nil
}

// checkParamSpecs compares converted weights with what the layer needs.
func checkParamSpecs(v *ir.Vertex, specs []ir.ParamSpec, params map[string]*ir.Tensor) error {
	var bad []string
	for _, ps := range specs {
		t, ok := params[ps.Name]
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("no weight for parameter %s %v", ps.Name, ps.Shape))
		case !ir.SameShape(t.Shape, ps.Shape):
			bad = append(bad, fmt.Sprintf("parameter %s is %v in the file (after layout conversion), the graph needs %v", ps.Name, t.Shape, ps.Shape))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("vertex %q (%s): %s", v.Name, v.Layer.Kind(), strings.Join(bad, "; "))
	}
	return nil
}

// vertexWeights reads and converts the weights of one vertex with the
// importer's per-layer readers, through the reader its kind registered.
func vertexWeights(c *call, v *ir.Vertex, in [][]int, forms map[string]tensor) (map[string]*ir.Tensor, error) {
	if r, ok := weightReaders[v.Layer.Kind()]; ok {
		return r(c, v, in, forms)
	}
	if why, ok := kerasclass.NoKerasWeights[v.Layer.Kind()]; ok {
		return nil, c.errf("IR layer %s has parameters that no Keras layer holds: %s", v.Layer.Kind(), why)
	}
	return nil, c.errf("IR layer %s has parameters that no Keras layer holds", v.Layer.Kind())
}

func weightsConv(c *call, v *ir.Vertex, in [][]int, forms map[string]tensor) (map[string]*ir.Tensor, error) {
	x := in[0]
	l := v.Layer.(*ir.Conv)
	if kerasclass.IsDepthwise(l, in) {
		return c.depthwiseParams(x[0], l.Filters/x[0], l.Kernel, !l.NoBias)
	}
	return c.convParams(l.Rank, x[0]/l.GroupCount(), l.Filters, l.Kernel, !l.NoBias)
}

func weightsSeparableConv2D(c *call, v *ir.Vertex, in [][]int, forms map[string]tensor) (map[string]*ir.Tensor, error) {
	x := in[0]
	l := v.Layer.(*ir.SeparableConv2D)
	return c.separableParams(x[0], max(l.DepthMultiplier, 1), l.Filters, l.Kernel, !l.NoBias)
}

func weightsConvTranspose2D(c *call, v *ir.Vertex, in [][]int, forms map[string]tensor) (map[string]*ir.Tensor, error) {
	x := in[0]
	l := v.Layer.(*ir.ConvTranspose2D)
	if l.GroupCount() != 1 {
		return nil, c.errf("grouped transposed convolution has no Keras layer")
	}
	return c.convTransposeParams(x[0], l.Filters, l.Kernel, !l.NoBias)
}

func weightsDense(c *call, v *ir.Vertex, in [][]int, forms map[string]tensor) (map[string]*ir.Tensor, error) {
	x := in[0]
	l := v.Layer.(*ir.Dense)
	return c.denseParams(lastDimOf(x), l.Units, !l.NoBias, flatPre(v, forms))
}

func weightsOutput(c *call, v *ir.Vertex, in [][]int, forms map[string]tensor) (map[string]*ir.Tensor, error) {
	x := in[0]
	l := v.Layer.(*ir.Output)
	return c.denseParams(lastDimOf(x), l.Units, !l.NoBias, flatPre(v, forms))
}

func weightsRnnOutput(c *call, v *ir.Vertex, in [][]int, forms map[string]tensor) (map[string]*ir.Tensor, error) {
	x := in[0]
	l := v.Layer.(*ir.RnnOutput)
	return c.denseParams(lastDimOf(x), l.Units, !l.NoBias, nil)
}

func weightsBatchNorm(c *call, v *ir.Vertex, in [][]int, forms map[string]tensor) (map[string]*ir.Tensor, error) {
	x := in[0]
	l := v.Layer.(*ir.BatchNorm)
	return c.batchNormParams(l.Channels(x), !l.NoScale, !l.NoCenter)
}

func weightsLayerNorm(c *call, v *ir.Vertex, in [][]int, forms map[string]tensor) (map[string]*ir.Tensor, error) {
	x := in[0]
	l := v.Layer.(*ir.LayerNorm)
	return c.layerNormParams(l.NormShape(x), !l.NoScale, !l.NoCenter)
}

func weightsEmbedding(c *call, v *ir.Vertex, in [][]int, forms map[string]tensor) (map[string]*ir.Tensor, error) {
	l := v.Layer.(*ir.Embedding)
	return c.embeddingParams(l.InputDim, l.OutputDim)
}

func weightsMultiHeadAttention(c *call, v *ir.Vertex, in [][]int, forms map[string]tensor) (map[string]*ir.Tensor, error) {
	l := v.Layer.(*ir.MultiHeadAttention)
	q, val, k := ir.AttentionInputs(in)
	out := l.OutputDim
	if out == 0 {
		out = q[1]
	}
	return c.attentionParams(l, q[1], k[1], val[1], out)
}

func weightsAttention(c *call, v *ir.Vertex, in [][]int, forms map[string]tensor) (map[string]*ir.Tensor, error) {
	return c.attentionScoreParams(v.Layer.(*ir.Attention))
}

func weightsPReLU(c *call, v *ir.Vertex, in [][]int, forms map[string]tensor) (map[string]*ir.Tensor, error) {
	x := in[0]
	l := v.Layer.(*ir.PReLU)
	t := forms[v.Inputs[0]]
	t.shape = x
	if t.kind == formFlatCL {
		t.kind = formPlain
	}
	var shared []int
	for _, a := range l.SharedAxes {
		shared = append(shared, layout.KerasAxis(len(t.shape), a, t.kind == formCL))
	}
	return c.preluParams(t, shared)
}

func weightsRecurrent(c *call, v *ir.Vertex, in [][]int, forms map[string]tensor) (map[string]*ir.Tensor, error) {
	x := in[0]
	_, p, err := c.recurrent(rnnLayer(v.Name, v.Layer), "", lastDimOf(x))
	return p, err
}

func weightsBidirectional(c *call, v *ir.Vertex, in [][]int, forms map[string]tensor) (map[string]*ir.Tensor, error) {
	x := in[0]
	l := v.Layer.(*ir.Bidirectional)
	inner := rnnLayer(v.Name, l.Layer)
	_, fw, err := c.recurrent(inner, "forward", lastDimOf(x))
	if err != nil {
		return nil, err
	}
	_, bw, err := c.recurrent(inner, "backward", lastDimOf(x))
	if err != nil {
		return nil, err
	}
	p := map[string]*ir.Tensor{}
	for k, t := range fw {
		p["fw/"+k] = t
	}
	for k, t := range bw {
		p["bw/"+k] = t
	}
	return p, nil
}

func lastDimOf(s []int) int {
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1]
}

// rnnLayer is the Keras config of an IR recurrent layer, as far as reading
// its weights needs it.
func rnnLayer(name string, l ir.Layer) *kLayer {
	c := cfg{}
	switch r := l.(type) {
	case *ir.SimpleRNN:
		c["units"], c["use_bias"] = float64(r.Units), !r.NoBias
	case *ir.LSTM:
		c["units"], c["use_bias"] = float64(r.Units), !r.NoBias
	case *ir.GRU:
		c["units"], c["use_bias"], c["reset_after"] = float64(r.Units), !r.NoBias, r.ResetAfter
	}
	return &kLayer{Name: name, Class: l.Kind(), Cfg: c}
}

// flatPre returns the IR shape before the channels-last Flatten whose
// output the Dense vertex v reads, or nil.
func flatPre(v *ir.Vertex, forms map[string]tensor) []int {
	if len(v.Inputs) != 1 {
		return nil
	}
	t := forms[v.Inputs[0]]
	if t.kind == formFlatCL {
		return t.pre
	}
	return nil
}

// kerasForms gives the form (channels last, flattened channels last,
// plain) each tensor of g has in the Keras model exporters/keras writes
// for it.
func kerasForms(g *ir.Graph, shapes map[string][]int) map[string]tensor {
	forms := map[string]tensor{}
	for _, in := range g.Inputs {
		t := tensor{name: in.Name, shape: in.Shape}
		if in.Layout.ChannelsLastFor(len(in.Shape)) {
			t.kind = formCL
		}
		forms[in.Name] = t
	}
	order, err := g.TopoOrder()
	if err != nil {
		return forms
	}
	for _, v := range order {
		out := tensor{name: v.Name, shape: shapes[v.Name]}
		var first tensor
		if len(v.Inputs) > 0 {
			first = forms[v.Inputs[0]]
		}
		switch l := v.Layer.(type) {
		case *ir.Conv, *ir.SeparableConv2D, *ir.ConvTranspose2D, *ir.Pool, *ir.Pad, *ir.Cropping, *ir.UpSampling:
			out.kind = formCL
		case *ir.GlobalPool:
			if l.KeepDims {
				out.kind = formCL
			}
		case *ir.ActivationLayer, *ir.Rescaling:
			out.kind, out.pre = first.kind, first.pre
		case *ir.Dropout:
			out.kind, out.pre = first.kind, first.pre
			if l.Spatial && len(out.shape) >= 2 && len(out.shape) <= 3 {
				out.kind, out.pre = formCL, nil
			}
		case *ir.BatchNorm, *ir.PReLU:
			if first.kind == formCL {
				out.kind = formCL
			}
		case *ir.Merge:
			out.kind, out.pre = first.kind, first.pre
			for _, n := range v.Inputs[1:] {
				o := forms[n]
				if o.kind != first.kind || (o.kind == formFlatCL && !ir.SameShape(o.pre, first.pre)) {
					out.kind, out.pre = formPlain, nil
				}
			}
		case *ir.Concat:
			out.kind = first.kind
			for _, n := range v.Inputs[1:] {
				if forms[n].kind != first.kind {
					out.kind = formPlain
				}
			}
			if out.kind == formFlatCL {
				out.kind = formPlain
			}
		case *ir.Flatten:
			switch first.kind {
			case formCL:
				out.kind, out.pre = formFlatCL, append([]int(nil), first.shape...)
			case formFlatCL:
				out.kind, out.pre = formFlatCL, first.pre
			}
		case *ir.Permute:
			r := len(l.Perm)
			if first.kind == formPlain && r >= 2 && ir.SameShape(l.Perm, layout.CFPerm(r)) {
				out.kind = formCL
			}
		}
		forms[v.Name] = out
	}
	return forms
}
