package modelio

import (
	"fmt"

	exponnx "github.com/retarget-dev/retarget/exporters/onnx"
	imponnx "github.com/retarget-dev/retarget/importers/onnx"
	"github.com/retarget-dev/retarget/ir"
)

func init() {
	Register(Format{Name: "onnx", Extensions: []string{".onnx"}, Load: loadONNX, Save: saveONNX})
}

func loadONNX(path string, opts LoadOptions) (*ir.Graph, error) {
	if opts.Weights != "" {
		return nil, fmt.Errorf("%s: an ONNX file holds its weights; a separate weights file (--weights, or a plan's weights:) applies only to Keras JSON architectures", path)
	}
	return imponnx.Import(path, imponnx.Options{})
}

func saveONNX(path string, g *ir.Graph, opts SaveOptions) error {
	return exponnx.Export(path, g, exponnx.Options{Opset: opts.Opset, ChannelsFirst: opts.ChannelsFirst})
}
