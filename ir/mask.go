package ir

// How the sequence mask of Keras (Embedding mask_zero, Masking) flows from
// a vertex's inputs to its output; the engine and the ONNX exporter follow
// these rules. By default the output carries its first masked input's mask.

// StopsMask reports the kinds whose output carries no sequence mask: Keras
// layers that do not support masking (convolutions, pooling, Flatten,
// padding, cropping, upsampling) drop it, as Keras 3 does.
func StopsMask(l Layer) bool {
	switch l.(type) {
	case *Conv, *ConvTranspose2D, *SeparableConv2D, *Pool, *Flatten, *Cropping, *Pad, *UpSampling:
		return true
	}
	return false
}

// MergesMasks reports the kinds that combine their inputs step by step:
// their output keeps a step where every masked input does (a Concat along
// time concatenates the masks instead).
func MergesMasks(l Layer) bool {
	switch l.(type) {
	case *Merge, *Concat:
		return true
	}
	return false
}
