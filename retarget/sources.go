package retarget

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/retarget-dev/retarget/data"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// Sources is the data of one split (training or test): one source for a
// model with one input and one loss output (Single), or one source per
// graph input and per labelled output, by name (Keras's dicts of arrays,
// DL4J's MultiDataSet). A named source is an .npy array: its features for
// an input ({type: npy, features: X.npy}, or just X.npy), its labels for
// an output ({type: npy, labels: Y.npy}, or just Y.npy), read as a
// single source's labels are.
type Sources struct {
	Single *DataSpec
	Inputs []NamedSource
	Labels []NamedSource

	node *yaml.Node
}

// NamedSource is the source of one graph input or output.
type NamedSource struct {
	Name string
	Spec DataSpec
}

// Single is the Sources of one data source.
func Single(spec DataSpec) Sources { return Sources{Single: &spec} }

// Named reports whether the sources are given per input and output.
func (s Sources) Named() bool { return s.Single == nil }

func (s Sources) resolved(dir string) Sources {
	out := Sources{node: s.node}
	if s.Single != nil {
		r := s.Single.resolved(dir)
		out.Single = &r
	}
	for _, n := range s.Inputs {
		out.Inputs = append(out.Inputs, NamedSource{n.Name, n.Spec.resolved(dir)})
	}
	for _, n := range s.Labels {
		out.Labels = append(out.Labels, NamedSource{n.Name, n.Spec.resolved(dir)})
	}
	return out
}

// specs are every source with where it goes ("" for Single).
func (s Sources) specs() []*DataSpec {
	var out []*DataSpec
	if s.Single != nil {
		out = append(out, s.Single)
	}
	for i := range s.Inputs {
		out = append(out, &s.Inputs[i].Spec)
	}
	for i := range s.Labels {
		out = append(out, &s.Labels[i].Spec)
	}
	return out
}

// specKeys are the keys of a data source, to tell `--data type=npy,…`
// from `--data NAME=SRC`.
var specKeys = map[string]bool{"type": true, "path": true, "size": true, "preprocess": true, "label_column": true,
	"header": true, "features": true, "labels": true}

// ParseSources reads the CLI's data flags: one --data SOURCE (a source as
// ParseDataSpec reads it) for a model with one input, or --data NAME=SRC
// per graph input and --labels NAME=SRC per labelled output, SRC an .npy
// path or a source mapping ({type: npy, features: X.npy}). dataFlag and
// labelsFlag name the flags in errors.
func ParseSources(dataVals, labelVals []string, dataFlag, labelsFlag string) (*Sources, error) {
	if len(dataVals) == 0 {
		return nil, fmt.Errorf("%s is required", dataFlag)
	}
	if len(dataVals) == 1 && len(labelVals) == 0 {
		if _, _, named := cutName(dataVals[0]); !named {
			spec, err := ParseDataSpec(dataVals[0], dataFlag)
			if err != nil {
				return nil, err
			}
			return &Sources{Single: spec}, nil
		}
	}
	s := &Sources{}
	var errs []string
	parse := func(flag, v string, role string, to *[]NamedSource) {
		name, src, ok := cutName(v)
		if !ok {
			errs = append(errs, fmt.Sprintf("%s %q: give NAME=SOURCE (a graph %s name, then its source) when a model has several inputs or outputs", flag, v, role))
			return
		}
		where := flag + " " + name
		spec, err := parseNamedText(src, where, role)
		if err != nil {
			errs = append(errs, err.Error())
			return
		}
		*to = append(*to, NamedSource{Name: name, Spec: *spec})
	}
	for _, v := range dataVals {
		parse(dataFlag, v, "input", &s.Inputs)
	}
	for _, v := range labelVals {
		parse(labelsFlag, v, "output", &s.Labels)
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "; "))
	}
	return s, nil
}

// cutName splits NAME=SRC; named is false for a plain source (a mapping,
// or key=value pairs of a source's own keys).
func cutName(v string) (name, src string, named bool) {
	t := strings.TrimSpace(v)
	if strings.HasPrefix(t, "{") {
		return "", "", false
	}
	name, src, ok := strings.Cut(t, "=")
	if !ok || specKeys[strings.TrimSpace(name)] || strings.ContainsAny(name, ",{}") {
		return "", "", false
	}
	return strings.TrimSpace(name), strings.TrimSpace(src), name != ""
}

// parseNamedText reads a named source from the command line: a path, a
// mapping or key=value pairs.
func parseNamedText(src, where, role string) (*DataSpec, error) {
	if !strings.HasPrefix(src, "{") && !strings.Contains(src, "=") {
		return namedPath(src, where, role)
	}
	n, err := specNode(src, where)
	if err != nil {
		return nil, err
	}
	p := &problems{file: where}
	spec := p.namedSpec(n, where, role)
	if err := p.err(); err != nil {
		return nil, fmt.Errorf("%s", problemText(err, where))
	}
	return spec, nil
}

