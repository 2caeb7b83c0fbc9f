package data

import (
	"fmt"
	"image"
	_ "image/gif" // registered decoders
	_ "image/jpeg"
	_ "image/png"
	"math/rand"
	"os"

	"golang.org/x/image/draw"
)

// maxPixels bounds what one image may decode to (a 100-megapixel image);
// larger headers are refused before any pixel is allocated.
const maxPixels = 100 << 20

// Crop is how an image is cut to the network's input size.
type Crop string

const (
	// CropNone resizes the whole image to the input size (aspect not kept).
	CropNone Crop = ""
	// CropCenter resizes the shorter side to ResizeShorter, then takes the
	// center; CropRandom takes a random window (training augmentation).
	CropCenter Crop = "center"
	CropRandom Crop = "random"
)

// ImageTransform turns a decoded image into the network's input values.
type ImageTransform struct {
	Height, Width int
	// Channels is 3 (RGB order before the preset) or 1 (gray).
	Channels int
	Crop     Crop
	// ResizeShorter is the shorter side before cropping (default: the
	// larger of Height and Width times 256/224, as ImageNet evaluation).
	ResizeShorter int
	// Flip mirrors half of the images horizontally at random.
	Flip   bool
	Preset Preset
	// ChannelsFirst writes [C, H, W] instead of [H, W, C].
	ChannelsFirst bool
}

// CorruptImageError is an image file that could not be decoded.
type CorruptImageError struct {
	Path string
	Err  error
}

func (e *CorruptImageError) Error() string { return fmt.Sprintf("image %s: %v", e.Path, e.Err) }
func (e *CorruptImageError) Unwrap() error { return e.Err }

// LoadImage decodes an image file and writes it into out
// (Height*Width*Channels values) per the transform. rng drives random crops
// and flips (nil: none).
func (t *ImageTransform) LoadImage(path string, out []float32, rng *rand.Rand) error {
	f, err := os.Open(path)
	if err != nil {
		return &CorruptImageError{path, err}
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return &CorruptImageError{path, err}
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return &CorruptImageError{path, fmt.Errorf("%dx%d pixels is not a usable size", cfg.Width, cfg.Height)}
	}
	if _, err := f.Seek(0, 0); err != nil {
		return &CorruptImageError{path, err}
	}
	img, _, err := image.Decode(f)
	if err != nil {
		return &CorruptImageError{path, err}
	}
	t.Apply(img, out, rng)
	return nil
}

// Apply resizes, crops, flips and normalises img into out.
func (t *ImageTransform) Apply(img image.Image, out []float32, rng *rand.Rand) {
	b := img.Bounds()
	h, w := t.Height, t.Width
	src := b
	var dstW, dstH int
	if t.Crop == CropNone {
		dstW, dstH = w, h
	} else {
		short := t.ResizeShorter
		if short <= 0 {
			short = max(h, w) * 256 / 224
		}
		short = max(short, h, w)
		if b.Dx() < b.Dy() {
			dstW, dstH = short, max(h, b.Dy()*short/b.Dx())
		} else {
			dstH, dstW = short, max(w, b.Dx()*short/b.Dy())
		}
	}
	scaled := image.NewRGBA(image.Rect(0, 0, dstW, dstH))
	draw.BiLinear.Scale(scaled, scaled.Bounds(), img, src, draw.Src, nil)
	x0, y0 := (dstW-w)/2, (dstH-h)/2
	if t.Crop == CropRandom && rng != nil {
		x0, y0 = rng.Intn(dstW-w+1), rng.Intn(dstH-h+1)
	}
	flip := t.Flip && rng != nil && rng.Intn(2) == 1
	c := t.Channels
	if c != 1 {
		c = 3
	}
	var px [3]float32
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			sx := x
			if flip {
				sx = w - 1 - x
			}
			o := scaled.PixOffset(x0+sx, y0+y)
			p := scaled.Pix[o : o+4]
			// RGBA is alpha-premultiplied: transparent areas come out black
			rgb := [3]float32{float32(p[0]), float32(p[1]), float32(p[2])}
			t.Preset.apply(rgb, c, px[:c])
			for ch := 0; ch < c; ch++ {
				if t.ChannelsFirst {
					out[(ch*h+y)*w+x] = px[ch]
				} else {
					out[(y*w+x)*c+ch] = px[ch]
				}
			}
		}
	}
}
