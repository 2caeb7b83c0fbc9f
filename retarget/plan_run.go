package retarget

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/retarget-dev/retarget/ir"
)

// PlanEnv connects a plan to file formats, which retarget does not parse
// itself (the CLI passes modelio's loader and saver).
type PlanEnv struct {
	// Load reads the source model (paths resolved against the plan's folder).
	Load func(model, weights string) (*ir.Graph, error)
	// Save writes a model atomically, refusing to overwrite source unless
	// the caller allows it.
	Save func(path string, g *ir.Graph, source string) error
	// CheckSave, when set, reports why Save would refuse path (an
	// extension no format writes, a folder in the way, …) so that a bad
	// output is found before any work. Run creates missing folders, so a
	// missing parent folder is not a problem.
	CheckSave func(path, source string) error
	// Force lets an output name the source model (Save must allow it too):
	// the source is replaced once the run is done.
	Force bool
	// Log receives progress lines (nil: none).
	Log io.Writer
	// Progress, when set, is called as work advances: what is "featurize
	// train", "featurize test" or "fit"; total is -1 when unknown.
	Progress func(what string, done, total int)
}

// PlanResult is what Run did; it is the CLI's JSON report.
type PlanResult struct {
	Graph           *ir.Graph        `json:"-"`
	Plan            string           `json:"plan"`
	Model           string           `json:"model"`
	Notes           []string         `json:"notes"`
	Frozen          []string         `json:"frozen"`
	ParamsTotal     int              `json:"params_total"`
	ParamsTrainable int              `json:"params_trainable"`
	Epochs          []EpochReport    `json:"epochs"`
	Featurized      []FeaturizedInfo `json:"featurized"`
	Outputs         []string         `json:"outputs"`
}

