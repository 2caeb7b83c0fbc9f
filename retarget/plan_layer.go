package retarget

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/retarget-dev/retarget/ir"
)

// planLayer is a layer as a plan writes it: {type: dense, nout: 64,
// activation: relu, …}. Every other key is the ir layer's config field of
// the same name (kernel, strides, padding, rate, loss, return_sequences,
// …); the input size is never written, it is inferred.
type planLayer struct {
	layer   ir.Layer
	hasSize bool // nout given (or the type has no size)
}

// layerFromYAML builds an ir layer from a plan's layer mapping. The error
// names the key it is about (the caller places it on a line).
func layerFromYAML(n *yaml.Node) (planLayer, string, error) {
	var m map[string]any
	if err := n.Decode(&m); err != nil {
		return planLayer{}, "", err
	}
	return layerFromMap(m)
}

func layerFromMap(m map[string]any) (planLayer, string, error) {
	t, _ := m["type"].(string)
	if t == "" {
		return planLayer{}, "type", fmt.Errorf("type is required (dense, output, conv2d, lstm, gru, simple_rnn, dropout, batchnorm, activation, rnn_output, …)")
	}
	kind, err := layerKind(t)
	if err != nil {
		return planLayer{}, "type", err
	}
	l, err := ir.NewLayer(kind)
	if err != nil {
		return planLayer{}, "type", err
	}
	cfg := map[string]any{}
	nout := 0
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		switch k {
		case "type":
			continue
		case "nout":
			n, ok := v.(int)
			if !ok || n <= 0 {
				return planLayer{}, k, fmt.Errorf("nout must be a positive integer, got %v", v)
			}
			nout = n
			continue
		case "units", "filters", "output_dim":
			return planLayer{}, k, fmt.Errorf("write the layer size as nout, not %s", k)
		case "nin", "n_in", "input_dim":
			return planLayer{}, k, fmt.Errorf("the input size is inferred from the inputs: remove %s", k)
		case "activation", "recurrent_activation":
			if s, ok := v.(string); ok {
				v = map[string]any{"kind": s}
			}
		case "kernel", "strides", "dilations", "size":
			if n, ok := v.(int); ok {
				v = repeatInt(n, l)
			}
		case "layer":
			inner, ok := v.(map[string]any)
			if !ok {
				return planLayer{}, k, fmt.Errorf("layer must be a mapping")
			}
			il, key, err := layerFromMap(inner)
			if err != nil {
				return planLayer{}, key, fmt.Errorf("layer: %w", err)
			}
			b, err := ir.MarshalLayer(il.layer)
			if err != nil {
				return planLayer{}, k, err
			}
			v = json.RawMessage(b)
		}
		cfg[k] = v
	}
	if len(cfg) > 0 {
		b, err := json.Marshal(cfg)
		if err != nil {
			return planLayer{}, "", err
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(l); err != nil {
			key := unknownField(err)
			msg := strings.TrimPrefix(err.Error(), "json: ")
			return planLayer{}, key, fmt.Errorf("%s: %s", t, msg)
		}
	}
	sz, sized := l.(ir.Sized)
	if nout > 0 {
		if !sized {
			return planLayer{}, "nout", fmt.Errorf("a %s layer has no nout", t)
		}
		sz.SetOutUnits(nout)
	}
	return planLayer{layer: l, hasSize: !sized || nout > 0}, "", nil
}

// repeatInt expands a scalar kernel/stride to the layer's spatial rank.
func repeatInt(n int, l ir.Layer) []any {
	r := 2
	switch c := l.(type) {
	case *ir.Conv:
		r = c.Rank
	case *ir.Pool:
		r = c.Rank
	case *ir.ConvTranspose2D:
		r = c.SpatialRank()
	case *ir.UpSampling:
		r = c.Rank
	}
	out := make([]any, r)
	for i := range out {
		out[i] = n
	}
	return out
}
