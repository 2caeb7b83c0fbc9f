package keras

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// kRef names one tensor: the output Tensor of call Node of a layer.
type kRef struct {
	Layer  string
	Node   int
	Tensor int
}

// kLayer is one layer entry of a model config, in any Keras version.
type kLayer struct {
	Class string
	Name  string
	Cfg   cfg
	// Nodes lists the layer's calls; each call lists its input tensors.
	Nodes [][]kRef
	// Kwargs are each call's keyword arguments (nil when it has none).
	Kwargs []map[string]any
	// Model is set when the layer is itself a model (nested model).
	Model *kModel
	// Module and Registered are Keras 3 fields naming where a class lives.
	Module, Registered string
}

// kModel is a model config normalised to the functional form: Sequential
// models become a chain behind a synthesised InputLayer.
type kModel struct {
	Name    string
	Class   string
	Layers  []*kLayer
	Inputs  []kRef
	Outputs []kRef
}

const (
	maxConfigBytes = 64 << 20
	maxLayers      = 100000
	maxNesting     = 16
)

func decodeJSON(b []byte) (map[string]any, error) {
	if len(b) > maxConfigBytes {
		return nil, fmt.Errorf("model config is %d bytes, more than the %d allowed", len(b), maxConfigBytes)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("model config is not valid JSON: %w", err)
	}
	if m == nil {
		return nil, fmt.Errorf("model config is not a JSON object")
	}
	return m, nil
}

// parser reads one model config. Keras 1 names a Sequential model's
// implied input after the first layer's class and a per-prefix counter
// (create_input_layer: "dense_input_1"); Keras 2 after the layer
// ("dense_1_input").
type parser struct {
	version string         // keras_version, "" when the file does not say
	uids    map[string]int // Keras 1's K.get_uid counters
}

func newParser(kerasVersion string) *parser {
	return &parser{version: kerasVersion, uids: map[string]int{}}
}

// impliedInputName names the input Keras created for a Sequential model
// whose first layer is first. Without a keras_version, a first layer
// configured with input_dtype (Keras 1's name for dtype, written next to
// batch_input_shape) marks a Keras 1 file.
func (p *parser) impliedInputName(first *kLayer) string {
	_, k1dtype := first.Cfg["input_dtype"]
	if !strings.HasPrefix(p.version, "1.") && (p.version != "" || !k1dtype) {
		return first.Name + "_input"
	}
	prefix := strings.ToLower(first.Class) + "_input_"
	if p.uids == nil {
		p.uids = map[string]int{}
	}
	p.uids[prefix]++
	return fmt.Sprintf("%s%d", prefix, p.uids[prefix])
}

// parseModel reads {"class_name": "Sequential"|"Model"|"Functional", "config": ...}.
func (p *parser) parseModel(m map[string]any, depth int) (*kModel, error) {
	if depth > maxNesting {
		return nil, fmt.Errorf("models nested more than %d deep", maxNesting)
	}
	class, _ := m["class_name"].(string)
	switch class {
	case "Sequential":
		return p.parseSequential(m, depth)
	case "Model", "Functional":
		c, ok := m["config"].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s config is not an object", class)
		}
		return p.parseFunctional(class, cfg(c), depth)
	case "":
		return nil, fmt.Errorf("model config has no class_name")
	default:
		return nil, fmt.Errorf("model class %q is not Sequential, Model or Functional (a subclassed model cannot be imported: save it as a functional model)", class)
	}
}

func isModelClass(c string) bool { return c == "Sequential" || c == "Model" || c == "Functional" }

func (p *parser) parseLayer(e map[string]any, depth int) (*kLayer, error) {
	l := &kLayer{}
	l.Class, _ = e["class_name"].(string)
	if l.Class == "" {
		return nil, fmt.Errorf("a layer entry has no class_name")
	}
	l.Module, _ = e["module"].(string)
	l.Registered, _ = e["registered_name"].(string)
	switch c := e["config"].(type) {
	case map[string]any:
		l.Cfg = cfg(c)
	case []any: // Keras 1/2 nested Sequential: config is the layer list
		l.Cfg = cfg{}
	default:
		l.Cfg = cfg{}
	}
	l.Name, _ = e["name"].(string)
	if l.Name == "" {
		l.Name = l.Cfg.str("", "name")
	}
	if l.Name == "" {
		return nil, fmt.Errorf("a %s layer has no name", l.Class)
	}
	if isModelClass(l.Class) {
		sub, err := p.parseModel(e, depth+1)
		if err != nil {
			return nil, fmt.Errorf("nested model %q: %w", l.Name, err)
		}
		l.Model = sub
	}
	if nodes, ok := e["inbound_nodes"].([]any); ok {
		for i, n := range nodes {
			refs, err := parseNode(n)
			if err != nil {
				return nil, fmt.Errorf("layer %q inbound node %d: %w", l.Name, i, err)
			}
			l.Nodes = append(l.Nodes, refs)
			l.Kwargs = append(l.Kwargs, nodeKwargs(n))
		}
	}
	return l, nil
}

