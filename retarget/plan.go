package retarget

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/retarget-dev/retarget/history"
	"github.com/retarget-dev/retarget/ir"
)

// A plan is a whole retarget run in one YAML file. Keys are fixed (unknown
// keys are errors that name their line); relative paths resolve against
// the plan file's folder. Schema:
//
//	model: vgg16.h5            # required: .h5 .keras .onnx .rtm (what the loader reads)
//	weights: w.h5              # optional: weights of a Keras JSON architecture
//	fine_tune:                 # DL4J FineTuneConfiguration; unset fields keep the source's
//	  updater: nesterovs       # DL4J or ir names: sgd momentum nesterovs|nesterov adam adamw rmsprop adagrad adadelta
//	  learning_rate: 5.0e-5
//	  momentum: 0.9            # also beta1 beta2 epsilon rho weight_decay
//	  seed: 42                 # also seeds every new initialisation
//	  l1: 0                    # l2 clip_value clip_norm
//	  dropout: 0.2             # replaces every Dropout rate
//	  schedule: {kind: step, every: 100, gamma: 0.5}   # exponential; cosine (steps, min_lr)
//	  init: xavier             # init of new/re-initialised layers (DL4J names: xavier relu …)
//	edits:                     # any order: Build applies them in a canonical order
//	  - freeze_through: [fc2]                      # a name or a list
//	  - unfreeze: [block5_conv3]
//	  - replace_nout: {vertex: fc2, nout: 1024, init: xavier, fanout_init: xavier}
//	  - replace_nin: {vertex: block1_conv1, nin: 1, init: relu}
//	  - remove: {vertex: predictions, keep_connections: false}
//	  - remove_outputs: 1
//	  - add: {name: fc3, inputs: [fc2], layer: {type: dense, nout: 256, activation: relu}}
//	  - add: {name: newpredictions, inputs: [fc3], init: xavier, train: {learning_rate: 1.0e-3},
//	          layer: {type: output, nout: 5, activation: softmax, loss: mcxent}}
//	  - set_inputs: {vertex: newpredictions, inputs: [fc2]}
//	  - set_outputs: [newpredictions]
//	  - widen: {vertex: lstm_1, add: 10, mode: preserve}   # preserve net2net random
//	  - insert: {name: extra, after: dense_1, layer: {type: dense, activation: relu}, init: identity}
//	data:                      # optional: without it the plan only edits
//	  train: {type: images, path: flowers/train, size: [224, 224], preprocess: vgg}
//	  test:  {type: csv, path: test.csv, label_column: 5, header: true}
//	  # or, for several inputs and outputs, one .npy per input and labelled output:
//	  # train: {inputs: {a: xa.npy, b: {type: npy, features: xb.npy}}, labels: {out: y.npy}}
//	fit: {epochs: 3, batch_size: 16, featurize: true, shuffle: true, cache_dir: feats, shard_size: 4096,
//	      history: h.csv, history_every: 10, plot: fit.png,
//	      early_stopping: {monitor: val_loss, patience: 3, min_delta: 0},
//	      reduce_lr: {monitor: val_loss, factor: 0.1, patience: 10, min_lr: 0},
//	      checkpoint: best.rtm, class_weights: [1, 5]}
//	output: [retargeted.rtm, retargeted.onnx]
//
// Data sources: {type: images, path: DIR, size: [H, W], preprocess:
// vgg|torch|tf|unit|raw} (one subfolder per class), {type: csv, path: FILE,
// label_column: N, header: true|false}, {type: npy, features: X.npy,
// labels: Y.npy}, {type: csv-sequences, features: DIR, labels: DIR}.
// Layers (add, insert): type is an ir kind in lower case (dense, output,
// conv2d, lstm, gru, simple_rnn, dropout, batchnorm, activation,
// rnn_output, max_pool2d, flatten, …), nout its units or filters; other
// keys are the layer's config fields. An insert may omit nout: it takes
// the width of after.
type Plan struct {
	File     string
	Dir      string
	Model    string
	Weights  string
	FineTune *ir.TrainConfig
	Init     ir.WeightInit // fine_tune.init
	Edits    []PlanEdit
	Train    *Sources // data.train; nil: no training
	Test     *Sources // data.test
	Fit      PlanFit
	Output   []string

	root *yaml.Node
	// outputLines holds the line of each Output entry.
	outputLines []int
}

// PlanEdit is one edit of a plan.
type PlanEdit struct {
	Line     int
	Op       string
	Vertices []string // the vertices it names, to place graph problems
	apply    func(*Builder)
}