// EpochReport is one epoch of a plan's fit. Accuracy is measured after the
// epoch in inference mode on the training data (classification outputs
// only); the test fields are present with data.test.
type EpochReport struct {
	Epoch        int      `json:"epoch"`
	Loss         float64  `json:"loss"`
	Accuracy     *float64 `json:"accuracy"`
	TestLoss     *float64 `json:"test_loss,omitempty"`
	TestAccuracy *float64 `json:"test_accuracy,omitempty"`
	// Metrics is the epoch's history row: every column measured (per
	// output losses and accuracies of a multi-output model, val_ values,
	// lr, examples_per_s, elapsed_s).
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

// FeaturizedInfo describes the shards a featurized fit used.
type FeaturizedInfo struct {
	Data     string   `json:"data"` // "train" or "test"
	Dir      string   `json:"dir"`
	Boundary []string `json:"boundary"`
	Examples int      `json:"examples"`
	Reused   bool     `json:"reused"`
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

// Check validates the plan without training or writing: the model and
// data files exist, the source loads (when env.Load is set), the edits
// build, the data fits the result, outputs do not overwrite the source
// (unless env.Force).
// It returns Build's notes and a *PlanError listing every problem with its
// line.
func (p *Plan) Check(env PlanEnv) ([]string, error) {
	_, notes, probs := p.build(env)
	return notes, probs.err()
}

func (p *Plan) build(env PlanEnv) (*ir.Graph, []string, *problems) {
	probs := &problems{file: p.File}
	probs.checkFiles(p)
	srcLine := lineAt(p.root, "model")
	if p.Model == "" {
		return nil, nil, probs // reported by the parser
	}
	model := p.path(p.Model)
	if _, err := os.Stat(model); err != nil {
		probs.add(srcLine, "model: %v", err)
		return nil, nil, probs
	}
	if p.Weights != "" {
		if _, err := os.Stat(p.path(p.Weights)); err != nil {
			probs.add(lineAt(p.root, "weights"), "weights: %v", err)
			return nil, nil, probs
		}
	}
	for i, o := range p.Output {
		line := lineAt(p.root, "output")
		if i < len(p.outputLines) {
			line = p.outputLines[i]
		}
		if !env.Force && same(p.path(o), model) {
			probs.add(line, "output %q is the source model: pick another path, or force (retarget apply --force) to replace it", o)
			continue
		}
		if env.CheckSave != nil {
			if err := env.CheckSave(p.path(o), model); err != nil {
				probs.add(line, "output %q: %v", o, err)
			}
		}
	}
	if ck := p.Fit.Checkpoint; ck != nil && ck.Path != "" {
		line := lineAt(p.root, "fit", "checkpoint")
		if !env.Force && same(p.path(ck.Path), model) {
			probs.add(line, "fit: checkpoint %q is the source model: pick another path", ck.Path)
		} else if env.CheckSave != nil {
			if err := env.CheckSave(p.path(ck.Path), model); err != nil {
				probs.add(line, "fit: checkpoint %q: %v", ck.Path, err)
			}
		}
	}
	if env.Load == nil {
		return nil, nil, probs
	}
	src, err := env.Load(model, p.path(p.Weights))
	if err != nil {
		probs.add(srcLine, "loading the model: %v", err)
		return nil, nil, probs
	}
	b, lines := p.Builder(src)
	g, notes, err := b.BuildNotes()
	for _, e := range Problems(err) {
		probs.add(p.lineOf(e, lines, srcLine), "%s", planTerms(e.Error()))
	}
	if g == nil {
		return nil, notes, probs
	}
	if p.Fit.Featurize && len(Boundary(g)) == 0 {
		probs.add(lineAt(p.root, "fit", "featurize"), "featurize needs a frozen part: add a freeze_through edit")
	}
	if p.Train != nil {
		if !p.Train.Named() {
			if _, err := targetOf(g); err != nil {
				probs.add(lineAt(p.root, "data"), "data: %v; give sources per input and output: data: {train: {inputs: {NAME: X.npy}, labels: {NAME: Y.npy}}}", err)
			} else if len(g.Inputs) != 1 {
				probs.add(lineAt(p.root, "data"), "data: a data source feeds one graph input; the model has %d (%s): give data: {train: {inputs: {NAME: X.npy, …}, labels: {NAME: Y.npy}}}", len(g.Inputs), inputNames(g))
			}
		}
		for _, d := range []struct {
			s     *Sources
			where string
		}{{p.Train, "data.train"}, {p.Test, "data.test"}} {
			if d.s == nil {
				continue
			}
			if !d.s.Named() {
				probs.checkData(p, d.s.Single, d.where, g)
				continue
			}
			for _, sp := range checkNamed(g, d.s.resolved(p.Dir), d.where == "data.train", d.where+".inputs", d.where+".labels") {
				line := lineAt(d.s.node)
				if sp.node != nil {
					line = lineAt(sp.node, sp.Key)
				}
				probs.add(line, "%s: %s", sp.Source, sp.Msg)
			}
		}
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
	var specs []*DataSpec
	for _, s := range []*Sources{p.Train, p.Test} {
		if s != nil {
			specs = append(specs, s.specs()...)
		}
	}
	for _, s := range specs {
		for _, k := range []string{"path", "features", "labels"} {
			v := map[string]string{"path": s.Path, "features": s.Features, "labels": s.Labels}[k]
			if v == "" {
				continue
			}
			if _, err := os.Stat(p.path(v)); err != nil {
				probs.add(lineAt(s.node, k), "%s: %v", k, err)
			}
		}
	}
}

func same(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	if err1 != nil || err2 != nil {
		return false
	}
	if aa == bb {
		return true
	}
	fa, err1 := os.Stat(aa)
	fb, err2 := os.Stat(bb)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

func (p *Plan) logf(env PlanEnv, format string, args ...any) {
	if env.Log != nil {
		fmt.Fprintf(env.Log, format+"\n", args...)
	}
}

// Run checks the plan (nothing runs when it has a problem), loads the
// source, applies the edits, fits if the plan has data and writes every
// output. The source model file is only read, unless env.Force and an
// output names it.
func (p *Plan) Run(env PlanEnv) (*PlanResult, error) {
	if env.Load == nil || env.Save == nil {
		return nil, fmt.Errorf("plan run needs a model loader and saver")
	}
	g, notes, probs := p.build(env)
	if err := probs.err(); err != nil {
		return nil, err
	}
	res := &PlanResult{Graph: g, Plan: p.File, Model: p.path(p.Model), Notes: append([]string{}, notes...),
		Frozen: []string{}, Epochs: []EpochReport{}, Featurized: []FeaturizedInfo{}, Outputs: []string{}}
	for _, n := range notes {
		p.logf(env, "note: %s", n)
	}
	if p.Train != nil {
		if err := p.fit(env, g, res); err != nil {
			return nil, err
		}
	}
	for _, v := range g.Vertices {
		if v.Frozen {
			res.Frozen = append(res.Frozen, v.Name)
		}
	}
	var err error
	if res.ParamsTotal, res.ParamsTrainable, err = ParamCounts(g); err != nil {
		return nil, err
	}
	for _, o := range p.Output {
		path := p.path(o)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		if err := env.Save(path, g, res.Model); err != nil {
			return nil, fmt.Errorf("writing %s: %w", path, err)
		}
		res.Outputs = append(res.Outputs, path)
	}
	return res, nil
}

// ParamCounts returns a graph's parameter count and how many of them
// training updates (non-frozen vertices, trainable roles).
func ParamCounts(g *ir.Graph) (total, trainable int, err error) {
	shapes, err := g.Shapes()
	if err != nil {
		return 0, 0, err
	}
	for _, v := range g.Vertices {
		total += v.ParamCount()
		if v.Frozen {
			continue
		}
		for _, s := range v.Layer.Params(v.InputShapes(shapes)) {
			if t := v.Params[s.Name]; s.Trainable && t != nil {
				trainable += t.Len()
			}
		}
	}
	return total, trainable, nil
}
