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
	Register(Format{Name: "keras", Extensions: []string{".h5", ".hdf5"}, Load: loadKeras, Save: saveKeras})
	Register(Format{Name: "keras3", Extensions: []string{".keras"}, Load: loadKeras})
	Register(Format{Name: "keras-json", Extensions: []string{".json"}, Load: loadKeras})
}

func loadKeras(path string, opts LoadOptions) (*ir.Graph, error) {
	return kimp.Import(path, kimp.Options{Weights: opts.Weights, Strict: opts.Strict})
}

func saveKeras(path string, g *ir.Graph, _ SaveOptions) error {
	if g == nil {
		return fmt.Errorf("%s: no graph to save", path)
	}
	return kexp.Export(path, g)
}
