package history

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func sample() *History {
	h := New(ColLoss, "accuracy", "val_loss", "val_accuracy", ColLR)
	for e := 1; e <= 5; e++ {
		for s := 1; s <= 2; s++ {
			step := int64((e-1)*4 + 2*s)
			h.Add(Row{Epoch: e, Step: step, Kind: KindStep, Values: map[string]float64{ColLoss: 2 / float64(step), ColLR: 0.1}})
		}
		h.Add(Row{Epoch: e, Step: int64(4 * e), Kind: KindEpoch, Values: map[string]float64{
			ColLoss: 1.5 / float64(e), "accuracy": 1 - 0.5/float64(e), "val_loss": 1.7 / float64(e), "val_accuracy": 0.9 - 0.5/float64(e),
			ColLR: 0.1, ColElapsed: float64(e) * 0.25}})
	}
	return h
}

func TestSaveAndReadBack(t *testing.T) {
	h := sample()
	dir := t.TempDir()
	for _, name := range []string{"h.csv", "h.json"} {
		p := filepath.Join(dir, name)
		if err := h.Save(p); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Rows) != len(h.Rows) || len(got.Epochs()) != 5 {
			t.Fatalf("%s: %d rows back, want %d", name, len(got.Rows), len(h.Rows))
		}
		for i, r := range h.Rows {
			g := got.Rows[i]
			if g.Epoch != r.Epoch || g.Step != r.Step || g.Kind != r.Kind || len(g.Values) != len(r.Values) {
				t.Fatalf("%s row %d: %+v, want %+v", name, i, g, r)
			}
			for k, v := range r.Values {
				if math.Abs(g.Values[k]-v) > 1e-7*math.Abs(v) {
					t.Fatalf("%s row %d %s: %v, want %v", name, i, k, g.Values[k], v)
				}
			}
		}
		// the column set is the file's: elapsed_s was added by a row
		if len(got.Columns) != len(h.Columns) {
			t.Fatalf("%s columns %v, want %v", name, got.Columns, h.Columns)
		}
	}
	if err := h.Save(filepath.Join(dir, "h.txt")); err == nil {
		t.Fatal("a .txt history is accepted")
	}
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("a,b\n1,2\n"), 0o644)
	if _, err := ReadFile(bad); err == nil {
		t.Fatal("a CSV without the history header reads")
	}
}

// The picture has the size of two panels (loss and accuracy) and is not
// blank: many pixels are neither the white background nor one colour.
func TestPlotPNG(t *testing.T) {
	var buf bytes.Buffer
	if err := sample().WritePNG(&buf, "two heads"); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	if b.Dx() != PanelWidth || b.Dy() != 2*PanelHeight {
		t.Fatalf("size %dx%d, want %dx%d", b.Dx(), b.Dy(), PanelWidth, 2*PanelHeight)
	}
	colours := map[[3]uint32]int{}
	ink := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bb, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 8, g >> 8, bb >> 8}]++
			if r>>8 < 200 || g>>8 < 200 || bb>>8 < 200 {
				ink++
			}
		}
	}
	// curves in four colours plus antialiasing, text, axes and the grid
	if len(colours) < 20 || ink < 2000 {
		t.Fatalf("the plot looks blank: %d colours, %d inked pixels", len(colours), ink)
	}
	// blue (training loss) and orange (accuracy) curves are drawn
	for _, c := range [][3]uint32{{31, 119, 180}, {255, 127, 14}} {
		if colours[c] < 50 {
			t.Errorf("colour %v: %d pixels, the curve is missing", c, colours[c])
		}
	}
	one := New(ColLoss)
	one.Add(Row{Epoch: 1, Step: 3, Kind: KindEpoch, Values: map[string]float64{ColLoss: 1}})
	buf.Reset()
	if err := one.WritePNG(&buf, ""); err != nil {
		t.Fatal(err)
	}
	img, err = png.Decode(&buf)
	if err != nil || img.Bounds().Dy() != PanelHeight {
		t.Fatalf("one panel: %v %v", err, img.Bounds())
	}
	if err := New(ColLR).WritePNG(&buf, ""); err == nil {
		t.Fatal("a history without losses draws")
	}
}