// PlanFit is the fit block.
type PlanFit struct {
	Epochs    int    `yaml:"epochs"`     // default 1
	BatchSize int    `yaml:"batch_size"` // default 32
	Featurize bool   `yaml:"featurize"`  // run the frozen part once, train the head from shards
	Shuffle   *bool  `yaml:"shuffle"`    // default true
	CacheDir  string `yaml:"cache_dir"`  // featurized shards (default: the user cache folder)
	ShardSize int    `yaml:"shard_size"` // examples per shard (default 4096)

	History       string          `yaml:"history"`        // .csv or .json, rewritten after every epoch
	HistoryEvery  int             `yaml:"history_every"`  // also a row every N updater steps
	Plot          string          `yaml:"plot"`           // .png of the curves, redrawn after every epoch
	EarlyStopping *EarlyStopping  `yaml:"early_stopping"` // {monitor, patience, min_delta}
	ReduceLR      *ReduceLR       `yaml:"reduce_lr"`      // {monitor, factor, patience, min_lr, min_delta}
	Checkpoint    *PlanCheckpoint `yaml:"checkpoint"`     // PATH or {path, monitor}
	ClassWeights  ClassWeights    `yaml:"class_weights"`  // [w0, w1, …] or {OUTPUT: [w0, …]}
}

// PlanCheckpoint is fit.checkpoint: a path, or {path, monitor}.
type PlanCheckpoint Checkpoint

func (c *PlanCheckpoint) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		c.Path = n.Value
		return nil
	}
	var v struct {
		Path    string `yaml:"path"`
		Monitor string `yaml:"monitor"`
	}
	dec := n.Decode
	if err := dec(&v); err != nil {
		return err
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; k != "path" && k != "monitor" {
			return fmt.Errorf("line %d: checkpoint takes path and monitor, not %s", n.Content[i].Line, k)
		}
	}
	c.Path, c.Monitor = v.Path, v.Monitor
	return nil
}

// ClassWeights is fit.class_weights: a list (the only classification
// output's) or a mapping of output names to lists.
type ClassWeights map[string][]float64

func (c *ClassWeights) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.SequenceNode {
		var l []float64
		if err := n.Decode(&l); err != nil {
			return err
		}
		*c = ClassWeights{"": l}
		return nil
	}
	var m map[string][]float64
	if err := n.Decode(&m); err != nil {
		return err
	}
	*c = m
	return nil
}

// DataSpec is one data source, as plans and the CLI write it.
type DataSpec struct {
	Type        string `yaml:"type" json:"type"`
	Path        string `yaml:"path" json:"path,omitempty"`
	Size        []int  `yaml:"size" json:"size,omitempty"`
	Preprocess  string `yaml:"preprocess" json:"preprocess,omitempty"`
	LabelColumn *int   `yaml:"label_column" json:"label_column,omitempty"`
	Header      *bool  `yaml:"header" json:"header,omitempty"`
	Features    string `yaml:"features" json:"features,omitempty"`
	Labels      string `yaml:"labels" json:"labels,omitempty"`

	node *yaml.Node
}

// StringList is a YAML string or list of strings.
type StringList []string

func (s *StringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = StringList{n.Value}
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*s = l
	return nil
}

type fineTuneYAML struct {
	Updater      string      `yaml:"updater"`
	LearningRate float64     `yaml:"learning_rate"`
	Momentum     float64     `yaml:"momentum"`
	Beta1        float64     `yaml:"beta1"`
	Beta2        float64     `yaml:"beta2"`
	Epsilon      float64     `yaml:"epsilon"`
	Rho          float64     `yaml:"rho"`
	WeightDecay  float64     `yaml:"weight_decay"`
	L1           float64     `yaml:"l1"`
	L2           float64     `yaml:"l2"`
	Dropout      *float64    `yaml:"dropout"`
	ClipValue    float64     `yaml:"clip_value"`
	ClipNorm     float64     `yaml:"clip_norm"`
	Schedule     ir.Schedule `yaml:"schedule"`
	Seed         int64       `yaml:"seed"`
	Init         string      `yaml:"init"`
}

type dataYAML struct {
	Train yaml.Node `yaml:"train"`
	Test  yaml.Node `yaml:"test"`
}

type planYAML struct {
	Model    string        `yaml:"model"`
	Weights  string        `yaml:"weights"`
	FineTune *fineTuneYAML `yaml:"fine_tune"`
	Edits    yaml.Node     `yaml:"edits"` // a list; checked by parsePlan
	Data     *dataYAML     `yaml:"data"`
	Fit      *PlanFit      `yaml:"fit"`
	Output   StringList    `yaml:"output"`
}

