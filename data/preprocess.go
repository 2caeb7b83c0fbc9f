package data

import "fmt"

// Preset names how pixel values (0..255, RGB) become network inputs.
type Preset string

const (
	// PresetUnit scales to [0, 1].
	PresetUnit Preset = "unit"
	// PresetVGG is Keras's "caffe" mode (VGG, ResNet50): RGB to BGR, then
	// the ImageNet BGR means subtracted, no scaling.
	PresetVGG Preset = "vgg"
	// PresetTorch is Keras's "torch" mode / torchvision: [0, 1], then the
	// ImageNet mean subtracted and divided by the standard deviation per
	// RGB channel.
	PresetTorch Preset = "torch"
	// PresetTF is Keras's "tf" mode (MobileNetV2): scaled to [-1, 1].
	PresetTF Preset = "tf"
	// PresetRaw keeps 0..255.
	PresetRaw Preset = "raw"
)

// ParsePreset checks a preset name ("" means unit).
func ParsePreset(s string) (Preset, error) {
	switch Preset(s) {
	case "":
		return PresetUnit, nil
	case PresetUnit, PresetVGG, PresetTorch, PresetTF, PresetRaw:
		return Preset(s), nil
	}
	return "", fmt.Errorf("unknown preprocessing %q: use unit, vgg, torch, tf or raw", s)
}

var (
	caffeMeanBGR = [3]float32{103.939, 116.779, 123.68}
	torchMean    = [3]float32{0.485, 0.456, 0.406}
	torchStd     = [3]float32{0.229, 0.224, 0.225}
)

// apply maps one pixel's RGB values (0..255) to the channel values the
// network takes, in output channel order. With gray images (c == 1) the
// channel is the luminance and presets use the first channel's constants.
func (p Preset) apply(rgb [3]float32, c int, out []float32) {
	if c == 1 {
		y := 0.299*rgb[0] + 0.587*rgb[1] + 0.114*rgb[2]
		switch p {
		case PresetVGG:
			out[0] = y - caffeMeanBGR[0]
		case PresetTorch:
			out[0] = (y/255 - torchMean[0]) / torchStd[0]
		case PresetTF:
			out[0] = y/127.5 - 1
		case PresetRaw:
			out[0] = y
		default:
			out[0] = y / 255
		}
		return
	}
	for ch := 0; ch < 3; ch++ {
		switch p {
		case PresetVGG:
			out[ch] = rgb[2-ch] - caffeMeanBGR[ch]
		case PresetTorch:
			out[ch] = (rgb[ch]/255 - torchMean[ch]) / torchStd[ch]
		case PresetTF:
			out[ch] = rgb[ch]/127.5 - 1
		case PresetRaw:
			out[ch] = rgb[ch]
		default:
			out[ch] = rgb[ch] / 255
		}
	}
}
