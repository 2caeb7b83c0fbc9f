package keras

import (
	"fmt"
	"sort"
	"strings"
)

var mappers = map[string]mapper{}

// register makes a mapper handle Keras layer classes (Keras 1, 2 and 3
// names of the same layer go in one call).
func register(m mapper, classes ...string) {
	for _, c := range classes {
		if _, dup := mappers[c]; dup {
			panic("keras: mapper registered twice: " + c)
		}
		mappers[c] = m
	}
}

// SupportedLayers lists the Keras layer class names the importer maps.
func SupportedLayers() []string {
	var out []string
	for k := range mappers {
		out = append(out, k)
	}
	out = append(out, "InputLayer", "Sequential", "Model", "Functional")
	sort.Strings(out)
	return out
}

func isCustom(l *kLayer) bool {
	return l.Module != "" && !strings.HasPrefix(l.Module, "keras") && !strings.HasPrefix(l.Module, "tf_keras")
}

func lookupMapper(l *kLayer) mapper {
	if isCustom(l) {
		return nil
	}
	return mappers[l.Class]
}

// UnsupportedLayer names one layer the importer cannot map.
type UnsupportedLayer struct {
	Name, Class, Reason string
}

// UnsupportedError lists every layer of a model the importer cannot map.
type UnsupportedError struct {
	File   string
	Layers []UnsupportedLayer
}

func (e *UnsupportedError) Error() string {
	var b strings.Builder
	where := "model"
	if e.File != "" {
		where = e.File
	}
	fmt.Fprintf(&b, "%s: %d unsupported Keras layer(s):", where, len(e.Layers))
	lambda, custom := false, false
	for _, l := range e.Layers {
		fmt.Fprintf(&b, "\n  - %s (%s)", l.Name, l.Class)
		if l.Reason != "" {
			fmt.Fprintf(&b, ": %s", l.Reason)
		}
		lambda = lambda || l.Class == "Lambda"
		custom = custom || l.Reason == "custom class"
	}
	if lambda {
		b.WriteString("\nhint: a Lambda layer holds marshalled Python code, which is never run; replace it with built-in layers before saving the model")
	}
	if custom {
		b.WriteString("\nhint: custom layer classes cannot be imported; rebuild the model from built-in layers and copy the weights")
	}
	return b.String()
}

// wrapped lists the inner layers Bidirectional and TimeDistributed accept.
var (
	biInner = map[string]bool{"LSTM": true, "GRU": true, "SimpleRNN": true}
	tdInner = map[string]bool{"Dense": true, "Activation": true, "Dropout": true, "ReLU": true,
		"LeakyReLU": true, "ELU": true, "Softmax": true, "ThresholdedReLU": true,
		"GaussianNoise": true, "GaussianDropout": true, "AlphaDropout": true}
)

// scanUnsupported collects every layer (inside nested models and
// wrappers too) that no mapper handles.
func scanUnsupported(m *kModel, prefix string, out *[]UnsupportedLayer) {
	for _, l := range m.Layers {
		name := prefix + l.Name
		switch {
		case l.Model != nil:
			scanUnsupported(l.Model, name+".", out)
		case l.Class == "InputLayer":
		case isCustom(l):
			*out = append(*out, UnsupportedLayer{name, l.Class, "custom class"})
		case l.Class == "Lambda":
			*out = append(*out, UnsupportedLayer{name, l.Class, "arbitrary Python code"})
		case mappers[l.Class] == nil:
			*out = append(*out, UnsupportedLayer{name, l.Class, ""})
		case l.Class == "Bidirectional" || l.Class == "TimeDistributed":
			inner, err := innerLayer(l)
			switch {
			case err != nil:
				*out = append(*out, UnsupportedLayer{name, l.Class, err.Error()})
			case l.Class == "Bidirectional" && !biInner[inner.Class]:
				*out = append(*out, UnsupportedLayer{name, l.Class, "wraps " + inner.Class + " (only SimpleRNN, LSTM, GRU)"})
			case l.Class == "TimeDistributed" && !tdInner[inner.Class]:
				*out = append(*out, UnsupportedLayer{name, l.Class, "wraps " + inner.Class + " (only per-step layers such as Dense)"})
			}
		}
	}
}

// innerLayer parses the "layer" field of a wrapper.
func innerLayer(l *kLayer) (*kLayer, error) {
	e, ok := l.Cfg["layer"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("wrapper without an inner layer")
	}
	inner, err := (&parser{}).parseLayer(e, maxNesting) // a layer, never a model: no implied inputs
	if err != nil {
		return nil, err
	}
	return inner, nil
}