// nodeKwargs returns the keyword arguments of one call: Keras 3's
// "kwargs", or Keras 1/2's dicts after each input reference (merged).
func nodeKwargs(n any) map[string]any {
	switch x := n.(type) {
	case map[string]any:
		kw, _ := x["kwargs"].(map[string]any)
		return kw
	case []any:
		var out map[string]any
		for _, e := range x {
			if a, ok := e.([]any); ok && len(a) > 3 {
				if m, ok := a[3].(map[string]any); ok && len(m) > 0 {
					if out == nil {
						out = map[string]any{}
					}
					for k, v := range m {
						out[k] = v
					}
				}
			}
		}
		return out
	}
	return nil
}

// parseNode reads one call: Keras 1/2 [[name, node, tensor, kwargs], ...]
// or Keras 3 {"args": [...keras tensors...], "kwargs": {...}}.
func parseNode(n any) ([]kRef, error) {
	switch x := n.(type) {
	case []any:
		return parseRefList(x)
	case map[string]any:
		var refs []kRef
		if err := collectKerasTensors(x["args"], &refs, 0); err != nil {
			return nil, err
		}
		kw, _ := x["kwargs"].(map[string]any)
		for _, k := range tensorKwargs {
			if err := collectKerasTensors(kw[k], &refs, 0); err != nil {
				return nil, err
			}
		}
		return refs, nil
	}
	return nil, fmt.Errorf("unreadable inbound node %v", n)
}

func collectKerasTensors(v any, out *[]kRef, depth int) error {
	if depth > 8 {
		return fmt.Errorf("inbound node arguments nested too deep")
	}
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if err := collectKerasTensors(e, out, depth+1); err != nil {
				return err
			}
		}
	case map[string]any:
		if x["class_name"] == "__keras_tensor__" {
			c, _ := x["config"].(map[string]any)
			h, ok := c["keras_history"]
			if !ok {
				return fmt.Errorf("keras tensor without keras_history")
			}
			ref, err := parseRef(h)
			if err != nil {
				return err
			}
			*out = append(*out, ref)
		}
	}
	return nil
}

func parseRef(r any) (kRef, error) {
	x, ok := r.([]any)
	if !ok || len(x) < 1 {
		return kRef{}, fmt.Errorf("bad tensor reference %v", r)
	}
	name, ok := x[0].(string)
	if !ok {
		return kRef{}, fmt.Errorf("bad tensor reference %v", r)
	}
	ref := kRef{Layer: name}
	var err error
	if ref.Node, err = refIndex(r, x, 1, "node"); err != nil {
		return kRef{}, err
	}
	if ref.Tensor, err = refIndex(r, x, 2, "tensor"); err != nil {
		return kRef{}, err
	}
	return ref, nil
}

// refIndex reads the node or tensor index x[i] of reference r; 0 when the
// reference is shorter.
func refIndex(r any, x []any, i int, what string) (int, error) {
	if len(x) <= i {
		return 0, nil
	}
	f, err := toFloat(x[i], what+"_index")
	if err != nil || f < 0 || f > maxLayers {
		return 0, fmt.Errorf("bad %s index in %v", what, r)
	}
	return int(f), nil
}

// parseRefs reads input_layers/output_layers: a list of references, or a
// single reference (Keras 3 writes ["name", 0, 0] for one tensor).
func parseRefs(v any) ([]kRef, error) {
	x, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("expected a list of layer references, got %v", v)
	}
	if len(x) > 0 {
		if _, single := x[0].(string); single {
			r, err := parseRef(x)
			return []kRef{r}, err
		}
	}
	return parseRefList(x)
}

