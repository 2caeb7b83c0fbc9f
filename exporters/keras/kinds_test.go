package keras

import (
	"testing"

	"github.com/retarget-dev/retarget/internal/kerasclass"
	"github.com/retarget-dev/retarget/ir"
)

// TestEveryKindHasAWriter: every layer kind has a Keras writer or a
// registered reason why Keras cannot hold it, never both; a kind whose
// parameters Keras holds has a Keras class.
func TestEveryKindHasAWriter(t *testing.T) {
	for _, k := range ir.Kinds() {
		_, ok := writers[k]
		why, no := cannot[k]
		switch {
		case ok && no:
			t.Errorf("%s has a writer and a reason it cannot be written (%s)", k, why)
		case !ok && !no:
			t.Errorf("%s has no Keras writer and no cannot entry: register one in kinds.go", k)
		}
		if _, noW := kerasclass.NoKerasWeights[k]; noW && ok {
			t.Errorf("%s: kerasclass says Keras cannot hold its parameters, but it has a writer", k)
		}
	}
}
