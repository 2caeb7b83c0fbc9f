// Package keras writes an ir.Graph as a Keras 2 whole-model HDF5 file, the
// way Keras 2.x saves one: a functional "Model" config in model_config,
// training_config from the graph's output losses, and a model_weights
// group with one group per layer, weights in Keras layouts (channels_last).
package keras

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/retarget-dev/retarget/internal/atomicfile"
	"github.com/retarget-dev/retarget/internal/hdf5"
	"github.com/retarget-dev/retarget/ir"
)

// KerasVersion is written as keras_version.
const KerasVersion = "2.3.1"

// UnsupportedError lists every vertex the exporter cannot express in Keras.
type UnsupportedError struct {
	File     string
	Vertices []string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("keras export %s: %d vertex(es) cannot be written as Keras layers:\n  - %s",
		e.File, len(e.Vertices), strings.Join(e.Vertices, "\n  - "))
}

// Export writes g to path (atomically: a temporary file renamed into place).
func Export(path string, g *ir.Graph) error {
	m, err := convert(g)
	if err != nil {
		if ue, ok := err.(*UnsupportedError); ok {
			ue.File = path
			return ue
		}
		return fmt.Errorf("keras export %s: %w", path, err)
	}
	if err := atomicfile.Write(path, m.writeTo); err != nil {
		return fmt.Errorf("keras export %s: %w", path, err)
	}
	return nil
}

// ExportTo writes g to w as a whole-model HDF5 file.
func ExportTo(w io.Writer, g *ir.Graph) error {
	m, err := convert(g)
	if err != nil {
		if ue, ok := err.(*UnsupportedError); ok {
			ue.File = "<writer>"
			return ue
		}
		return fmt.Errorf("keras export: %w", err)
	}
	if err := m.writeTo(w); err != nil {
		return fmt.Errorf("keras export: %w", err)
	}
	return nil
}

func (m *kmodel) writeTo(f io.Writer) error {
	w := hdf5.NewWriter(f)
	if err := m.write(w); err != nil {
		return err
	}
	return w.Close()
}

// kweight is one weight in Keras layout.
type kweight struct {
	name  string // "kernel:0", or "forward_lstm/kernel:0"
	shape []int
	data  []float32
}

// klayer is one Keras layer of the output model.
type klayer struct {
	class   string
	name    string
	config  map[string]any
	inbound []string // producing Keras layer names
	// kwInbound are tensor keyword arguments of the call (an attention
	// layer's value and key), written into the first reference's kwargs
	kwInbound map[string]string
	// callKwargs are other keyword arguments of the call (use_causal_mask),
	// written into every reference's kwargs (Keras 2 calls the layer with
	// the last one's)
	callKwargs map[string]any
	weights    []kweight
}

type kmodel struct {
	name    string
	layers  []*klayer
	inputs  []string
	outputs []string
	losses  map[string]any
	// lossWeights by output name; set when one output's weight is not 1
	lossWeights map[string]float64
	weights     map[string]float64 // every output's
	train       *ir.TrainConfig
}

func (m *kmodel) modelConfig() ([]byte, error) {
	var layers []any
	for _, l := range m.layers {
		cfg := map[string]any{}
		for k, v := range l.config {
			cfg[k] = v
		}
		cfg["name"] = l.name
		if _, ok := cfg["trainable"]; !ok {
			cfg["trainable"] = true
		}
		cfg["dtype"] = "float32"
		nodes := []any{}
		if len(l.inbound) > 0 {
			var node []any
			for i, in := range l.inbound {
				kw := map[string]any{}
				for k, v := range l.callKwargs {
					kw[k] = v
				}
				if i == 0 {
					for k, src := range l.kwInbound {
						kw[k] = []any{src, 0, 0}
					}
				}
				node = append(node, []any{in, 0, 0, kw})
			}
			nodes = append(nodes, node)
		}
		layers = append(layers, map[string]any{"class_name": l.class, "name": l.name, "config": cfg, "inbound_nodes": nodes})
	}
	refs := func(names []string) []any {
		out := []any{}
		for _, n := range names {
			out = append(out, []any{n, 0, 0})
		}
		return out
	}
	name := m.name
	if name == "" {
		name = "model"
	}
	return json.Marshal(map[string]any{"class_name": "Model", "config": map[string]any{
		"name": name, "layers": layers, "input_layers": refs(m.inputs), "output_layers": refs(m.outputs)}})
}

