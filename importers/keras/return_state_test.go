package keras

import (
	"strings"
	"testing"
)

// A Keras 2 functional model using the states an RNN returns: h imports
// (the last step of the sequence output), an LSTM's cell state c is
// refused with an error that names it.
func TestReturnState(t *testing.T) {
	cfg := func(rnn, ref string) []byte {
		return []byte(`{"class_name": "Functional", "config": {"name": "m", "layers": [
 {"class_name": "InputLayer", "name": "seq", "config": {"name": "seq", "batch_input_shape": [null, 5, 3]}, "inbound_nodes": []},
 {"class_name": "` + rnn + `", "name": "rnn", "config": {"name": "rnn", "units": 4, "return_sequences": true, "return_state": true},
  "inbound_nodes": [[["seq", 0, 0, {}]]]},
 {"class_name": "Dense", "name": "out", "config": {"name": "out", "units": 2}, "inbound_nodes": [[` + ref + `]]}],
 "input_layers": [["seq", 0, 0]], "output_layers": [["out", 0, 0]]}}`)
	}
	for _, rnn := range []string{"SimpleRNN", "GRU", "LSTM"} {
		g, err := ImportConfig(cfg(rnn, `["rnn", 0, 1, {}]`), Options{})
		if err != nil {
			t.Fatalf("%s h: %v", rnn, err)
		}
		if v := g.Vertex("rnn_state"); v == nil || v.Layer.Kind() != "LastTimeStep" {
			t.Fatalf("%s: no LastTimeStep for the returned state", rnn)
		}
		if out := g.Vertex("out"); out.Inputs[0] != "rnn_state" {
			t.Errorf("%s: the Dense reads %v", rnn, out.Inputs)
		}
	}
	_, err := ImportConfig(cfg("LSTM", `["rnn", 0, 2, {}]`), Options{})
	if err == nil || !strings.Contains(err.Error(), "cell state") {
		t.Fatalf("using the LSTM cell state: %v", err)
	}
}