// maxPlanBytes bounds a plan file; real plans are a few KiB.
const maxPlanBytes = 4 << 20

// LoadPlan reads and parses a plan file; a *PlanError lists every problem
// with its line.
func LoadPlan(path string) (*Plan, error) {
	p, err := loadPlan(path)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// CheckPlanFile is LoadPlan then Check, listing the problems of both at
// once: edits that parse are built even when others do not.
func CheckPlanFile(path string, env PlanEnv) ([]string, error) {
	p, err := loadPlan(path)
	var pe *PlanError
	if p == nil || err != nil && !errors.As(err, &pe) {
		return nil, err
	}
	notes, cerr := p.Check(env)
	var ce *PlanError
	if errors.As(cerr, &ce) {
		if pe == nil {
			pe = &PlanError{}
		}
		pe.Problems = append(pe.Problems, ce.Problems...)
		sort.SliceStable(pe.Problems, func(i, j int) bool { return pe.Problems[i].Line < pe.Problems[j].Line })
	} else if cerr != nil {
		return notes, cerr
	}
	if pe != nil {
		return notes, pe
	}
	return notes, nil
}

// loadPlan returns the plan as far as it parsed (nil on a YAML syntax
// error or an unreadable file) and every problem.
func loadPlan(path string) (*Plan, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxPlanBytes {
		return nil, &PlanError{Problems: []PlanProblem{{File: path, Msg: fmt.Sprintf("%d bytes: too large for a plan", fi.Size())}}}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parsePlan(b, path)
}

// ParsePlan parses a plan; file names it in errors and its folder is
// where relative paths start.
func ParsePlan(data []byte, file string) (*Plan, error) {
	p, err := parsePlan(data, file)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func parsePlan(data []byte, file string) (*Plan, error) {
	p := &problems{file: file}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		line, msg := splitLine(strings.TrimPrefix(err.Error(), "yaml: "))
		p.add(line, "%s", msg)
		return nil, p.err()
	}
	if len(root.Content) == 0 {
		p.add(0, "empty plan")
		return nil, p.err()
	}
	doc := root.Content[0]
	var py planYAML
	if !p.decodeStrict(doc, &py) {
		return nil, p.err()
	}
	plan := &Plan{File: file, Dir: filepath.Dir(file), Model: py.Model, Weights: py.Weights, Output: py.Output, root: doc}
	if plan.Model == "" {
		p.add(lineAt(doc, "model"), "model is required: the model file to start from")
	}
	if ft := py.FineTune; ft != nil {
		plan.FineTune, plan.Init = p.fineTune(ft, lineAt(doc, "fine_tune"), func(k string) int { return lineAt(doc, "fine_tune", k) })
	}
	switch ed := &py.Edits; {
	case ed.Kind == yaml.SequenceNode:
		for _, n := range ed.Content {
			if e, ok := p.parseEdit(n); ok {
				plan.Edits = append(plan.Edits, e)
			}
		}
	case ed.Kind == 0, ed.Kind == yaml.ScalarNode && ed.Tag == "!!null":
	default:
		p.add(ed.Line, "edits must be a list of one-key mappings, e.g. - freeze_through: [fc2]")
	}
	if py.Data != nil {
		if py.Data.Train.Kind == 0 {
			p.add(lineAt(doc, "data"), "data: train is required (test is optional)")
		} else {
			plan.Train = p.sources(&py.Data.Train, "data.train")
		}
		if py.Data.Test.Kind != 0 {
			plan.Test = p.sources(&py.Data.Test, "data.test")
		}
	}
	if py.Fit != nil {
		plan.Fit = *py.Fit
		f := plan.Fit
		if f.Epochs < 0 || f.BatchSize < 0 || f.ShardSize < 0 {
			p.add(lineAt(doc, "fit"), "fit: epochs, batch_size and shard_size must not be negative")
		}
		if py.Data == nil {
			p.add(lineAt(doc, "fit"), "fit needs data: add data: {train: …}")
		}
		if f.History != "" {
			if err := history.CheckPath(f.History); err != nil {
				p.add(lineAt(doc, "fit", "history"), "fit: %v", err)
			}
		}
		if f.Plot != "" && !strings.EqualFold(filepath.Ext(f.Plot), ".png") {
			p.add(lineAt(doc, "fit", "plot"), "fit: plot %s: name it .png", f.Plot)
		}
		if f.HistoryEvery < 0 {
			p.add(lineAt(doc, "fit", "history_every"), "fit: history_every must not be negative")
		}
		if f.Checkpoint != nil && f.Checkpoint.Path == "" {
			p.add(lineAt(doc, "fit", "checkpoint"), "fit: checkpoint needs a path")
		}
		if es := f.EarlyStopping; es != nil && (es.Patience < 0 || es.MinDelta < 0) {
			p.add(lineAt(doc, "fit", "early_stopping"), "fit: early_stopping: patience and min_delta must not be negative")
		}
		if rl := f.ReduceLR; rl != nil && (rl.Patience < 0 || rl.MinDelta < 0 || rl.MinLR < 0 || rl.Factor < 0 || rl.Factor >= 1) {
			p.add(lineAt(doc, "fit", "reduce_lr"), "fit: reduce_lr: factor must be in (0, 1); patience, min_lr and min_delta not negative")
		}
	}
	plan.outputLines = entryLines(doc, "output", len(plan.Output))
	if len(plan.Output) == 0 {
		p.add(lineAt(doc, "output"), "output: give at least one model path to write")
	}
	return plan, p.err()
}

func (p *problems) fineTune(ft *fineTuneYAML, line int, keyLine func(string) int) (*ir.TrainConfig, ir.WeightInit) {
	c := &ir.TrainConfig{LearningRate: ft.LearningRate, Momentum: ft.Momentum, Beta1: ft.Beta1, Beta2: ft.Beta2,
		Epsilon: ft.Epsilon, Rho: ft.Rho, WeightDecay: ft.WeightDecay, L1: ft.L1, L2: ft.L2, Dropout: ft.Dropout,
		ClipValue: ft.ClipValue, ClipNorm: ft.ClipNorm, Schedule: ft.Schedule, Seed: ft.Seed}
	if ft.Updater != "" {
		u, err := ParseUpdater(ft.Updater)
		if err != nil {
			p.add(keyLine("updater"), "fine_tune: %v", err)
		}
		c.Updater = u
	}
	var w ir.WeightInit
	if ft.Init != "" {
		var err error
		if w, err = ParseInit(ft.Init); err != nil {
			p.add(keyLine("init"), "fine_tune: %v", err)
		}
	}
	if err := checkTrainConfig(c); err != nil {
		for _, e := range ir.Problems(err) {
			p.add(line, "fine_tune: %v", e)
		}
	}
	return c, w
}

// dataKeys are the keys each source type takes (beside type).
var dataKeys = map[string][]string{
	"images":        {"path", "size", "preprocess"},
	"csv":           {"path", "label_column", "header"},
	"npy":           {"features", "labels"},
	"csv-sequences": {"features", "labels"},
}

// dataSpec parses a data source, checking that it has the keys its type
// takes and no others.
func (p *problems) dataSpec(n *yaml.Node, where string) *DataSpec {
	s := &DataSpec{node: n}
	if !p.decodeStrict(n, s) {
		return nil
	}
	keys, ok := dataKeys[s.Type]
	if !ok {
		p.add(lineAt(n, "type"), "%s: type %q: use images, csv, npy or csv-sequences", where, s.Type)
		return nil
	}
	allowed := map[string]bool{"type": true}
	for _, k := range keys {
		allowed[k] = true
	}
	good := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !allowed[k.Value] {
			p.add(k.Line, "%s: a %s source takes %s, not %s", where, s.Type, strings.Join(keys, ", "), k.Value)
			good = false
		}
	}
	need := func(ok bool, key string) {
		if !ok {
			p.add(n.Line, "%s: a %s source needs %s", where, s.Type, key)
			good = false
		}
	}
	switch s.Type {
	case "images":
		need(s.Path != "", "path")
		need(len(s.Size) == 2 && s.Size[0] > 0 && s.Size[1] > 0, "size: [height, width]")
		if s.Preprocess != "" && s.Preprocess != "vgg" && s.Preprocess != "torch" && s.Preprocess != "tf" &&
			s.Preprocess != "unit" && s.Preprocess != "raw" {
			p.add(lineAt(n, "preprocess"), "%s: preprocess %q: use vgg, torch, tf, unit or raw", where, s.Preprocess)
			good = false
		}
	case "csv":
		need(s.Path != "", "path")
	case "npy", "csv-sequences":
		need(s.Features != "", "features")
		need(s.Labels != "", "labels")
	}
	if !good {
		return nil
	}
	return s
}

// entryLines returns the line of each of the n entries of a list under
// key (a single scalar counts as a list of one).
func entryLines(doc *yaml.Node, key string, n int) []int {
	lines := make([]int, n)
	def := lineAt(doc, key)
	var list *yaml.Node
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == key {
			list = doc.Content[i+1]
		}
	}
	for i := range lines {
		lines[i] = def
		if list != nil && list.Kind == yaml.SequenceNode && i < len(list.Content) {
			lines[i] = list.Content[i].Line
		}
	}
	return lines
}

