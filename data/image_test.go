package data

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

var _ nn.Iterator = (*ImageIterator)(nil)
var _ nn.Iterator = (*SequenceIterator)(nil)

func solid(w, h int, c color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

func writeImage(t *testing.T, path string, img image.Image) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	var buf bytes.Buffer
	switch filepath.Ext(path) {
	case ".png":
		png.Encode(&buf, img)
	case ".jpg":
		jpeg.Encode(&buf, img, &jpeg.Options{Quality: 100})
	case ".gif":
		gif.Encode(&buf, img, nil)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// makeFolder writes classes red (PNG), green (JPEG) and blue (GIF), n
// images each, plus one corrupt file in "red".
func makeFolder(t *testing.T, n int) string {
	root := t.TempDir()
	cols := map[string]color.RGBA{"red": {255, 0, 0, 255}, "green": {0, 255, 0, 255}, "blue": {0, 0, 255, 255}}
	ext := map[string]string{"red": ".png", "green": ".jpg", "blue": ".gif"}
	for name, c := range cols {
		for i := 0; i < n; i++ {
			writeImage(t, filepath.Join(root, name, "img"+string(rune('a'+i))+ext[name]), solid(12+i, 9, c))
		}
	}
	os.WriteFile(filepath.Join(root, "red", "broken.png"), []byte("\x89PNG\r\n\x1a\nnot really"), 0o644)
	os.WriteFile(filepath.Join(root, "red", "notes.txt"), []byte("ignored"), 0o644)
	return root
}

func drain(t *testing.T, it nn.Iterator) []*nn.Batch {
	t.Helper()
	var out []*nn.Batch
	for {
		b, err := it.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
}

func TestImageFolderIterator(t *testing.T) {
	root := makeFolder(t, 4)
	f, err := ScanImageFolder(root)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(f.Classes, ",") != "blue,green,red" || len(f.Files) != 13 {
		t.Fatalf("classes %v, %d files", f.Classes, len(f.Files))
	}
	var warn bytes.Buffer
	it, err := NewImageIterator(f.Files, ImageOptions{
		ImageTransform: ImageTransform{Height: 6, Width: 5, Preset: PresetUnit},
		BatchSize:      5, Shuffle: true, Seed: 3, Warn: &warn, Workers: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	batches := drain(t, it)
	total := 0
	for _, b := range batches {
		x, y := b.Inputs[0], b.Labels[0]
		n := x.Shape[0]
		total += n
		if !ir.SameShape(x.Shape, []int{n, 6, 5, 3}) || !ir.SameShape(y.Shape, []int{n, 3}) {
			t.Fatalf("shapes %v %v", x.Shape, y.Shape)
		}
		for i := 0; i < n; i++ {
			class := argmax(y.Data[i*3 : i*3+3])
			// blue=0 green=1 red=2; the pixel's hot channel is R,G,B = 2-class
			px := x.Data[i*90 : i*90+3]
			hot := 2 - class
			for ch := 0; ch < 3; ch++ {
				want := float32(0)
				if ch == hot {
					want = 1
				}
				if math.Abs(float64(px[ch]-want)) > 0.02 { // JPEG is lossy
					t.Fatalf("class %d pixel %v", class, px)
				}
			}
		}
	}
	if total != 12 || it.Skipped() != 1 || !strings.Contains(warn.String(), "broken.png") {
		t.Fatalf("%d examples, %d skipped, warnings %q", total, it.Skipped(), warn.String())
	}
	// a second epoch after Reset, also midway through
	it.Reset()
	it.Next()
	it.Reset()
	if got := len(drain(t, it)); got != 3 {
		t.Fatalf("second epoch: %d batches", got)
	}
	it.Close()
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

func TestPresetsAndLayout(t *testing.T) {
	img := solid(4, 4, color.RGBA{200, 100, 50, 255})
	cases := []struct {
		p    Preset
		want [3]float32
	}{
		{PresetUnit, [3]float32{200 / 255.0, 100 / 255.0, 50 / 255.0}},
		{PresetVGG, [3]float32{50 - 103.939, 100 - 116.779, 200 - 123.68}}, // BGR
		{PresetTorch, [3]float32{(200/255.0 - 0.485) / 0.229, (100/255.0 - 0.456) / 0.224, (50/255.0 - 0.406) / 0.225}},
		{PresetTF, [3]float32{200/127.5 - 1, 100/127.5 - 1, 50/127.5 - 1}},
	}
	for _, c := range cases {
		tr := ImageTransform{Height: 2, Width: 2, Channels: 3, Preset: c.p}
		hwc := make([]float32, 12)
		tr.Apply(img, hwc, nil)
		tr.ChannelsFirst = true
		chw := make([]float32, 12)
		tr.Apply(img, chw, nil)
		for ch := 0; ch < 3; ch++ {
			if math.Abs(float64(hwc[ch]-c.want[ch])) > 1e-4 || math.Abs(float64(chw[ch*4+3]-c.want[ch])) > 1e-4 {
				t.Errorf("%s channel %d: nhwc %v nchw %v want %v", c.p, ch, hwc[ch], chw[ch*4+3], c.want[ch])
			}
		}
	}
}

func TestCropAndFlip(t *testing.T) {
	// left half black, right half white, 8x4
	img := image.NewRGBA(image.Rect(0, 0, 8, 4))
	for y := 0; y < 4; y++ {
		for x := 4; x < 8; x++ {
			img.SetRGBA(x, y, color.RGBA{255, 255, 255, 255})
		}
	}
	tr := ImageTransform{Height: 4, Width: 4, Channels: 1, Crop: CropCenter, ResizeShorter: 4, Preset: PresetRaw}
	out := make([]float32, 16)
	tr.Apply(img, out, nil)
	// center crop of the 8x4 image keeps columns 2..5: dark then bright
	if out[0] > 10 || out[3] < 245 {
		t.Fatalf("center crop row %v", out[:4])
	}
	tr.Flip = true
	flipped := false
	for seed := int64(0); seed < 8; seed++ {
		tr.Apply(img, out, newRand(seed))
		if out[0] > 245 && out[3] < 10 {
			flipped = true
		}
	}
	if !flipped {
		t.Fatal("no flip in 8 draws")
	}
}

func TestSplitStratified(t *testing.T) {
	root := makeFolder(t, 5)
	f, _ := ScanImageFolder(root)
	train, test, err := f.Split(0.2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(train)+len(test) != len(f.Files) {
		t.Fatal("files lost")
	}
	per := map[int]int{}
	for _, x := range test {
		per[x.Class]++
	}
	if len(per) != 3 {
		t.Fatalf("test classes %v", per)
	}
	train2, _, _ := f.Split(0.2, 1)
	for i := range train {
		if train[i] != train2[i] {
			t.Fatal("split not reproducible")
		}
	}
}

func TestImageFolderErrors(t *testing.T) {
	if _, err := ScanImageFolder(t.TempDir()); err == nil {
		t.Error("empty folder accepted")
	}
	d := t.TempDir()
	os.MkdirAll(filepath.Join(d, "cat"), 0o755)
	if _, err := ScanImageFolder(d); err == nil {
		t.Error("class folder without images accepted")
	}
	// a decompression bomb header is refused without allocating
	big := filepath.Join(d, "cat", "bomb.png")
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1)))
	b := buf.Bytes()
	// patch IHDR width/height to 100000 x 100000 (CRC left wrong: DecodeConfig does not check it)
	copy(b[16:24], []byte{0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0})
	os.WriteFile(big, b, 0o644)
	tr := ImageTransform{Height: 2, Width: 2, Channels: 3}
	if err := tr.LoadImage(big, make([]float32, 12), nil); err == nil {
		t.Error("huge image accepted")
	}
}
