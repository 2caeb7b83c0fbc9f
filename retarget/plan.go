package retarget

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/retarget-dev/retarget/ir"
)

// A plan is a retarget run in one YAML file (unknown keys are errors;
// relative paths resolve against the plan's folder). Schema:
//
//	source:                     # required
//	  model: base.rtm           # model file (.rtm, .h5/.keras, .onnx: whatever the loader reads)
//	  weights: w.h5             # optional separate weights file
//	seed: 42                    # seed of every new initialisation (default 12345)
//	init: he_normal             # default weight init of new/re-initialised layers (xavier_uniform)
//	fine_tune:                  # ir.TrainConfig; unset fields keep the source's
//	  updater: adam             # sgd momentum nesterov adam adamw rmsprop adagrad adadelta
//	  learning_rate: 0.001
//	  momentum: 0.9             # also beta1, beta2, epsilon, rho, weight_decay
//	  l1: 0                     # l2, clip_value, clip_norm
//	  dropout: 0.2              # replaces every Dropout rate
//	  schedule: {kind: step, every: 100, gamma: 0.5}   # or exponential, cosine (steps, min_lr)
//	  seed: 7
//	edits:                      # any order: Build applies them in a canonical order
//	  - freeze_through: [conv2]                 # a name or a list
//	  - unfreeze: [dense1]
//	  - replace_nout: {vertex: out, n: 3, init: xavier_uniform, fan_out_init: xavier_uniform}
//	  - replace_nin: {vertex: conv1, n: 1, init: he_normal}
//	  - remove: {vertex: drop1, keep_connections: false}    # or just: remove: drop1
//	  - remove_outputs: 1
//	  - add: {name: fc, inputs: [flat], init: he_normal, train: {learning_rate: 0.01},
//	          layer: {kind: Dense, units: 64, activation: relu}}
//	  - insert: {name: id, after: fc, init: identity, layer: {kind: Dense, units: 64}}
//	  - widen: {vertex: fc, extra: 16, mode: preserve}     # preserve, net2net, random
//	  - set_inputs: {vertex: out, inputs: [fc]}
//	  - set_outputs: [out]
//	train:                      # optional
//	  data:
//	    kind: npy               # npy is built in; others register with RegisterDataSource
//	    features: x.npy         # a file or a list (one per graph input), source layout
//	    labels: y.npy           # one per graph output; class indices are one-hot encoded
//	    validation_features: vx.npy
//	    validation_labels: vy.npy
//	    options: {}             # free-form, for other kinds
//	  epochs: 5
//	  batch_size: 32
//	  shuffle: true             # default true
//	  featurize: true           # run the frozen part once, train the head from shards
//	  featurize_dir: feats      # default: a temporary folder
//	  shard_size: 4096
//	outputs: [retargeted.rtm]   # one or more model paths (the saver picks the format)
//	force: false                # allow an output path equal to the source
//
// Layers in add/insert are written as ir's JSON configs with the kind
// beside them; an activation may be a bare name ("relu") or a mapping
// ({kind: leaky_relu, alpha: 0.1}). Bidirectional takes a nested layer.
type Plan struct {
	File     string
	Dir      string
	Source   PlanSource
	Seed     int64
	Init     ir.WeightInit
	FineTune *ir.TrainConfig
	Edits    []PlanEdit
	Train    *PlanTrain
	Outputs  []string
	Force    bool

	root *yaml.Node
}

// PlanSource is the model a plan starts from (paths as written).
type PlanSource struct {
	Model   string `yaml:"model"`
	Weights string `yaml:"weights"`
}

// PlanEdit is one edit of a plan.
type PlanEdit struct {
	Line     int
	Op       string
	Vertices []string // the vertices it names, to place graph problems
	apply    func(*Builder)
}

// PlanTrain is the optional training block.
type PlanTrain struct {
	Data         DataSpec `yaml:"data"`
	Epochs       int      `yaml:"epochs"`
	BatchSize    int      `yaml:"batch_size"`
	Shuffle      *bool    `yaml:"shuffle"`
	Featurize    bool     `yaml:"featurize"`
	FeaturizeDir string   `yaml:"featurize_dir"`
	ShardSize    int      `yaml:"shard_size"`
}