// lineAt finds the line of a key path in a mapping (the deepest found).
func lineAt(n *yaml.Node, path ...string) int {
	if n == nil {
		return 0
	}
	line := n.Line
	for _, k := range path {
		if n.Kind != yaml.MappingNode {
			return line
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				line, n, found = n.Content[i].Line, n.Content[i+1], true
				break
			}
		}
		if !found {
			return line
		}
	}
	return line
}

type replaceNOutSpec struct {
	Vertex     string `yaml:"vertex"`
	NOut       int    `yaml:"nout"`
	Init       string `yaml:"init"`
	FanOutInit string `yaml:"fanout_init"`
}

type replaceNInSpec struct {
	Vertex string `yaml:"vertex"`
	NIn    int    `yaml:"nin"`
	Init   string `yaml:"init"`
}

type removeSpec struct {
	Vertex          string `yaml:"vertex"`
	KeepConnections bool   `yaml:"keep_connections"`
}

type addSpec struct {
	Name   string        `yaml:"name"`
	Inputs StringList    `yaml:"inputs"`
	Layer  yaml.Node     `yaml:"layer"`
	Init   string        `yaml:"init"`
	Train  *fineTuneYAML `yaml:"train"`
}

type insertSpec struct {
	Name  string    `yaml:"name"`
	After string    `yaml:"after"`
	Layer yaml.Node `yaml:"layer"`
	Init  string    `yaml:"init"`
}

