package zoo

import (
	"github.com/retarget-dev/retarget/importers/keras"
	"github.com/retarget-dev/retarget/ir"
)

// LoadKerasWeights fills a zoo graph (built with ShapeOnly false, or
// allocated) from a Keras weights file such as the ones `retarget zoo
// pull` downloads: layers are matched to vertices by their Keras
// Applications names and converted to the IR layout. The graph must have
// been built for the file (IncludeTop, Classes, Alpha, input side):
// every mismatch is listed in one *keras.WeightsError and the graph is
// left unchanged.
func LoadKerasWeights(g *ir.Graph, path string) error {
	return keras.LoadWeights(g, path, keras.LoadWeightsOptions{})
}
