package retarget

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// PlanEnv connects a plan to file formats, which retarget does not parse
// itself (the CLI passes modelio's loader and saver).
type PlanEnv struct {
	// Load reads the source model (paths resolved against the plan's folder).
	Load func(model, weights string) (*ir.Graph, error)
	// Save writes a model; force allows overwriting the source.
	Save func(path string, g *ir.Graph, force bool) error
	// Log receives progress lines (nil: none).
	Log io.Writer
}

// PlanResult is what Run did.
type PlanResult struct {
	Graph       *ir.Graph
	Notes       []string
	History     []nn.EpochInfo
	ValAccuracy float64 // NaN without validation data
	Written     []string
}

func (p *Plan) path(s string) string {
	if s == "" || filepath.IsAbs(s) {
		return s
	}
	return filepath.Join(p.Dir, s)
}

// Builder records the plan's edits on a builder for src; lines maps each
// builder edit index to its YAML line.
func (p *Plan) Builder(src *ir.Graph) (*Builder, []int) {
	b := New(src)
	if p.Seed != 0 {
		b.Seed(p.Seed)
	}
	if p.Init != "" {
		b.DefaultInit(p.Init)
	}
	var lines []int
	if p.FineTune != nil {
		b.FineTune(*p.FineTune)
		lines = append(lines, lineAt(p.root, "fine_tune"))
	}
	for _, e := range p.Edits {
		n := b.Edits()
		e.apply(b)
		for i := n; i < b.Edits(); i++ {
			lines = append(lines, e.Line)
		}
	}
	return b, lines
}

// Check validates the plan without training or writing: source and data
// files exist, the source loads (when env.Load is set), the edits build,
// outputs do not overwrite the source. It returns Build's notes and a
// *PlanError listing every problem with its line.
func (p *Plan) Check(env PlanEnv) ([]string, error) {
	_, notes, probs := p.build(env)
	probs.checkFiles(p)
	return notes, probs.err()
}

func (p *Plan) build(env PlanEnv) (*ir.Graph, []string, *problems) {
	probs := &problems{file: p.File}
	srcLine := lineAt(p.root, "source", "model")
	if p.Source.Model == "" {
		return nil, nil, probs // reported by the parser
	}
	model := p.path(p.Source.Model)
	if _, err := os.Stat(model); err != nil {
		probs.add(srcLine, "source model: %v", err)
		return nil, nil, probs
	}
	if p.Source.Weights != "" {
		if _, err := os.Stat(p.path(p.Source.Weights)); err != nil {
			probs.add(lineAt(p.root, "source", "weights"), "source weights: %v", err)
			return nil, nil, probs
		}
	}
	for _, o := range p.Outputs {
		if same(p.path(o), model) && !p.Force {
			probs.add(lineAt(p.root, "outputs"), "output %q is the source model: pick another path or set force: true", o)
		}
	}
	if env.Load == nil {
		return nil, nil, probs
	}
	src, err := env.Load(model, p.path(p.Source.Weights))
	if err != nil {
		probs.add(srcLine, "loading the source model: %v", err)
		return nil, nil, probs
	}
	b, lines := p.Builder(src)
	g, notes, err := b.BuildNotes()
	for _, e := range Problems(err) {
		probs.add(p.lineOf(e, lines, srcLine), "%v", e)
	}
	if g != nil && p.Train != nil && p.Train.Featurize && len(Boundary(g)) == 0 {
		probs.add(lineAt(p.root, "train", "featurize"), "featurize needs a frozen part: add a freeze_through edit")
	}
	return g, notes, probs
}

func (p *Plan) lineOf(e error, lines []int, def int) int {
	var ee *EditError
	if errors.As(e, &ee) && ee.Index < len(lines) {
		return lines[ee.Index]
	}
	var ve *ir.VertexError
	if errors.As(e, &ve) {
		line := 0
		for _, ed := range p.Edits {
			for _, v := range ed.Vertices {
				if v == ve.Vertex {
					line = ed.Line
				}
			}
		}
		if line > 0 {
			return line
		}
	}
	return def
}