func parseRefList(x []any) ([]kRef, error) {
	var out []kRef
	var kwargs []any
	for _, e := range x {
		r, err := parseRef(e)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
		if a, ok := e.([]any); ok && len(a) > 3 {
			kwargs = append(kwargs, a[3])
		}
	}
	// Keras 2 passes an attention layer's value and key as keyword
	// arguments of the query's reference: {"value": [name, node, tensor]}
	for _, kw := range kwargs {
		m, _ := kw.(map[string]any)
		for _, k := range tensorKwargs {
			if v, ok := m[k]; ok {
				r, err := parseRef(v)
				if err != nil {
					return nil, fmt.Errorf("keyword argument %s: %w", k, err)
				}
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// tensorKwargs are the keyword arguments whose tensors become inputs, in
// this order after the positional ones (attention layers' query, value and
// key, or Attention's inputs list, when passed by keyword).
var tensorKwargs = []string{"inputs", "query", "value", "key"}

// parseLayers reads a model's layer list.
func (p *parser) parseLayers(layers []any, depth int) ([]*kLayer, error) {
	if len(layers) > maxLayers {
		return nil, fmt.Errorf("model has %d layers, more than %d", len(layers), maxLayers)
	}
	var out []*kLayer
	for i, e := range layers {
		em, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("layer %d is not an object", i)
		}
		l, err := p.parseLayer(em, depth)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

func (p *parser) parseFunctional(class string, c cfg, depth int) (*kModel, error) {
	m := &kModel{Name: c.str("", "name"), Class: class}
	layers, ok := c["layers"].([]any)
	if !ok {
		return nil, fmt.Errorf("functional model %q has no layer list", m.Name)
	}
	var err error
	if m.Layers, err = p.parseLayers(layers, depth); err != nil {
		return nil, err
	}
	if m.Inputs, err = parseRefs(c["input_layers"]); err != nil {
		return nil, fmt.Errorf("model %q input_layers: %w", m.Name, err)
	}
	if m.Outputs, err = parseRefs(c["output_layers"]); err != nil {
		return nil, fmt.Errorf("model %q output_layers: %w", m.Name, err)
	}
	return m, nil
}

func (p *parser) parseSequential(m map[string]any, depth int) (*kModel, error) {
	out := &kModel{Class: "Sequential"}
	var layers []any
	var mc cfg
	switch c := m["config"].(type) {
	case []any: // Keras 1 and early Keras 2
		layers = c
	case map[string]any:
		mc = cfg(c)
		out.Name = mc.str("", "name")
		layers, _ = c["layers"].([]any)
	}
	if len(layers) == 0 {
		return nil, fmt.Errorf("sequential model has no layers")
	}
	parsed, err := p.parseLayers(layers, depth)
	if err != nil {
		return nil, err
	}
	for _, l := range parsed {
		l.Nodes, l.Kwargs = nil, nil // a Sequential chain is implied by the order
	}
	first := parsed[0]
	var in *kLayer
	if first.Class == "InputLayer" {
		in = first
		parsed = parsed[1:]
	} else {
		shape, err := sequentialInputShape(first, m, mc)
		if err != nil {
			return nil, err
		}
		in = &kLayer{Class: "InputLayer", Name: p.impliedInputName(first),
			Cfg: cfg{"batch_input_shape": shapeToJSON(shape)}}
	}
	out.Layers = append(out.Layers, in)
	prev := in.Name
	for _, l := range parsed {
		l.Nodes = [][]kRef{{{Layer: prev}}}
		out.Layers = append(out.Layers, l)
		prev = l.Name
	}
	out.Inputs = []kRef{{Layer: in.Name}}
	out.Outputs = []kRef{{Layer: prev}}
	return out, nil
}

func shapeToJSON(s []int) []any {
	out := make([]any, len(s))
	for i, d := range s {
		if d < 0 {
			out[i] = nil
		} else {
			out[i] = float64(d)
		}
	}
	return out
}

// sequentialInputShape finds the input shape (with batch) of a Sequential
// model that has no InputLayer entry.
func sequentialInputShape(first *kLayer, m map[string]any, mc cfg) ([]int, error) {
	c := first.Cfg
	if first.Model != nil { // a nested model first: its own input
		for _, l := range first.Model.Layers {
			if l.Class == "InputLayer" {
				return inputLayerShape(l)
			}
		}
	}
	if v, ok := c.raw("batch_input_shape", "batch_shape"); ok {
		return toShape(v, first.Name+" batch_input_shape")
	}
	if v, ok := c.raw("input_shape"); ok {
		s, err := toShape(v, first.Name+" input_shape")
		if err != nil {
			return nil, err
		}
		return append([]int{-1}, s...), nil
	}
	if c.has("input_dim") {
		d, err := c.integer(0, "input_dim")
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("layer %q: bad input_dim", first.Name)
		}
		if first.Class == "Embedding" {
			n, _ := c.integer(-1, "input_length")
			return []int{-1, n}, nil
		}
		if c.has("input_length") {
			n, _ := c.integer(-1, "input_length")
			return []int{-1, n, d}, nil
		}
		return []int{-1, d}, nil
	}
	for _, bc := range []any{m["build_config"], mc["build_config"]} {
		if b, ok := bc.(map[string]any); ok {
			if v, ok := b["input_shape"]; ok && v != nil {
				return toShape(v, "build_config input_shape")
			}
		}
	}
	return nil, fmt.Errorf("sequential model: the first layer %q declares no input shape", first.Name)
}

func inputLayerShape(l *kLayer) ([]int, error) {
	if v, ok := l.Cfg.raw("batch_input_shape", "batch_shape"); ok {
		return toShape(v, l.Name+" batch_input_shape")
	}
	if v, ok := l.Cfg.raw("input_shape", "shape"); ok {
		s, err := toShape(v, l.Name+" input_shape")
		if err != nil {
			return nil, err
		}
		return append([]int{-1}, s...), nil
	}
	return nil, fmt.Errorf("input layer %q has no shape", l.Name)
}
