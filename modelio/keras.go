package modelio

import (
	"fmt"

	kexp "github.com/retarget-dev/retarget/exporters/keras"
	kimp "github.com/retarget-dev/retarget/importers/keras"
	"github.com/retarget-dev/retarget/ir"
)

// Keras: whole-model HDF5 (read and written as Keras 2), Keras 3 .keras
// archives (read), and JSON architectures with --weights (read).
func init() {
	Register(Format{Name: "keras", Extensions: []string{".h5", ".hdf5"}, Load: loadKerasWhole, Save: saveKeras})
	Register(Format{Name: "keras3", Extensions: []string{".keras"}, Load: loadKerasWhole})
	Register(Format{Name: "keras-json", Extensions: []string{".json"}, Load: loadKeras})
}

func loadKeras(path string, opts LoadOptions) (*ir.Graph, error) {
	return kimp.Import(path, kimp.Options{Weights: opts.Weights, Strict: opts.Strict})
}

// loadKerasWhole reads a file that holds its own weights (HDF5 whole model,
// .keras archive): the importer would ignore a separate weights file, so
// one is refused rather than silently unused.
func loadKerasWhole(path string, opts LoadOptions) (*ir.Graph, error) {
	if opts.Weights != "" {
		return nil, fmt.Errorf("%s: a whole-model Keras file holds its weights; a separate weights file (--weights, or a plan's weights:) applies only to Keras JSON architectures (model.to_json())", path)
	}
	return loadKeras(path, opts)
}

func saveKeras(path string, g *ir.Graph, _ SaveOptions) error {
	if g == nil {
		return fmt.Errorf("%s: no graph to save", path)
	}
	return kexp.Export(path, g)
}