func namedPath(path, where, role string) (*DataSpec, error) {
	if !strings.EqualFold(filepath.Ext(path), ".npy") {
		return nil, fmt.Errorf("%s: %q: a named source is an .npy array (or a mapping {type: npy, %s: FILE.npy})", where, path, roleKey(role))
	}
	if role == "input" {
		return &DataSpec{Type: "npy", Features: path}, nil
	}
	return &DataSpec{Type: "npy", Labels: path}, nil
}

func roleKey(role string) string {
	if role == "input" {
		return "features"
	}
	return "labels"
}

// namedSpec parses the source of one input (role "input": features) or
// output (role "output": labels).
func (p *problems) namedSpec(n *yaml.Node, where, role string) *DataSpec {
	if n.Kind == yaml.ScalarNode {
		s, err := namedPath(n.Value, where, role)
		if err != nil {
			p.add(n.Line, "%v", err)
			return nil
		}
		s.node = n
		return s
	}
	s := &DataSpec{node: n}
	if !p.decodeStrict(n, s) {
		return nil
	}
	key := roleKey(role)
	if s.Type != "npy" {
		p.add(lineAt(n, "type"), "%s: type %q: a named source is {type: npy, %s: FILE.npy}", where, s.Type, key)
		return nil
	}
	good := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; k != "type" && k != key {
			p.add(n.Content[i].Line, "%s: the source of an %s takes type and %s, not %s", where, role, key, k)
			good = false
		}
	}
	if (role == "input" && s.Features == "") || (role != "input" && s.Labels == "") {
		p.add(n.Line, "%s: give %s: FILE.npy", where, key)
		good = false
	}
	if !good {
		return nil
	}
	return s
}

// sources parses data.train or data.test of a plan: one source, or
// {inputs: {NAME: SRC, …}, labels: {NAME: SRC, …}}.
func (p *problems) sources(n *yaml.Node, where string) *Sources {
	// a single source has a type (and npy sources a labels key of their own)
	if n.Kind != yaml.MappingNode || lineKey(n, "inputs") == nil && (lineKey(n, "labels") == nil || lineKey(n, "type") != nil) {
		spec := p.dataSpec(n, where)
		if spec == nil {
			return nil
		}
		return &Sources{Single: spec, node: n}
	}
	s := &Sources{node: n}
	good := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var to *[]NamedSource
		role := "input"
		switch k.Value {
		case "inputs":
			to = &s.Inputs
		case "labels":
			to, role = &s.Labels, "output"
		default:
			p.add(k.Line, "%s: per-input sources take inputs and labels, not %s", where, k.Value)
			good = false
			continue
		}
		if v.Kind != yaml.MappingNode {
			p.add(v.Line, "%s.%s: a mapping of %s names to sources, e.g. {a: xa.npy}", where, k.Value, role)
			good = false
			continue
		}
		for j := 0; j+1 < len(v.Content); j += 2 {
			name := v.Content[j].Value
			spec := p.namedSpec(v.Content[j+1], where+"."+k.Value+"."+name, role)
			if spec == nil {
				good = false
				continue
			}
			*to = append(*to, NamedSource{Name: name, Spec: *spec})
		}
	}
	if !good {
		return nil
	}
	return s
}