type widenSpec struct {
	Vertex string `yaml:"vertex"`
	Add    int    `yaml:"add"`
	Mode   string `yaml:"mode"`
}

type setInputsSpec struct {
	Vertex string     `yaml:"vertex"`
	Inputs StringList `yaml:"inputs"`
}

var editOps = []string{"freeze_through", "unfreeze", "replace_nout", "replace_nin", "remove", "remove_outputs",
	"add", "insert", "widen", "set_inputs", "set_outputs"}

func (p *problems) parseEdit(n *yaml.Node) (PlanEdit, bool) {
	e := PlanEdit{Line: n.Line}
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		p.add(n.Line, "an edit is a mapping with one key, the operation (%s)", strings.Join(editOps, ", "))
		return e, false
	}
	key, val := n.Content[0], n.Content[1]
	e.Op = key.Value
	init := func(parent *yaml.Node, k, s string) (ir.WeightInit, bool) {
		if s == "" {
			return "", true
		}
		w, err := ParseInit(s)
		if err != nil {
			p.add(lineAt(parent, k), "%s: %v", e.Op, err)
			return "", false
		}
		return w, true
	}
	need := func(ok bool, what string) bool {
		if !ok {
			p.add(val.Line, "%s: %s is required", e.Op, what)
		}
		return ok
	}
	layer := func(name string, ln *yaml.Node) (planLayer, bool) {
		if !need(ln.Kind != 0, "layer") {
			return planLayer{}, false
		}
		l, k, err := layerFromYAML(ln)
		if err != nil {
			line := ln.Line
			if k != "" {
				line = findKeyLine(ln, k, line)
			}
			p.add(line, "%s %q: layer: %v", e.Op, name, err)
			return l, false
		}
		return l, true
	}
	switch e.Op {
	case "freeze_through", "unfreeze", "set_outputs":
		var names StringList
		if !p.decodeStrict(val, &names) || !need(len(names) > 0, "a vertex name") {
			return e, false
		}
		e.Vertices = names
		op := e.Op
		e.apply = func(b *Builder) {
			switch op {
			case "freeze_through":
				b.FreezeThrough(names...)
			case "unfreeze":
				b.Unfreeze(names...)
			default:
				b.SetOutputs(names...)
			}
		}
	case "replace_nout":
		var s replaceNOutSpec
		if !p.decodeStrict(val, &s) || !need(s.Vertex != "", "vertex") || !need(s.NOut > 0, "nout (> 0)") {
			return e, false
		}
		w, ok1 := init(val, "init", s.Init)
		fo, ok2 := init(val, "fanout_init", s.FanOutInit)
		if !ok1 || !ok2 {
			return e, false
		}
		e.Vertices = []string{s.Vertex}
		e.apply = func(b *Builder) { b.ReplaceNOut(s.Vertex, s.NOut, w, fo) }
	case "replace_nin":
		var s replaceNInSpec
		if !p.decodeStrict(val, &s) || !need(s.Vertex != "", "vertex") || !need(s.NIn > 0, "nin (> 0)") {
			return e, false
		}
		w, ok := init(val, "init", s.Init)
		if !ok {
			return e, false
		}
		e.Vertices = []string{s.Vertex}
		e.apply = func(b *Builder) { b.ReplaceNIn(s.Vertex, s.NIn, w) }
	case "remove":
		var s removeSpec
		if val.Kind == yaml.ScalarNode {
			s.Vertex = val.Value
		} else if !p.decodeStrict(val, &s) {
			return e, false
		}
		if !need(s.Vertex != "", "vertex") {
			return e, false
		}
		e.Vertices = []string{s.Vertex}
		e.apply = func(b *Builder) { b.Remove(s.Vertex, s.KeepConnections) }
	case "remove_outputs":
		var n int
		if !p.decodeStrict(val, &n) || !need(n > 0, "a count > 0") {
			return e, false
		}
		e.apply = func(b *Builder) { b.RemoveOutputs(n) }
	case "add":
		var s addSpec
		if !p.decodeStrict(val, &s) || !need(s.Name != "", "name") || !need(len(s.Inputs) > 0, "inputs") {
			return e, false
		}
		w, ok := init(val, "init", s.Init)
		l, ok2 := layer(s.Name, &s.Layer)
		if !ok || !ok2 {
			return e, false
		}
		if !l.hasSize {
			p.add(s.Layer.Line, "add %q: layer: give its size as nout", s.Name)
			return e, false
		}
		var tc *ir.TrainConfig
		if s.Train != nil {
			var tw ir.WeightInit
			tc, tw = p.fineTune(s.Train, lineAt(val, "train"), func(k string) int { return lineAt(val, "train", k) })
			if w == "" {
				w = tw
			}
		}
		e.Vertices = []string{s.Name}
		e.apply = func(b *Builder) { b.AddWith(s.Name, l.layer, AddOptions{Init: w, Train: tc}, s.Inputs...) }
	case "insert":
		var s insertSpec
		if !p.decodeStrict(val, &s) || !need(s.Name != "", "name") || !need(s.After != "", "after") {
			return e, false
		}
		w, ok := init(val, "init", s.Init)
		l, ok2 := layer(s.Name, &s.Layer)
		if !ok || !ok2 {
			return e, false
		}
		e.Vertices = []string{s.Name, s.After}
		e.apply = func(b *Builder) { b.Insert(s.Name, l.layer, s.After, w) }
	case "widen":
		var s widenSpec
		if !p.decodeStrict(val, &s) || !need(s.Vertex != "", "vertex") || !need(s.Add > 0, "add (> 0)") {
			return e, false
		}
		if s.Mode == "" {
			s.Mode = string(WidenPreserve)
		}
		m, err := ParseWidenMode(s.Mode)
		if err != nil {
			p.add(lineAt(val, "mode"), "widen: %v", err)
			return e, false
		}
		e.Vertices = []string{s.Vertex}
		e.apply = func(b *Builder) { b.Widen(s.Vertex, s.Add, m) }
	case "set_inputs":
		var s setInputsSpec
		if !p.decodeStrict(val, &s) || !need(s.Vertex != "", "vertex") || !need(len(s.Inputs) > 0, "inputs") {
			return e, false
		}
		e.Vertices = []string{s.Vertex}
		e.apply = func(b *Builder) { b.SetInputs(s.Vertex, s.Inputs...) }
	default:
		p.add(key.Line, "unknown edit %q (known: %s)", e.Op, strings.Join(editOps, ", "))
		return e, false
	}
	return e, true
}

var unknownFieldRE = regexp.MustCompile(`unknown field "([^"]+)"`)

func unknownField(err error) string {
	if m := unknownFieldRE.FindStringSubmatch(err.Error()); m != nil {
		return m[1]
	}
	return ""
}

func findKeyLine(n *yaml.Node, key string, def int) int {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i].Line
			}
			if l := findKeyLine(n.Content[i+1], key, 0); l > 0 {
				return l
			}
		}
	}
	return def
}