func (m *kmodel) trainingConfig() ([]byte, error) {
	opt := map[string]any{"class_name": "Adam", "config": map[string]any{"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": false, "decay": 0.0}}
	if t := m.train; t != nil && t.LearningRate > 0 {
		switch t.Updater {
		case ir.UpdSGD, ir.UpdMomentum, ir.UpdNesterov:
			opt = map[string]any{"class_name": "SGD", "config": map[string]any{"learning_rate": t.LearningRate, "momentum": t.Momentum, "nesterov": t.Updater == ir.UpdNesterov, "decay": 0.0}}
		case ir.UpdRMSProp:
			opt = map[string]any{"class_name": "RMSprop", "config": map[string]any{"learning_rate": t.LearningRate, "rho": orF(t.Rho, 0.9), "epsilon": orF(t.Epsilon, 1e-7), "decay": 0.0}}
		default:
			opt["config"].(map[string]any)["learning_rate"] = t.LearningRate
		}
	}
	var weights any
	if len(m.lossWeights) > 0 {
		weights = m.lossWeights
	}
	return json.Marshal(map[string]any{"optimizer_config": opt, "loss": m.losses, "metrics": []any{},
		"weighted_metrics": nil, "sample_weight_mode": nil, "loss_weights": weights})
}

func orF(v, d float64) float64 {
	if v == 0 {
		return d
	}
	return v
}

func (m *kmodel) write(w *hdf5.Writer) error {
	root := w.Root()
	mc, err := m.modelConfig()
	if err != nil {
		return err
	}
	if err := root.SetAttr("model_config", string(mc)); err != nil {
		return err
	}
	if len(m.losses) > 0 {
		tc, err := m.trainingConfig()
		if err != nil {
			return err
		}
		if err := root.SetAttr("training_config", string(tc)); err != nil {
			return err
		}
	}
	if err := setVersionAttrs(root); err != nil {
		return err
	}
	mw := root.CreateGroup("model_weights")
	var names []string
	for _, l := range m.layers {
		names = append(names, l.name)
		g := mw.CreateGroup(l.name)
		var wn []string
		for _, kw := range l.weights {
			full := l.name + "/" + kw.name
			wn = append(wn, full)
			shape := make([]uint64, len(kw.shape))
			for i, d := range kw.shape {
				shape[i] = uint64(d)
			}
			dg, base := g, full
			if i := strings.LastIndex(full, "/"); i >= 0 {
				dg, base = g.CreateGroup(full[:i]), full[i+1:]
			}
			if _, err := dg.CreateDataset(base, shape, kw.data); err != nil {
				return err
			}
		}
		var names any = wn
		if len(wn) == 0 {
			names = []float64{} // what Keras (numpy) writes for an empty list
		}
		if err := g.SetAttr("weight_names", names); err != nil {
			return err
		}
	}
	if err := mw.SetAttr("layer_names", names); err != nil {
		return err
	}
	if err := setVersionAttrs(mw); err != nil {
		return err
	}
	return w.Err()
}

// setVersionAttrs writes the keras_version and backend attributes, which
// Keras puts on both the file root and model_weights.
func setVersionAttrs(g *hdf5.WGroup) error {
	if err := g.SetAttr("keras_version", KerasVersion); err != nil {
		return err
	}
	return g.SetAttr("backend", "tensorflow")
}
