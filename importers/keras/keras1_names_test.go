package keras

import (
	"path/filepath"
	"testing"
)

// A Sequential model without an InputLayer entry gets the input name its
// Keras version gave it: Keras 1's create_input_layer names it after the
// first layer's class and a per-prefix counter, Keras 2 after the layer.
func TestSequentialImpliedInputNames(t *testing.T) {
	dir := needReal(t)
	for file, want := range map[string]string{
		"dense_tensorflow_1.h5":              "dense_input_1",
		"dense_theano_1.h5":                  "dense_input_1",
		"lstm_theano_1.h5":                   "lstm_input_1",
		"conv2d_tensorflow_1.h5":             "convolution2d_input_1",
		"simple_rnn_tensorflow_1.h5":         "simplernn_input_1",
		"embedding_lstm_tensorflow_1.h5":     "embedding_input_1",
		"bidirectional_lstm_tensorflow_1.h5": "bidirectional_input_1",
		"dense_tensorflow_2.h5":              "dense_1_input",
		"lstm_tensorflow_2.h5":               "lstm_1_input",
		"conv2d_theano_2.h5":                 "conv2d_1_input",
	} {
		t.Run(file, func(t *testing.T) {
			g, err := Import(filepath.Join(dir, "weights", file), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(g.Inputs) != 1 || g.Inputs[0].Name != want {
				t.Errorf("inputs %+v, want one named %q (keras_version %s)", g.Inputs, want, g.Meta["keras_version"])
			}
		})
	}
}

// Nested Keras 1 Sequential models count their implied inputs per class
// prefix, as K.get_uid does within one session.
func TestKeras1ImpliedInputCounter(t *testing.T) {
	p := newParser("1.2.2")
	for _, want := range []string{"dense_input_1", "dense_input_2"} {
		if got := p.impliedInputName(&kLayer{Class: "Dense", Name: "dense_9"}); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	if got := p.impliedInputName(&kLayer{Class: "LSTM", Name: "lstm_1"}); got != "lstm_input_1" {
		t.Errorf("got %q, want lstm_input_1", got)
	}
	if got := newParser("2.1.3").impliedInputName(&kLayer{Class: "Dense", Name: "dense_9"}); got != "dense_9_input" {
		t.Errorf("Keras 2: got %q, want dense_9_input", got)
	}
}
