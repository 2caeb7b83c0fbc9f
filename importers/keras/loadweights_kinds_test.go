package keras

import (
	"testing"

	"github.com/retarget-dev/retarget/internal/kerasclass"
	"github.com/retarget-dev/retarget/ir"
)

// TestEveryKindHasAWeightReader: every layer kind has exactly one of a
// weight reader (with a Keras class), a reason Keras cannot hold its
// parameters, or a declaration that it has none.
func TestEveryKindHasAWeightReader(t *testing.T) {
	for _, k := range ir.Kinds() {
		_, r := weightReaders[k]
		why, no := kerasclass.NoKerasWeights[k]
		n := 0
		for _, b := range []bool{r, no, withoutWeights[k]} {
			if b {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: reader %v, cannot %q, without weights %v: want exactly one (loadweights_kinds.go)", k, r, why, withoutWeights[k])
		}
		if l, _ := ir.NewLayer(k); r && kerasclass.Of(l, nil) == "" {
			t.Errorf("%s has a weight reader but no Keras class in internal/kerasclass", k)
		}
	}
}
