package retarget

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/retarget-dev/retarget/data"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/npy"
)

// maxScannedLabelBytes bounds the class-number label files the plan check
// reads whole to check their range; larger ones are checked at run time.
const maxScannedLabelBytes = 1 << 20

// checkData reports where a data source does not fit graph g (the edited
// graph), without loading the data: .npy headers, the first line of CSV
// files, the class folders of an image folder. Files that do not exist
// are left to checkFiles.
func (probs *problems) checkData(p *Plan, s *DataSpec, where string, g *ir.Graph) {
	if s == nil || len(g.Inputs) != 1 {
		return
	}
	in := g.Inputs[0]
	tgt, err := targetOf(g)
	hasTarget := err == nil
	units := 0
	if hasTarget {
		units = outputUnits(tgt.layer)
	}
	add := func(key, format string, args ...any) {
		probs.add(lineAt(s.node, key), "%s: "+format, append([]any{where}, args...)...)
	}
	exists := func(path string) bool {
		_, err := os.Stat(path)
		return err == nil
	}
	switch s.Type {
	case "images":
		if len(in.Shape) != 3 || in.Shape[1] != s.Size[0] || in.Shape[2] != s.Size[1] {
			add("size", "size %v: the model input %q has shape %v (channels, height, width)", s.Size, in.Name, in.Shape)
		}
		dir := p.path(s.Path)
		if !exists(dir) {
			return
		}
		classes, err := data.ProbeImageClasses(dir)
		if err != nil {
			add("path", "%v", err)
			return
		}
		if len(classes) == 0 {
			add("path", "%s has no class subfolders: put each class's images in a folder of its own", s.Path)
		} else if hasTarget && tgt.classes > 0 && len(classes) != tgt.classes {
			add("path", "%s has %d class folders, the model's output %q has %d classes", s.Path, len(classes), tgt.layerName(g), tgt.classes)
		}
	case "npy":
		probs.checkNPY(p, s, g, in, tgt, hasTarget, units, add)
	case "csv":
		path := p.path(s.Path)
		if !exists(path) {
			return
		}
		rec, err := data.ProbeCSV(path, ',')
		if err != nil {
			add("path", "%s: %v", s.Path, err)
			return
		}
		cols := len(rec)
		if s.LabelColumn != nil && (*s.LabelColumn >= cols || *s.LabelColumn < -cols) {
			add("label_column", "label_column %d: %s has %d columns (0 to %d, or negative from the end)", *s.LabelColumn, s.Path, cols, cols-1)
			return
		}
		switch {
		case len(in.Shape) != 1:
			add("path", "%s: CSV rows are flat (%d feature columns), but the model input %q has shape %v", s.Path, cols-1, in.Name, in.Shape)
		case in.Shape[0] >= 0 && cols-1 != in.Shape[0]:
			add("path", "%s has %d feature columns (%d columns less the label), the model input %q takes %d", s.Path, cols-1, cols, in.Name, in.Shape[0])
		}
	case "csv-sequences":
		probs.checkSequences(p, s, in, tgt, hasTarget, units, add)
	}
}

// layerName names the loss output's vertex.
func (t labelTarget) layerName(g *ir.Graph) string {
	return g.Outputs[t.output].Vertex
}

// outputUnits is the width of a loss layer's output (0 when unknown).
func outputUnits(l ir.Layer) int {
	switch l := l.(type) {
	case *ir.Output:
		return l.Units
	case *ir.RnnOutput:
		return l.Units
	}
	return 0
}

func (probs *problems) checkNPY(p *Plan, s *DataSpec, g *ir.Graph, in ir.Input, tgt labelTarget, hasTarget bool, units int, add func(string, string, ...any)) {
	xh, xok := npyHeader(p.path(s.Features), s.Features, "features", add)
	yh, yok := npyHeader(p.path(s.Labels), s.Labels, "labels", add)
	if xok {
		switch {
		case len(xh.Shape) == 0:
			add("features", "%s has shape %v: it needs an example axis first", s.Features, xh.Shape)
			xok = false
		case !fitsInput(xh.Shape[1:], in):
			add("features", "%s has examples of shape %v, but the model input %q takes %v%s", s.Features, xh.Shape[1:], in.Name,
				sourceShape(in.Shape, in.Layout), layoutNote(in))
		}
	}
	if yok && len(yh.Shape) == 0 {
		add("labels", "%s has shape %v: it needs an example axis first", s.Labels, yh.Shape)
		yok = false
	}
	if xok && yok && xh.Shape[0] != yh.Shape[0] {
		add("labels", "%s has %d examples, %s has %d", s.Features, xh.Shape[0], s.Labels, yh.Shape[0])
	}
	if !yok || !hasTarget {
		return
	}
	ys := yh.Shape
	index := len(ys) == 1 || len(ys) == 2 && ys[1] == 1
	last := 1
	if len(ys) > 1 {
		last = ys[len(ys)-1]
	}
	switch {
	case tgt.sparse && last != 1:
		add("labels", "%s has labels of shape %v: the loss %s takes class numbers, shape [%d] or [%d, 1]", s.Labels, ys, lossOf(tgt.layer), ys[0], ys[0])
	case tgt.classes > 0 && !index && last != tgt.classes:
		add("labels", "%s has labels of shape %v (%d wide) for an output of %d classes: give one-hot rows of %d or class numbers",
			s.Labels, ys, last, tgt.classes, tgt.classes)
	case tgt.classes == 0 && units > 0 && last != units:
		add("labels", "%s has labels of shape %v (%d wide), the output %q has %d units", s.Labels, ys, last, tgt.layerName(g), units)
	case tgt.classes > 0 && index:
		probs.checkClassRange(p.path(s.Labels), s.Labels, tgt.classes, add)
	}
}

