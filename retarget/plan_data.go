package retarget

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/retarget-dev/retarget/data"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// DataOptions are the iterator settings of a fit.
type DataOptions struct {
	BatchSize int // default 32
	Shuffle   bool
	Seed      int64
	// Part, when it is not the whole source, keeps only that part's
	// examples (Part.Bounds with BatchSize): featurize --shard.
	Part Part
}

// DataSet is an opened data source: an iterator over batches in the
// source layout of the graph's input, with labels for its loss output.
type DataSet struct {
	nn.Iterator
	N int // examples (of the part, when DataOptions.Part is set)
	// Total is the examples of the whole source and First the position of
	// the first example of the part in it (0 without a part).
	Total, First int
	// PartInfo is set when the source was opened for a part; pass it to
	// FeaturizeOptions.Part.
	PartInfo *PartInfo
	ID       string // identity of the source (paths, sizes, modification times, options): the featurize cache key
	closer   func() error
}

// Len is the number of examples.
func (d *DataSet) Len() int { return d.N }

// Close releases the iterator's workers (image decoding).
func (d *DataSet) Close() error {
	if d.closer != nil {
		return d.closer()
	}
	return nil
}

// ParseDataSpec reads a data source as the CLI takes it: a YAML/JSON flow
// mapping ({type: npy, features: x.npy, labels: y.npy}) or comma-separated
// key=value pairs (type=npy,features=x.npy,labels=y.npy; an image size as
// size=224x224). Keys and checks are a plan's.
func ParseDataSpec(s, name string) (*DataSpec, error) {
	n, err := specNode(s, name)
	if err != nil {
		return nil, err
	}
	p := &problems{file: name}
	spec := p.dataSpec(n, name)
	if err := p.err(); err != nil {
		return nil, fmt.Errorf("%s", problemText(err, name))
	}
	return spec, nil
}

// specNode parses a source from the command line (a flow mapping or
// key=value pairs) into a YAML mapping.
func specNode(s, name string) (*yaml.Node, error) {
	text := strings.TrimSpace(s)
	if !strings.HasPrefix(text, "{") {
		var b strings.Builder
		b.WriteString("{")
		for i, kv := range strings.Split(text, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("%s: %q is not key=value (e.g. type=npy,features=x.npy,labels=y.npy)", name, kv)
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if k == "size" {
				v = "[" + strings.ReplaceAll(strings.ToLower(v), "x", ", ") + "]"
			} else if k != "label_column" && k != "header" {
				v = strconv.Quote(v)
			}
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s: %s", k, v)
		}
		b.WriteString("}")
		text = b.String()
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(text), &n); err != nil || len(n.Content) == 0 {
		return nil, fmt.Errorf("%s: %q is not a data source: %v", name, s, err)
	}
	return n.Content[0], nil
}

// problemText joins a PlanError's messages for a command-line source.
func problemText(err error, name string) string {
	pe, ok := err.(*PlanError)
	if !ok {
		return err.Error()
	}
	var msgs []string
	for _, pr := range pe.Problems {
		// the parsers start most messages with name
		msgs = append(msgs, strings.TrimPrefix(pr.Msg, name+": "))
	}
	return name + ": " + strings.Join(msgs, "; ")
}

// resolved returns spec with relative paths joined to dir.
func (s DataSpec) resolved(dir string) DataSpec {
	j := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	s.Path, s.Features, s.Labels = j(s.Path), j(s.Features), j(s.Labels)
	return s
}

