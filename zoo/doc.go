// Package zoo builds well-known networks as ir graphs and fetches their
// published pretrained weights.
//
// Builders name their vertices as Keras Applications names its layers
// (VGG16: block1_conv1 … fc1, fc2, predictions; ResNet50: conv1_pad,
// conv1_conv, conv1_bn, conv2_block1_1_conv …; MobileNetV2: Conv1, bn_Conv1,
// expanded_conv_depthwise, block_1_expand …), so the weight files Keras
// publishes load by name. Graph inputs are NCHW internally and remember the
// NHWC layout Keras models take data in.
//
// Weight files are downloaded into a cache folder with resume and checksum
// verification (see Cache), or registered from a file the user already has.
package zoo