// lossOf is ir.LossOf without the ok ("" for a non-output layer).
func lossOf(l ir.Layer) ir.Loss {
	loss, _ := ir.LossOf(l)
	return loss
}

// checkClassRange checks a small class-number label file's values are
// class numbers below k (data.CheckClassNumbers).
func (probs *problems) checkClassRange(path, name string, k int, add func(string, string, ...any)) {
	if err := data.CheckClassNumbers(path, k, maxScannedLabelBytes); err != nil {
		add("labels", "%s: %v", name, err)
	}
}

// npyHeader probes an .npy header; ok is false when the file is missing
// (checkFiles reports it) or unusable (reported here).
func npyHeader(path, name, key string, add func(string, string, ...any)) (npy.Header, bool) {
	if _, err := os.Stat(path); err != nil {
		return npy.Header{}, false
	}
	h, err := data.ProbeNPY(path)
	if err != nil {
		add(key, "%s: %v", name, strings.TrimPrefix(err.Error(), path+": "))
		return h, false
	}
	return h, true
}

// fitsInput reports whether examples of shape ex (no batch axis) feed
// input in, as the engine takes them: in the source layout, or already in
// the internal one. Negative dimensions of the input take any size.
func fitsInput(ex []int, in ir.Input) bool {
	fit := func(want []int) bool {
		if len(ex) != len(want) {
			return false
		}
		for i, d := range want {
			if d >= 0 && ex[i] != d {
				return false
			}
		}
		return true
	}
	return fit(in.Shape) || fit(sourceShape(in.Shape, in.Layout))
}

// sourceShape is an internal shape in the layout the source model took
// (the engine moves NHWC rank-3 and NWC rank-2 example shapes).
func sourceShape(shape []int, l ir.Layout) []int {
	s := append([]int{}, shape...)
	if l.ChannelsLastFor(len(s)) {
		return append(s[1:], s[0])
	}
	return s
}

func layoutNote(in ir.Input) string {
	if in.Layout == "" {
		return ""
	}
	return fmt.Sprintf(" (%s)", in.Layout)
}

func (probs *problems) checkSequences(p *Plan, s *DataSpec, in ir.Input, tgt labelTarget, hasTarget bool, units int, add func(string, string, ...any)) {
	xdir, ydir := p.path(s.Features), p.path(s.Labels)
	sp, err := data.ProbeSequences(xdir, ydir)
	if err != nil {
		if _, serr := os.Stat(xdir); serr == nil {
			add("features", "%s: %v", s.Features, err)
		}
		return
	}
	f := sp.Features
	if !fitsSteps(f, in) {
		add("features", "%s has %d columns (features per step), but the model input %q has shape %v%s",
			filepath.Join(s.Features, sp.First), f, in.Name, sourceShape(in.Shape, in.Layout), layoutNote(in))
	}
	if !hasTarget {
		return
	}
	first := sp.First
	if sp.LabelErr != nil {
		add("labels", "%s: %v", filepath.Join(s.Labels, first), sp.LabelErr)
		return
	}
	if sp.LabelColumns < 0 {
		return
	}
	k := sp.LabelColumns
	switch {
	case tgt.sparse && k != 1:
		add("labels", "%s has %d columns: the loss %s takes one class number per line", filepath.Join(s.Labels, first), k, lossOf(tgt.layer))
	case tgt.classes > 0 && k != 1 && k != tgt.classes:
		add("labels", "%s has %d columns for an output of %d classes: give a class number or %d one-hot columns per line",
			filepath.Join(s.Labels, first), k, tgt.classes, tgt.classes)
	case tgt.classes == 0 && units > 0 && k != units:
		add("labels", "%s has %d columns, the output has %d units", filepath.Join(s.Labels, first), k, units)
	}
}

// fitsSteps reports whether steps of f features feed a sequence input
// whatever the number of steps: internal (time, features) or the source
// layout's.
func fitsSteps(f int, in ir.Input) bool {
	if len(in.Shape) != 2 {
		return false
	}
	src := sourceShape(in.Shape, in.Layout)
	return in.Shape[1] < 0 || in.Shape[1] == f || src[1] < 0 || src[1] == f
}
