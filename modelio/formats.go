package modelio

import (
	"fmt"

	"github.com/retarget-dev/retarget/exporters/native"
	"github.com/retarget-dev/retarget/ir"
)

// Every format is registered by this package, one file per format
// (formats.go: .rtm, onnx.go: .onnx, keras.go: .h5/.hdf5/.keras/.json),
// so that importers and exporters stay free of modelio. A new format is
// one more Register call in a new file here; the CLI needs no change.
func init() {
	Register(Format{Name: "native", Extensions: []string{".rtm"}, Load: loadNative, Save: saveNative})
}

func loadNative(path string, opts LoadOptions) (*ir.Graph, error) {
	if opts.Weights != "" {
		return nil, fmt.Errorf("%s: an .rtm file holds its weights; a separate weights file (--weights, or a plan's weights:) applies only to Keras JSON architectures", path)
	}
	return native.Import(path)
}

func saveNative(path string, g *ir.Graph, _ SaveOptions) error { return native.Export(path, g) }
