// Package demo is `retarget demo`: the whole product on an embedded model,
// offline, in seconds. A small CNN trained by this project on the digits
// 0–4 (assets/digits04.h5, reproduced by `go run ./demo/pretrain`) is
// imported from Keras HDF5, inspected, retargeted to the digits 5–9 (frozen
// convolutions, new 5-class output, featurized once, head fitted), widened
// in function-preserving mode, and exported as ONNX and .rtm.
package demo
