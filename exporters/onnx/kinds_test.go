package onnx

import (
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// TestEveryKindHasAnEmitter: every layer kind has an ONNX emitter or a
// registered reason why ONNX cannot hold it, never both.
func TestEveryKindHasAnEmitter(t *testing.T) {
	for _, k := range ir.Kinds() {
		_, ok := emitters[k]
		why, no := cannot[k]
		switch {
		case ok && no:
			t.Errorf("%s has an emitter and a reason it cannot be written (%s)", k, why)
		case !ok && !no:
			t.Errorf("%s has no ONNX emitter and no cannot entry: register one in kinds.go", k)
		case no && why == "":
			t.Errorf("%s: empty reason", k)
		}
	}
	for k := range decomposed {
		if _, ok := emitters[k]; !ok {
			t.Errorf("decomposed %s has no emitter", k)
		}
	}
}