// files are the paths a source reads (that must exist before a run).
func (s DataSpec) files() []string {
	var out []string
	for _, p := range []string{s.Path, s.Features, s.Labels} {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// labelTarget describes what the loss output of g expects.
type labelTarget struct {
	output   int // index in g.Outputs
	layer    ir.Layer
	classes  int // > 0: class labels are one-hot encoded to this width
	sparse   bool
	classify bool // a classification loss: accuracy is reported
}

// Classifies reports whether g has one output with a classification loss
// (the outputs whose accuracy is worth reporting).
func Classifies(g *ir.Graph) bool {
	t, err := targetOf(g)
	return err == nil && t.classify
}

func targetOf(g *ir.Graph) (labelTarget, error) {
	t := labelTarget{output: -1}
	for k, o := range g.Outputs {
		v := g.Vertex(o.Vertex)
		if v == nil || !ir.IsOutputLayer(v.Layer) {
			continue
		}
		if t.output >= 0 {
			return t, fmt.Errorf("the graph has several outputs with a loss (%s, %s): a data source feeds one", g.Outputs[t.output].Name, o.Name)
		}
		t.output, t.layer = k, v.Layer
	}
	if t.output < 0 {
		return t, fmt.Errorf("the graph has no output with a loss to train: add an output layer (type: output or rnn_output)")
	}
	return targetAt(g, t.output), nil
}

// targetAt describes graph output k, which must be an output layer.
func targetAt(g *ir.Graph, k int) labelTarget {
	t := labelTarget{output: k, layer: g.Vertex(g.Outputs[k].Vertex).Layer}
	units, loss := 0, ir.Loss("")
	switch l := t.layer.(type) {
	case *ir.Output:
		units, loss = l.Units, l.Loss
	case *ir.RnnOutput:
		units, loss = l.Units, l.Loss
	}
	switch loss {
	case ir.LossMCXENT, ir.LossSparseMCXENT, ir.LossNLL, ir.LossXENT, ir.LossHinge, ir.LossSquaredHinge, ir.LossKLD:
		t.classify = true
	}
	switch loss {
	case ir.LossMCXENT, ir.LossNLL, ir.LossHinge, ir.LossSquaredHinge, ir.LossKLD:
		if units > 1 {
			t.classes = units
		}
	case ir.LossSparseMCXENT:
		t.classes, t.sparse = units, true
	case ir.LossXENT:
		if units > 1 {
			t.classes = units
		}
	}
	return t
}

// OpenData opens a data source for graph g (paths used as they are). The
// loss output of g decides the labels: class numbers become one-hot rows
// (index rows for sparse_mcxent) when it classifies, values are kept for
// regression.
func OpenData(spec DataSpec, g *ir.Graph, opt DataOptions) (*DataSet, error) {
	if len(g.Inputs) != 1 {
		return nil, fmt.Errorf("data sources feed one graph input; the graph has %d", len(g.Inputs))
	}
	tgt, err := targetOf(g)
	if err != nil {
		return nil, err
	}
	return openDataFor(spec, g, tgt, opt)
}

// OpenDataOutput is OpenData for graph output k, which must carry a loss;
// the graph may have other loss outputs (their labels stay nil).
func OpenDataOutput(spec DataSpec, g *ir.Graph, k int, opt DataOptions) (*DataSet, error) {
	if k < 0 || k >= len(g.Outputs) {
		return nil, fmt.Errorf("the graph has no output %d", k)
	}
	if v := g.Vertex(g.Outputs[k].Vertex); v == nil || !ir.IsOutputLayer(v.Layer) {
		return nil, fmt.Errorf("output %q has no loss, so it takes no labels", g.Outputs[k].Name)
	}
	return openDataFor(spec, g, targetAt(g, k), opt)
}

func openDataFor(spec DataSpec, g *ir.Graph, tgt labelTarget, opt DataOptions) (*DataSet, error) {
	if opt.BatchSize <= 0 {
		opt.BatchSize = 32
	}
	if len(g.Inputs) != 1 {
		return nil, fmt.Errorf("data sources feed one graph input; the graph has %d", len(g.Inputs))
	}
	if err := opt.Part.check(); err != nil {
		return nil, err
	}
	ds, err := openData(spec, g.Inputs[0], tgt, opt)
	if err != nil {
		return nil, err
	}
	if ds.Total == 0 {
		ds.Total = ds.N
	}
	if !opt.Part.Whole() {
		ds.PartInfo = &PartInfo{Index: opt.Part.Index, Count: opt.Part.Count, First: ds.First, Total: ds.Total, BatchSize: opt.BatchSize}
	}
	if ds.ID, err = dataIdentity(spec); err != nil {
		ds.Close()
		return nil, err
	}
	if len(g.Outputs) > 1 || tgt.output != 0 {
		ds.Iterator = &placeLabels{Iterator: ds.Iterator, n: len(g.Outputs), k: tgt.output}
	}
	return ds, nil
}

func openData(spec DataSpec, in ir.Input, tgt labelTarget, opt DataOptions) (*DataSet, error) {
	mode := data.OneHot
	if tgt.sparse {
		mode = data.Index
	}
	switch spec.Type {
	case "images":
		if len(in.Shape) != 3 {
			return nil, fmt.Errorf("images: the model input %q has shape %v, not an image", in.Name, in.Shape)
		}
		c, h, w := in.Shape[0], in.Shape[1], in.Shape[2] // internal shapes are channels first
		if len(spec.Size) != 2 || spec.Size[0] != h || spec.Size[1] != w {
			return nil, fmt.Errorf("images: size %v, but the model input %q takes %dx%d images", spec.Size, in.Name, h, w)
		}
		preset, err := data.ParsePreset(spec.Preprocess)
		if err != nil {
			return nil, err
		}
		folder, err := data.ScanImageFolder(spec.Path)
		if err != nil {
			return nil, err
		}
		if tgt.classes > 0 && len(folder.Classes) > tgt.classes {
			return nil, fmt.Errorf("images: %s has %d class folders, the model's output has %d classes", spec.Path, len(folder.Classes), tgt.classes)
		}
		layout := ir.LayoutNCHW
		if in.Layout == ir.LayoutNHWC {
			layout = ir.LayoutNHWC
		}
		total := len(folder.Files)
		lo, hi := opt.Part.Bounds(total, opt.BatchSize)
		if lo == hi {
			return emptyPart(total, lo), nil
		}
		it, err := data.NewImageIterator(folder.Files[lo:hi], data.ImageOptions{
			ImageTransform: data.ImageTransform{Height: h, Width: w, Channels: c, Preset: preset},
			Layout:         layout, BatchSize: opt.BatchSize, Shuffle: opt.Shuffle, Seed: opt.Seed,
			NumClasses: max(tgt.classes, len(folder.Classes)), Labels: mode})
		if err != nil {
			return nil, err
		}
		return &DataSet{Iterator: it, N: it.Len(), Total: total, First: lo, closer: it.Close}, nil
	case "csv":
		o := data.CSVOptions{Header: "auto", NumClasses: tgt.classes, Labels: mode, Regression: tgt.classes == 0}
		if spec.Header != nil {
			o.Header = map[bool]string{true: "yes", false: "no"}[*spec.Header]
		}
		if spec.LabelColumn != nil {
			// plans count columns from 0 as DL4J's labelIndex; negative from the end
			o.LabelColumn = *spec.LabelColumn
			if o.LabelColumn >= 0 {
				o.LabelColumn++
			}
		}
		t, err := data.ReadCSV(spec.Path, o)
		if err != nil {
			return nil, err
		}
		return tableData(t, opt)
	case "npy":
		ao := data.ArrayOptions{NumClasses: tgt.classes, Labels: mode}
		if tgt.classes == 0 {
			ao = data.ArrayOptions{} // regression targets (and one-unit binary labels) as they are
		}
		t, err := data.ReadNPY(spec.Features, spec.Labels, ao)
		if err != nil {
			return nil, err
		}
		if tgt.classes > 0 && !tgt.sparse && t.Y.Shape[len(t.Y.Shape)-1] != tgt.classes {
			return nil, fmt.Errorf("%s: labels of shape %v for an output of %d classes", spec.Labels, t.Y.Shape, tgt.classes)
		}
		return tableData(t, opt)
	case "csv-sequences":
		s, err := data.ReadCSVSequences(spec.Features, spec.Labels, data.SequenceOptions{AlignEnd: true})
		if err != nil {
			return nil, err
		}
		if err := sequenceClasses(s, tgt); err != nil {
			return nil, fmt.Errorf("%s: %w", spec.Labels, err)
		}
		total := s.X.Shape[0]
		lo, hi := opt.Part.Bounds(total, opt.BatchSize)
		if lo == hi {
			return emptyPart(total, lo), nil
		}
		sequenceRows(s, lo, hi)
		var ds *DataSet
		if _, ok := tgt.layer.(*ir.Output); ok {
			ds, err = lastStepLabels(s, opt)
		} else {
			var it *data.SequenceIterator
			if it, err = s.Iterator(opt.BatchSize, opt.Shuffle, opt.Seed); err == nil {
				ds = &DataSet{Iterator: it, N: s.X.Shape[0]}
			}
		}
		if err != nil {
			return nil, err
		}
		ds.Total, ds.First = total, lo
		return ds, nil
	}
	return nil, fmt.Errorf("unknown data source type %q: use images, csv, npy or csv-sequences", spec.Type)
}

// tableData iterates over a table's examples (of opt.Part).
func tableData(t *data.Table, opt DataOptions) (*DataSet, error) {
	total := t.X.Shape[0]
	lo, hi := opt.Part.Bounds(total, opt.BatchSize)
	if lo == hi {
		return emptyPart(total, lo), nil
	}
	tableRows(t, lo, hi)
	it, err := t.Iterator(opt.BatchSize, opt.Shuffle, opt.Seed)
	if err != nil {
		return nil, err
	}
	return &DataSet{Iterator: it, N: hi - lo, Total: total, First: lo}, nil
}

// emptyPart is a part that holds no example.
func emptyPart(total, at int) *DataSet {
	return &DataSet{Iterator: noBatches{}, Total: total, First: at}
}

type noBatches struct{}

func (noBatches) Reset() error             { return nil }
func (noBatches) Next() (*nn.Batch, error) { return nil, io.EOF }

// sequenceClasses one-hot encodes one-number-per-step class labels.
func sequenceClasses(s *data.Sequences, tgt labelTarget) error {
	if tgt.classes == 0 || tgt.sparse || s.Y.Shape[2] != 1 {
		return nil
	}
	n, tm, k := s.Y.Shape[0], s.Y.Shape[1], tgt.classes
	y := ir.NewTensor(n, tm, k)
	for i := 0; i < n*tm; i++ {
		if s.LabelMask.Data[i] == 0 {
			continue
		}
		v := s.Y.Data[i]
		c := int(v)
		if float32(c) != v || c < 0 || c >= k {
			return fmt.Errorf("label %g is not a class number in [0, %d)", v, k)
		}
		y.Data[i*k+c] = 1
	}
	s.Y = y
	return nil
}

// lastStepLabels feeds an output that sees one vector per sequence (after
// LastTimeStep): the label is the last labelled step's.
func lastStepLabels(s *data.Sequences, opt DataOptions) (*DataSet, error) {
	n, tm, k := s.Y.Shape[0], s.Y.Shape[1], s.Y.Shape[2]
	for _, m := range s.Mask.Data {
		if m == 0 {
			return nil, fmt.Errorf("sequences of different lengths need a per-step output (rnn_output) or padding in the files")
		}
	}
	y := ir.NewTensor(n, k)
	for i := 0; i < n; i++ {
		for t := tm - 1; t >= 0; t-- {
			if s.LabelMask.Data[i*tm+t] != 0 {
				copy(y.Data[i*k:(i+1)*k], s.Y.Data[(i*tm+t)*k:(i*tm+t+1)*k])
				break
			}
		}
	}
	it, err := nn.NewArrayIterator(s.X, y, opt.BatchSize, opt.Shuffle, opt.Seed)
	if err != nil {
		return nil, err
	}
	return &DataSet{Iterator: it, N: n}, nil
}

// placeLabels moves a source's labels to the loss output's position.
type placeLabels struct {
	nn.Iterator
	n, k int
}

func (p *placeLabels) Next() (*nn.Batch, error) {
	b, err := p.Iterator.Next()
	if err != nil || len(b.Labels) != 1 {
		return b, err
	}
	c := *b
	c.Labels = make([]*ir.Tensor, p.n)
	c.Labels[p.k] = b.Labels[0]
	if len(b.LabelMasks) == 1 {
		c.LabelMasks = make([]*ir.Tensor, p.n)
		c.LabelMasks[p.k] = b.LabelMasks[0]
	}
	return &c, nil
}

// dataIdentity hashes a source's options with the path, size and
// modification time of every file it reads.
func dataIdentity(spec DataSpec) (string, error) {
	b, _ := json.Marshal(spec)
	return data.Fingerprint(b, spec.files()...)
}