func (probs *problems) checkFiles(p *Plan) {
	if p.Train == nil {
		return
	}
	d := p.Train.Data
	for _, f := range []struct {
		key   string
		paths []string
	}{{"features", d.Features}, {"labels", d.Labels}, {"validation_features", d.ValidationFeatures}, {"validation_labels", d.ValidationLabels}} {
		for _, s := range f.paths {
			if _, err := os.Stat(p.path(s)); err != nil {
				probs.add(lineAt(p.root, "train", "data", f.key), "train.data.%s: %v", f.key, err)
			}
		}
	}
}

func same(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

func (p *Plan) logf(env PlanEnv, format string, args ...any) {
	if env.Log != nil {
		fmt.Fprintf(env.Log, format+"\n", args...)
	}
}

// Run loads the source, applies the edits, trains if the plan says so and
// writes every output.
func (p *Plan) Run(env PlanEnv) (*PlanResult, error) {
	if env.Load == nil || env.Save == nil {
		return nil, fmt.Errorf("plan run needs a model loader and saver")
	}
	g, notes, probs := p.build(env)
	probs.checkFiles(p)
	if err := probs.err(); err != nil {
		return nil, err
	}
	res := &PlanResult{Graph: g, Notes: notes, ValAccuracy: math.NaN()}
	for _, n := range notes {
		p.logf(env, "note: %s", n)
	}
	if p.Train != nil {
		if err := p.train(env, g, res); err != nil {
			return nil, err
		}
	}
	for _, o := range p.Outputs {
		path := p.path(o)
		if err := env.Save(path, g, p.Force); err != nil {
			return nil, fmt.Errorf("writing %s: %w", path, err)
		}
		p.logf(env, "wrote %s", path)
		res.Written = append(res.Written, path)
	}
	return res, nil
}

func (p *Plan) train(env PlanEnv, g *ir.Graph, res *PlanResult) error {
	t := p.Train
	spec := t.Data
	for _, l := range []*StringList{&spec.Features, &spec.Labels, &spec.ValidationFeatures, &spec.ValidationLabels} {
		r := make(StringList, len(*l))
		for i, s := range *l {
			r[i] = p.path(s)
		}
		*l = r
	}
	opt := DataOptions{BatchSize: t.BatchSize, Shuffle: t.Shuffle == nil || *t.Shuffle, Seed: p.Seed}
	if opt.BatchSize == 0 {
		opt.BatchSize = 32
	}
	epochs := max(t.Epochs, 1)
	trainIt, valIt, err := dataSource(spec.Kind)(spec, g, opt)
	if err != nil {
		return fmt.Errorf("%s:%d: training data: %w", p.File, lineAt(p.root, "train", "data"), err)
	}
	onEpoch := func(e nn.EpochInfo) error {
		p.logf(env, "epoch %d: loss %.5g", e.Epoch+1, e.Loss)
		return nil
	}
	if t.Featurize {
		dir := p.path(t.FeaturizeDir)
		if t.FeaturizeDir == "" {
			if dir, err = os.MkdirTemp("", "retarget-featurize-*"); err != nil {
				return err
			}
			defer os.RemoveAll(dir)
		}
		idx, err := Featurize(g, trainIt, dir, FeaturizeOptions{ShardSize: t.ShardSize})
		if err != nil {
			return err
		}
		p.logf(env, "featurized %d examples at %v into %s", idx.Count, idx.Boundary, dir)
		head, err := HeadGraph(g, idx.Boundary...)
		if err != nil {
			return err
		}
		fr, err := FitFeaturized(head, dir, FitFeaturizedOptions{BatchSize: opt.BatchSize, Shuffle: opt.Shuffle, Seed: opt.Seed,
			Fit: nn.FitConfig{Epochs: epochs, OnEpoch: onEpoch}})
		if err != nil {
			return err
		}
		res.History = fr.History
		if err := MergeHead(g, head); err != nil {
			return err
		}
	} else {
		net, err := nn.Compile(g)
		if err != nil {
			return err
		}
		fr, err := net.Fit(trainIt, nn.FitConfig{Epochs: epochs, OnEpoch: onEpoch, Validation: valIt})
		if err != nil {
			return err
		}
		res.History = fr.History
	}
	if valIt != nil {
		net, err := nn.Compile(g)
		if err != nil {
			return err
		}
		if err := valIt.Reset(); err != nil {
			return err
		}
		ev, err := net.Evaluate(valIt)
		if err != nil {
			return err
		}
		res.ValAccuracy = ev.Accuracy()
		p.logf(env, "validation accuracy %.4f", res.ValAccuracy)
	}
	return nil
}
