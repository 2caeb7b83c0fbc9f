package keras

import (
	"strings"

	"github.com/retarget-dev/retarget/internal/hdf5"
)

// StripModelConfig writes the weights of the whole-model Keras HDF5 file
// in as a save_weights file (Keras 2 layout: root attributes layer_names,
// backend, keras_version; a group per layer with weight_names), the file
// Keras's model.save_weights writes. It is exported for the package's
// external tests.
func StripModelConfig(in, out string) error {
	hf, err := hdf5.Open(in)
	if err != nil {
		return err
	}
	defer hf.Close()
	mw, err := hf.Root().Group("model_weights")
	if err != nil {
		return err
	}
	layers, _, err := attrStrings(mw, "layer_names")
	if err != nil {
		return err
	}
	w, err := hdf5.Create(out)
	if err != nil {
		return err
	}
	root := w.Root()
	if err := root.SetAttr("layer_names", layers); err != nil {
		return err
	}
	root.SetAttr("backend", "tensorflow")
	root.SetAttr("keras_version", "2.3.1")
	for _, l := range layers {
		g, err := mw.Group(l)
		if err != nil {
			return err
		}
		names, _, err := attrStrings(g, "weight_names")
		if err != nil {
			return err
		}
		lg := root.CreateGroup(l)
		var wn any = names
		if len(names) == 0 {
			wn = []float64{}
		}
		if err := lg.SetAttr("weight_names", wn); err != nil {
			return err
		}
		for _, n := range names {
			kw, err := readDataset(g, n)
			if err != nil {
				return err
			}
			shape := make([]uint64, len(kw.shape))
			for i, d := range kw.shape {
				shape[i] = uint64(d)
			}
			dg, base := lg, n
			if i := strings.LastIndex(n, "/"); i >= 0 {
				dg, base = lg.CreateGroup(n[:i]), n[i+1:]
			}
			if _, err := dg.CreateDataset(base, shape, kw.data); err != nil {
				return err
			}
		}
	}
	return w.Close()
}