// DataSpec says where training data comes from; Kind picks a registered
// DataSource. Paths are resolved against the plan's folder before the
// source sees them.
type DataSpec struct {
	Kind               string         `yaml:"kind"`
	Features           StringList     `yaml:"features"`
	Labels             StringList     `yaml:"labels"`
	ValidationFeatures StringList     `yaml:"validation_features"`
	ValidationLabels   StringList     `yaml:"validation_labels"`
	Options            map[string]any `yaml:"options"`
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

type planYAML struct {
	Source   *PlanSource     `yaml:"source"`
	Seed     int64           `yaml:"seed"`
	Init     string          `yaml:"init"`
	FineTune *ir.TrainConfig `yaml:"fine_tune"`
	Edits    []yaml.Node     `yaml:"edits"`
	Train    *PlanTrain      `yaml:"train"`
	Outputs  StringList      `yaml:"outputs"`
	Force    bool            `yaml:"force"`
}

// maxPlanBytes bounds a plan file; real plans are a few KiB.
const maxPlanBytes = 4 << 20

// LoadPlan reads and parses a plan file; see ParsePlan.
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

// ParsePlan parses a plan; a *PlanError lists every problem with its line.
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
	if py.Source == nil {
		py.Source = &PlanSource{}
	}
	plan := &Plan{File: file, Dir: filepath.Dir(file), Seed: py.Seed, FineTune: py.FineTune, Train: py.Train,
		Outputs: py.Outputs, Force: py.Force, root: doc}
	plan.Source = *py.Source
	if plan.Source.Model == "" {
		p.add(lineAt(doc, "source"), "source.model is required: the model file to start from")
	}
	if py.Init != "" {
		w, err := ir.ParseWeightInit(py.Init)
		if err != nil {
			p.add(lineAt(doc, "init"), "%v", err)
		}
		plan.Init = w
	}
	if py.FineTune != nil {
		if err := checkTrainConfig(py.FineTune); err != nil {
			for _, e := range ir.Problems(err) {
				p.add(lineAt(doc, "fine_tune"), "fine_tune: %v", e)
			}
		}
	}
	for i := range py.Edits {
		if e, ok := p.parseEdit(&py.Edits[i]); ok {
			plan.Edits = append(plan.Edits, e)
		}
	}
	if len(plan.Outputs) == 0 {
		p.add(lineAt(doc, "outputs"), "outputs: give at least one model path to write")
	}
	if t := plan.Train; t != nil {
		if t.Epochs < 0 || t.BatchSize < 0 || t.ShardSize < 0 {
			p.add(lineAt(doc, "train"), "train: epochs, batch_size and shard_size must not be negative")
		}
		if t.Data.Kind == "" {
			t.Data.Kind = "npy"
		}
		if dataSource(t.Data.Kind) == nil {
			p.add(lineAt(doc, "train", "data", "kind"), "unknown data kind %q (known: %s)", t.Data.Kind, strings.Join(dataKinds(), ", "))
		}
		if len(t.Data.Features) == 0 {
			p.add(lineAt(doc, "train", "data"), "train.data.features is required")
		}
	}
	return plan, p.err()
}