// lineKey is the value node of key in a mapping (nil when absent).
func lineKey(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// SourceProblem is one way a source does not fit a model.
type SourceProblem struct {
	Source string // "data.train.inputs.a", "--data a", …; "" for the sources as a whole
	Key    string // the source's key at fault (features, labels, …)
	Msg    string
	node   *yaml.Node
}

// SourcesError lists every problem of the sources at once.
type SourcesError struct{ Problems []SourceProblem }

func (e *SourcesError) Error() string {
	var s []string
	for _, p := range e.Problems {
		if p.Source != "" {
			s = append(s, p.Source+": "+p.Msg)
		} else {
			s = append(s, p.Msg)
		}
	}
	if len(s) == 1 {
		return s[0]
	}
	return fmt.Sprintf("%d problems with the data:\n  %s", len(s), strings.Join(s, "\n  "))
}

// CheckSources reports every way named sources do not fit g, reading only
// the .npy headers: inputs and outputs that do not exist (or have no loss),
// inputs without a source, loss outputs without labels (when fit: a fit
// trains every loss output; evaluation needs one), shapes that do not
// fit, and example counts that disagree. prefix names the sources in
// messages ("--data"/"--labels" or "data.train"). Single sources are
// checked when opened.
func CheckSources(g *ir.Graph, s Sources, fit bool, inFlag, labFlag string) error {
	if probs := checkNamed(g, s, fit, inFlag, labFlag); len(probs) > 0 {
		return &SourcesError{Problems: probs}
	}
	return nil
}

func checkNamed(g *ir.Graph, s Sources, fit bool, inFlag, labFlag string) []SourceProblem {
	if !s.Named() {
		return nil
	}
	var probs []SourceProblem
	add := func(where, key string, n *yaml.Node, format string, args ...any) {
		probs = append(probs, SourceProblem{Source: where, Key: key, Msg: fmt.Sprintf(format, args...), node: n})
	}
	count, countFrom := -1, ""
	examples := func(where string, shape []int) {
		if len(shape) == 0 {
			return
		}
		if count < 0 {
			count, countFrom = shape[0], where
		} else if shape[0] != count {
			add(where, "", nil, "%d examples, but %s has %d: every source holds the same examples in the same order", shape[0], countFrom, count)
		}
	}
	sep := " " // --data a, but data.train.inputs.a
	if !strings.HasPrefix(inFlag, "-") {
		sep = "."
	}
	seen := map[string]bool{}
	for _, n := range s.Inputs {
		where := inFlag + sep + n.Name
		if seen["in "+n.Name] {
			add(where, "", n.Spec.node, "input %q has two sources", n.Name)
			continue
		}
		seen["in "+n.Name] = true
		var in *ir.Input
		for i := range g.Inputs {
			if g.Inputs[i].Name == n.Name {
				in = &g.Inputs[i]
			}
		}
		if in == nil {
			add(where, "", n.Spec.node, "the model has no input %q; its inputs: %s", n.Name, inputNames(g))
			continue
		}
		h, err := data.ProbeNPY(n.Spec.Features)
		if err != nil {
			add(where, "features", n.Spec.node, "%v", err)
			continue
		}
		if len(h.Shape) == 0 {
			add(where, "features", n.Spec.node, "%s has shape %v: it needs an example axis first", n.Spec.Features, h.Shape)
			continue
		}
		if !fitsInput(h.Shape[1:], *in) {
			add(where, "features", n.Spec.node, "%s has examples of shape %v, but the model input %q takes %v%s", n.Spec.Features, h.Shape[1:], in.Name,
				sourceShape(in.Shape, in.Layout), layoutNote(*in))
		}
		examples(where, h.Shape)
	}
	for _, in := range g.Inputs {
		if !seen["in "+in.Name] {
			add(inFlag, "", s.node, "the model input %q has no source: give %s %s=X.npy", in.Name, inFlag, in.Name)
		}
	}
	for _, n := range s.Labels {
		where := labFlag + sep + n.Name
		if seen["out "+n.Name] {
			add(where, "", n.Spec.node, "output %q has two label sources", n.Name)
			continue
		}
		seen["out "+n.Name] = true
		k := outputIndex(g, n.Name)
		if k < 0 {
			add(where, "", n.Spec.node, "the model has no output %q; its outputs: %s", n.Name, describeOutputs(g))
			continue
		}
		if v := g.Vertex(g.Outputs[k].Vertex); v == nil || !ir.IsOutputLayer(v.Layer) {
			add(where, "", n.Spec.node, "output %q has no loss, so it takes no labels; its outputs: %s", n.Name, describeOutputs(g))
			continue
		}
		h, err := data.ProbeNPY(n.Spec.Labels)
		if err != nil {
			add(where, "labels", n.Spec.node, "%v", err)
			continue
		}
		if len(h.Shape) == 0 {
			add(where, "labels", n.Spec.node, "%s has shape %v: it needs an example axis first", n.Spec.Labels, h.Shape)
			continue
		}
		tgt := targetAt(g, k)
		if msg := labelShapeProblem(n.Spec.Labels, h.Shape, tgt, g); msg != "" {
			add(where, "labels", n.Spec.node, "%s", msg)
		} else if tgt.classes > 0 && (len(h.Shape) == 1 || len(h.Shape) == 2 && h.Shape[1] == 1) {
			if err := data.CheckClassNumbers(n.Spec.Labels, tgt.classes, maxScannedLabelBytes); err != nil {
				add(where, "labels", n.Spec.node, "%s: %v", n.Spec.Labels, err)
			}
		}
		examples(where, h.Shape)
	}
	labelled := 0
	for _, o := range g.Outputs {
		v := g.Vertex(o.Vertex)
		if v == nil || !ir.IsOutputLayer(v.Layer) {
			continue
		}
		if seen["out "+o.Name] {
			labelled++
		} else if fit {
			add(labFlag, "", s.node, "the loss output %q has no labels: give %s %s=Y.npy (a fit trains every loss output)", o.Name, labFlag, o.Name)
		}
	}
	if !fit && labelled == 0 && len(s.Labels) == 0 {
		add(labFlag, "", s.node, "no labels: give %s NAME=Y.npy for an output with a loss (%s)", labFlag, describeOutputs(g))
	}
	return probs
}

func inputNames(g *ir.Graph) string {
	var s []string
	for _, in := range g.Inputs {
		s = append(s, in.Name)
	}
	return strings.Join(s, ", ")
}

func outputIndex(g *ir.Graph, name string) int {
	for i, o := range g.Outputs {
		if o.Name == name {
			return i
		}
	}
	return -1
}

// labelShapeProblem says why labels of shape ys do not fit the loss output
// tgt ("" when they do).
func labelShapeProblem(file string, ys []int, tgt labelTarget, g *ir.Graph) string {
	index := len(ys) == 1 || len(ys) == 2 && ys[1] == 1
	last := 1
	if len(ys) > 1 {
		last = ys[len(ys)-1]
	}
	units := outputUnits(tgt.layer)
	switch {
	case tgt.sparse && last != 1:
		return fmt.Sprintf("%s has labels of shape %v: the loss %s takes class numbers, shape [%d] or [%d, 1]", file, ys, lossOf(tgt.layer), ys[0], ys[0])
	case tgt.classes > 0 && !index && last != tgt.classes:
		return fmt.Sprintf("%s has labels of shape %v (%d wide) for an output of %d classes: give one-hot rows of %d or class numbers",
			file, ys, last, tgt.classes, tgt.classes)
	case tgt.classes == 0 && units > 0 && last != units:
		return fmt.Sprintf("%s has labels of shape %v (%d wide), the output %q has %d units", file, ys, last, tgt.layerName(g), units)
	}
	return ""
}

// OpenSources opens the sources for g: OpenData for a single source;
// named sources are checked (CheckSources, every problem at once) and
// read into memory, one array per input and labelled output.
func OpenSources(s Sources, g *ir.Graph, opt DataOptions) (*DataSet, error) {
	return openSources(s, g, opt, true, "--data", "--labels")
}

func openSources(s Sources, g *ir.Graph, opt DataOptions, fit bool, inFlag, labFlag string) (*DataSet, error) {
	if !s.Named() {
		return OpenData(*s.Single, g, opt)
	}
	if err := CheckSources(g, s, fit, inFlag, labFlag); err != nil {
		return nil, err
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 32
	}
	if err := opt.Part.check(); err != nil {
		return nil, err
	}
	ins := make([]*ir.Tensor, len(g.Inputs))
	for _, n := range s.Inputs {
		t, err := data.ReadNPYFeatures(n.Spec.Features)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", inFlag, n.Name, err)
		}
		for i, in := range g.Inputs {
			if in.Name == n.Name {
				ins[i] = t.X
			}
		}
	}
	labs := make([]*ir.Tensor, len(g.Outputs))
	for _, n := range s.Labels {
		k := outputIndex(g, n.Name)
		tgt := targetAt(g, k)
		mode := data.OneHot
		if tgt.sparse {
			mode = data.Index
		}
		ao := data.ArrayOptions{NumClasses: tgt.classes, Labels: mode}
		if tgt.classes == 0 {
			ao = data.ArrayOptions{} // regression targets (and one-unit binary labels) as they are
		}
		t, err := data.ReadNPYLabels(n.Spec.Labels, ao)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", labFlag, n.Name, err)
		}
		labs[k] = t.Y
	}
	total := ins[0].Shape[0]
	lo, hi := opt.Part.Bounds(total, opt.BatchSize)
	b, _ := json.Marshal(s.specs())
	var files []string
	for _, sp := range s.specs() {
		files = append(files, sp.files()...)
	}
	id, err := data.Fingerprint(b, files...)
	if err != nil {
		return nil, err
	}
	var ds *DataSet
	if lo == hi {
		ds = emptyPart(total, lo)
	} else {
		for i, t := range ins {
			ins[i] = rowSlice(t, lo, hi)
		}
		for i, t := range labs {
			if t != nil {
				labs[i] = rowSlice(t, lo, hi)
			}
		}
		it, err := nn.NewSliceIterator(ins, labs, opt.BatchSize, opt.Shuffle, opt.Seed)
		if err != nil {
			return nil, err
		}
		ds = &DataSet{Iterator: it, N: hi - lo, Total: total, First: lo}
	}
	ds.ID = id
	if !opt.Part.Whole() {
		ds.PartInfo = &PartInfo{Index: opt.Part.Index, Count: opt.Part.Count, First: ds.First, Total: ds.Total, BatchSize: opt.BatchSize}
	}
	return ds, nil
}

// rowSlice is examples [lo, hi) of t (sharing its data).
func rowSlice(t *ir.Tensor, lo, hi int) *ir.Tensor {
	if lo == 0 && hi == t.Shape[0] {
		return t
	}
	per := ir.NumElements(t.Shape[1:])
	return ir.FromData(t.Data[lo*per:hi*per], append([]int{hi - lo}, t.Shape[1:]...)...)
}
