package modelio

import (
	"fmt"

	"github.com/retarget-dev/retarget/exporters/native"
	"github.com/retarget-dev/retarget/ir"
)

// Registration points. Each format plugs in here with one Register call;
// the CLI needs no change:
//
//	importers/keras:  Register(Format{Name: "keras", Extensions: []string{".h5", ".hdf5", ".keras"}, Load: ...})
//	importers/onnx:   Register(Format{Name: "onnx", Extensions: []string{".onnx"}, Load: ...})
//	exporters/onnx, exporters/keras: add Save to the same Format values
//	(one Format per extension set, with both Load and Save).
func init() {
	Register(Format{Name: "native", Extensions: []string{".rtm"}, Load: loadNative, Save: saveNative})
}

func loadNative(path string, opts LoadOptions) (*ir.Graph, error) {
	if opts.Weights != "" {
		return nil, fmt.Errorf("%s: an .rtm file holds its weights; a separate weights file (--weights, or a plan's weights:) applies only to Keras JSON architectures", path)
	}
	return native.Load(path)
}

func saveNative(path string, g *ir.Graph, _ SaveOptions) error { return native.Save(path, g) }