// lineAt finds the line of a key path in a mapping (the deepest found).
func lineAt(n *yaml.Node, path ...string) int {
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

type vertexN struct {
	Vertex     string `yaml:"vertex"`
	N          int    `yaml:"n"`
	Init       string `yaml:"init"`
	FanOutInit string `yaml:"fan_out_init"`
}

type removeSpec struct {
	Vertex          string `yaml:"vertex"`
	KeepConnections bool   `yaml:"keep_connections"`
}

type addSpec struct {
	Name   string          `yaml:"name"`
	Layer  yaml.Node       `yaml:"layer"`
	Inputs StringList      `yaml:"inputs"`
	After  string          `yaml:"after"`
	Init   string          `yaml:"init"`
	Train  *ir.TrainConfig `yaml:"train"`
}

type widenSpec struct {
	Vertex string `yaml:"vertex"`
	Extra  int    `yaml:"extra"`
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
	init := func(line int, s string) (ir.WeightInit, bool) {
		if s == "" {
			return "", true
		}
		w, err := ir.ParseWeightInit(s)
		if err != nil {
			p.add(line, "%v", err)
			return "", false
		}
		return w, true
	}
	need := func(ok bool, line int, what string) bool {
		if !ok {
			p.add(line, "%s: %s is required", e.Op, what)
		}
		return ok
	}
	switch e.Op {
	case "freeze_through", "unfreeze", "set_outputs":
		var names StringList
		if !p.decodeStrict(val, &names) || !need(len(names) > 0, val.Line, "a vertex name") {
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
	case "replace_nout", "replace_nin":
		var s vertexN
		if !p.decodeStrict(val, &s) || !need(s.Vertex != "", val.Line, "vertex") || !need(s.N > 0, val.Line, "n (> 0)") {
			return e, false
		}
		w, ok1 := init(lineAt(val, "init"), s.Init)
		fo, ok2 := init(lineAt(val, "fan_out_init"), s.FanOutInit)
		if !ok1 || !ok2 {
			return e, false
		}
		if e.Op == "replace_nin" && s.FanOutInit != "" {
			p.add(lineAt(val, "fan_out_init"), "replace_nin has no fan_out_init")
			return e, false
		}
		e.Vertices = []string{s.Vertex}
		if e.Op == "replace_nout" {
			e.apply = func(b *Builder) { b.ReplaceNOut(s.Vertex, s.N, w, fo) }
		} else {
			e.apply = func(b *Builder) { b.ReplaceNIn(s.Vertex, s.N, w) }
		}
	case "remove":
		var s removeSpec
		if val.Kind == yaml.ScalarNode {
			s.Vertex = val.Value
		} else if !p.decodeStrict(val, &s) {
			return e, false
		}
		if !need(s.Vertex != "", val.Line, "vertex") {
			return e, false
		}
		e.Vertices = []string{s.Vertex}
		e.apply = func(b *Builder) { b.Remove(s.Vertex, s.KeepConnections) }
	case "remove_outputs":
		var n int
		if !p.decodeStrict(val, &n) || !need(n > 0, val.Line, "a count > 0") {
			return e, false
		}
		e.apply = func(b *Builder) { b.RemoveOutputs(n) }
	case "add", "insert":
		var s addSpec
		if !p.decodeStrict(val, &s) || !need(s.Name != "", val.Line, "name") || !need(s.Layer.Kind != 0, val.Line, "layer") {
			return e, false
		}
		w, ok := init(lineAt(val, "init"), s.Init)
		if !ok {
			return e, false
		}
		l, err := layerFromYAML(&s.Layer)
		if err != nil {
			line := s.Layer.Line
			if f := unknownField(err); f != "" {
				line = findKeyLine(&s.Layer, f, line)
			}
			p.add(line, "%s %q: layer: %v", e.Op, s.Name, err)
			return e, false
		}
		e.Vertices = []string{s.Name}
		if e.Op == "add" {
			if !need(len(s.Inputs) > 0, val.Line, "inputs") {
				return e, false
			}
			if s.After != "" {
				p.add(lineAt(val, "after"), "add takes inputs, not after (insert takes after)")
				return e, false
			}
			e.apply = func(b *Builder) { b.AddWith(s.Name, l, AddOptions{Init: w, Train: s.Train}, s.Inputs...) }
		} else {
			if !need(s.After != "", val.Line, "after") {
				return e, false
			}
			if len(s.Inputs) > 0 || s.Train != nil {
				p.add(val.Line, "insert takes after, not inputs or train")
				return e, false
			}
			e.apply = func(b *Builder) { b.Insert(s.Name, l, s.After, w) }
		}
	case "widen":
		var s widenSpec
		if !p.decodeStrict(val, &s) || !need(s.Vertex != "", val.Line, "vertex") || !need(s.Extra > 0, val.Line, "extra (> 0)") {
			return e, false
		}
		if s.Mode == "" {
			s.Mode = string(WidenPreserve)
		}
		m, err := ParseWidenMode(s.Mode)
		if err != nil {
			p.add(lineAt(val, "mode"), "%v", err)
			return e, false
		}
		e.Vertices = []string{s.Vertex}
		e.apply = func(b *Builder) { b.Widen(s.Vertex, s.Extra, m) }
	case "set_inputs":
		var s setInputsSpec
		if !p.decodeStrict(val, &s) || !need(s.Vertex != "", val.Line, "vertex") || !need(len(s.Inputs) > 0, val.Line, "inputs") {
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

// layerFromYAML builds an ir layer from {kind: K, <config fields>}.
func layerFromYAML(n *yaml.Node) (ir.Layer, error) {
	var m map[string]any
	if err := n.Decode(&m); err != nil {
		return nil, err
	}
	return layerFromMap(m)
}

func layerFromMap(m map[string]any) (ir.Layer, error) {
	kind, _ := m["kind"].(string)
	if kind == "" {
		return nil, fmt.Errorf("kind is required (one of %s)", strings.Join(ir.Kinds(), ", "))
	}
	l, err := ir.NewLayer(kind)
	if err != nil {
		return nil, fmt.Errorf("%v (known: %s)", err, strings.Join(ir.Kinds(), ", "))
	}
	cfg := map[string]any{}
	for k, v := range m {
		if k == "kind" {
			continue
		}
		if s, ok := v.(string); ok && (k == "activation" || k == "recurrent_activation") {
			v = map[string]any{"kind": s}
		}
		if inner, ok := v.(map[string]any); ok && k == "layer" {
			il, err := layerFromMap(inner)
			if err != nil {
				return nil, fmt.Errorf("layer: %w", err)
			}
			b, err := ir.MarshalLayer(il)
			if err != nil {
				return nil, err
			}
			v = json.RawMessage(b)
		}
		cfg[k] = v
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(l); err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	return l, nil
}
