package history

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/retarget-dev/retarget/internal/atomicfile"
)

// Plot sizes: each panel is PanelWidth by PanelHeight pixels.
const (
	PanelWidth  = 800
	PanelHeight = 360
	dpi         = 96
)

// palette: training solid, validation dashed, in matching colours per
// metric.
var palette = []color.Color{
	color.RGBA{31, 119, 180, 255}, color.RGBA{255, 127, 14, 255}, color.RGBA{44, 160, 44, 255},
	color.RGBA{214, 39, 40, 255}, color.RGBA{148, 103, 189, 255}, color.RGBA{140, 86, 75, 255},
}

// panels groups the columns a plot draws: losses, then accuracies.
func (h *History) panels() [][]string {
	var loss, acc []string
	for _, c := range h.Columns {
		switch {
		case strings.HasSuffix(c, "loss"):
			loss = append(loss, c)
		case strings.HasSuffix(c, "accuracy"):
			acc = append(acc, c)
		}
	}
	var out [][]string
	for _, p := range [][]string{loss, acc} {
		if len(p) > 0 {
			out = append(out, p)
		}
	}
	return out
}

// WritePNG draws the loss curves (and the accuracy curves, when the
// history has any) against the epoch: a panel each, titled, with axis
// labels and a legend; training values are solid lines, validation
// (val_) values dashed, step rows a thin line between the epochs.
func (h *History) WritePNG(w io.Writer, title string) error {
	panels := h.panels()
	if len(panels) == 0 {
		return errors.New("the history has no loss or accuracy column to draw")
	}
	if len(h.Epochs()) == 0 && len(h.Rows) == 0 {
		return errors.New("the history has no rows yet")
	}
	perEpoch := 0.0
	if ep := h.Epochs(); len(ep) > 0 && ep[0].Epoch > 0 {
		perEpoch = float64(ep[0].Step) / float64(ep[0].Epoch)
	}
	plots := make([][]*plot.Plot, len(panels))
	for i, cols := range panels {
		p := plot.New()
		what := "Loss"
		if strings.HasSuffix(cols[0], "accuracy") {
			what = "Accuracy"
		}
		p.Title.Text = what
		if title != "" {
			p.Title.Text = title + ": " + strings.ToLower(what)
		}
		p.X.Label.Text = "epoch"
		p.Y.Label.Text = strings.ToLower(what)
		p.Add(plotter.NewGrid())
		p.Legend.Top = what == "Loss" // losses fall, accuracies rise: the empty corner
		p.Legend.XOffs, p.Legend.YOffs = -vg.Points(8), -vg.Points(4)
		if !p.Legend.Top {
			p.Legend.YOffs = vg.Points(8)
		}
		p.Legend.Left = false
		for _, c := range trainFirst(cols) {
			col := palette[h.colourIndex(c)%len(palette)]
			if pts := h.points(c, KindEpoch, perEpoch); len(pts) > 0 {
				l, s, err := plotter.NewLinePoints(pts)
				if err != nil {
					return err
				}
				l.Color, s.Color = col, col
				l.Width = vg.Points(2)
				s.Shape = draw.CircleGlyph{}
				s.Radius = vg.Points(2.5)
				if strings.HasPrefix(c, "val_") {
					l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
				}
				p.Add(l, s)
				p.Legend.Add(c, l, s)
			}
			if pts := h.points(c, KindStep, perEpoch); len(pts) > 0 && perEpoch > 0 {
				l, err := plotter.NewLine(pts)
				if err != nil {
					return err
				}
				l.Color = col
				l.Width = vg.Points(0.7)
				p.Add(l)
				p.Legend.Add(c+" (steps)", l)
			}
		}
		plots[i] = []*plot.Plot{p}
	}
	img := vgimg.NewWith(vgimg.UseWH(vg.Length(PanelWidth)*vg.Inch/dpi, vg.Length(PanelHeight*len(panels))*vg.Inch/dpi), vgimg.UseDPI(dpi))
	dc := draw.New(img)
	// a white background: a PNG viewer's transparent default is unreadable
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	t := draw.Tiles{Rows: len(panels), Cols: 1, PadX: vg.Millimeter, PadY: 4 * vg.Millimeter,
		PadTop: 2 * vg.Millimeter, PadBottom: 2 * vg.Millimeter, PadLeft: 2 * vg.Millimeter, PadRight: 4 * vg.Millimeter}
	canvases := plot.Align(plots, t, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}

// SavePNG writes WritePNG's picture atomically.
func (h *History) SavePNG(path, title string) error {
	if !strings.EqualFold(filepath.Ext(path), ".png") {
		return fmt.Errorf("plot %s: name it .png", path)
	}
	return atomicfile.Write(path, func(w io.Writer) error { return h.WritePNG(w, title) })
}

// trainFirst orders the training columns before the validation ones.
func trainFirst(cols []string) []string {
	var tr, val []string
	for _, c := range cols {
		if strings.HasPrefix(c, "val_") {
			val = append(val, c)
		} else {
			tr = append(tr, c)
		}
	}
	return append(tr, val...)
}

// colourIndex gives a column and its val_ twin the same colour, one per
// base metric across the panels.
func (h *History) colourIndex(c string) int {
	var bases []string
	for _, x := range h.Columns {
		if b := strings.TrimPrefix(x, "val_"); !slices.Contains(bases, b) && (strings.HasSuffix(b, "loss") || strings.HasSuffix(b, "accuracy")) {
			bases = append(bases, b)
		}
	}
	return slices.Index(bases, strings.TrimPrefix(c, "val_"))
}

// points are a column's values at rows of one kind, against the epoch
// (step rows at their fraction of an epoch).
func (h *History) points(col, kind string, perEpoch float64) plotter.XYs {
	var pts plotter.XYs
	for _, r := range h.Rows {
		v, ok := r.Values[col]
		if r.Kind != kind || !ok || v != v {
			continue
		}
		x := float64(r.Epoch)
		if kind == KindStep {
			if perEpoch <= 0 {
				continue
			}
			x = float64(r.Step) / perEpoch
		}
		pts = append(pts, plotter.XY{X: x, Y: v})
	}
	return pts
}
