package ir

import (
	"reflect"
	"testing"
)

// A zero field whose registered default is not zero must survive a JSON
// round trip (CloneLayer, the native format).
func TestCloneKeepsZeroFieldsWithNonZeroDefaults(t *testing.T) {
	for _, l := range []Layer{&LSTM{Units: 3}, &GRU{Units: 2}, &SimpleRNN{Units: 1}} {
		if c := CloneLayer(l); !reflect.DeepEqual(c, l) {
			t.Errorf("%s: %+v came back as %+v", l.Kind(), l, c)
		}
	}
}
