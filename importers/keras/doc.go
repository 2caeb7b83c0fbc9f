// Package keras imports Keras models into an ir.Graph: whole-model HDF5
// files from Keras 1.x, Keras 2.x and tf.keras 2.x, Keras 3 .keras
// archives, and JSON architectures (model.to_json()) with a weights file
// (Keras 1/2 save_weights HDF5 or Keras 3 .weights.h5).
//
// LoadWeights fills an existing graph (a zoo model, say) from a weights
// file with no config, matching layers to vertices by name.
//
// HDF5 bytes are decoded by internal/hdf5; this package reads Keras's
// structure: model_config / config.json, training_config / compile_config,
// layer_names and weight_names (also split as layer_names0, 1, ...), the
// Keras 3 layers/<name>/vars/<i> layout.
//
// Each Keras layer class maps through a registered mapper (registry.go;
// SupportedLayers lists them). Every weight is checked against the shape
// the Keras config implies before its layout is converted and against the
// IR parameter shape after; a mismatch is an error naming the layer and
// both shapes. Unsupported layers (Lambda, custom classes, anything without
// a mapper) fail the import with one *UnsupportedError listing them all.
//
// Layout. The IR is channels first. A channels-last Keras tensor is kept
// in IR channels-first form and marked so; layers that need the Keras
// order get an ir.Permute vertex in front (named "<layer>_to_channels_last"
// or "_to_channels_first"). Graph inputs read only by channels-last image
// layers take NHWC (NWC for Conv1D) data directly (ir.Input.Layout), and a
// channels-last image output is returned NHWC (ir.GraphOutput.Layout).
//
// Flatten after a channels-last convolution: the IR flattens [C, H, W]
// while Keras flattened [H, W, C]. The importer keeps the Flatten vertex
// and permutes the rows of the Dense kernel that reads it, so vertex names
// stay 1:1 with Keras layers; when something other than a Dense (through
// Dropout/activations) reads the flattened tensor, a Reshape, Permute,
// Flatten chain restores Keras's order first.
//
// Theano: Keras with the Theano backend convolves (flips kernels), so
// convolution kernels of files whose backend is "theano" are flipped.
// Keras 1 files do not record the backend; they are read as TensorFlow
// unless Options.Backend says "theano" (Meta["keras_backend_assumed"]).
//
// Shared layers (one Keras layer called on several inputs) become one
// vertex per call, "name", "name_1", ..., each with a copy of the weights;
// the IR has no weight sharing, so training them afterwards lets the
// copies drift apart. The copies are listed in Meta["keras_shared_layers"].
// Nested models are inlined with their layers' vertex names prefixed by
// "<model layer name>.".
//
// Output layers: a trailing Dense (with its activation, or followed by an
// activation layer, merged into it) becomes an ir.Output, or ir.RnnOutput
// when it applies per time step; the loss comes from the training config,
// else from the activation (softmax: MCXENT, sigmoid: XENT, otherwise
// MSE). A Keras loss without an IR equivalent is a warning in
// Meta["keras_warnings"], or an error with Options.Strict.
//
// Known limitations: an LSTM's returned cell state (return_state's h is the
// last step of the output; c is refused when used), initial states,
// Keras 1 Merge modes dot/cos, explicit mask arguments of a call (masks
// come from Embedding mask_zero or Masking), stateful RNNs (run stateless, with a warning), TimeDistributed
// around anything but per-step layers, ReLU with both a negative slope and
// a threshold maps to five vertices.
package keras
