package zoo

import "fmt"

// HashAlgo names the checksum algorithm a published hash uses.
type HashAlgo string

const (
	// MD5 is what Keras Applications publishes as file_hash for its
	// weight files (32 hex digits; keras.utils.get_file picks the
	// algorithm from the hash length).
	MD5    HashAlgo = "md5"
	SHA256 HashAlgo = "sha256"
)

// Weights is one published pretrained weight file.
type Weights struct {
	// Name is "imagenet" (with the classifier) or "imagenet-notop".
	Name string `json:"name"`
	// IncludeTop tells which graph the file fits.
	IncludeTop bool `json:"include_top"`
	// File is the cache file name (Keras's name for it).
	File string `json:"file"`
	URL  string `json:"url"`
	// Hash is the checksum the publisher gives, in HashAlgo; empty when none
	// is published (the cache then records the SHA-256 of the first
	// download and checks later copies against it).
	Hash     string   `json:"hash,omitempty"`
	HashAlgo HashAlgo `json:"hash_algo,omitempty"`
}

const kerasApps = "https://storage.googleapis.com/tensorflow/keras-applications/"

// Hashes as published in keras/src/applications/{vgg16,vgg19,resnet}.py.
var (
	vgg16Weights = []Weights{
		{Name: "imagenet", IncludeTop: true, File: "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
			URL: kerasApps + "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5", Hash: "64373286793e3c8b2b4e3219cbf3544b", HashAlgo: MD5},
		{Name: "imagenet-notop", File: "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
			URL: kerasApps + "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5", Hash: "6d6bbae143d832006294945121d1f1fc", HashAlgo: MD5},
	}
	vgg19Weights = []Weights{
		{Name: "imagenet", IncludeTop: true, File: "vgg19_weights_tf_dim_ordering_tf_kernels.h5",
			URL: kerasApps + "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels.h5", Hash: "cbe5617147190e668d6c5d5026f83318", HashAlgo: MD5},
		{Name: "imagenet-notop", File: "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
			URL: kerasApps + "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", Hash: "253f8cb515780f3b799900260a226db6", HashAlgo: MD5},
	}
	resnet50Weights = []Weights{
		{Name: "imagenet", IncludeTop: true, File: "resnet50_weights_tf_dim_ordering_tf_kernels.h5",
			URL: kerasApps + "resnet/resnet50_weights_tf_dim_ordering_tf_kernels.h5", Hash: "2cb95161c43110f7111970584f804107", HashAlgo: MD5},
		{Name: "imagenet-notop", File: "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
			URL: kerasApps + "resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5", Hash: "4d473c1dd8becc155b73f8504c6f6626", HashAlgo: MD5},
	}
)

// MobileNetV2Weights names Keras's MobileNetV2 file for a width multiplier
// and input side. Keras publishes no hash for these files.
func MobileNetV2Weights(alpha float64, side int, includeTop bool) Weights {
	a := fmt.Sprintf("%g", alpha)
	if alpha == float64(int(alpha)) {
		a = fmt.Sprintf("%.1f", alpha) // Python's str(float(1)) is "1.0"
	}
	file := fmt.Sprintf("mobilenet_v2_weights_tf_dim_ordering_tf_kernels_%s_%d.h5", a, side)
	name := "imagenet"
	if !includeTop {
		file = fmt.Sprintf("mobilenet_v2_weights_tf_dim_ordering_tf_kernels_%s_%d_no_top.h5", a, side)
		name = "imagenet-notop"
	}
	return Weights{Name: name, IncludeTop: includeTop, File: file, URL: kerasApps + "mobilenet_v2/" + file}
}
