package retarget

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/retarget-dev/retarget/ir"
)

// fit trains g as the plan's fit block says (through Fit), filling
// res.Epochs.
func (p *Plan) fit(env PlanEnv, g *ir.Graph, res *PlanResult) error {
	f := p.Fit
	bs := f.BatchSize
	if bs <= 0 {
		bs = 32
	}
	var seed int64 = 1
	if g.Train != nil && g.Train.Seed != 0 {
		seed = g.Train.Seed
	}
	progress := func(what string) func(done, total int) {
		if env.Progress == nil {
			return nil
		}
		return func(done, total int) { env.Progress(what, done, total) }
	}
	train, test := p.Train.resolved(p.Dir), Sources{}
	if p.Test != nil {
		test = p.Test.resolved(p.Dir)
	}
	opt, err := p.fitOptions(env)
	if err != nil {
		return err
	}
	opt.BatchSize, opt.Seed, opt.Shuffle = bs, seed, f.Shuffle == nil || *f.Shuffle
	opt.Progress = progress("fit")
	if f.Featurize {
		root := p.path(f.CacheDir)
		if f.CacheDir == "" {
			if root, err = DefaultCacheRoot(); err != nil {
				return err
			}
		}
		boundary := Boundary(g)
		featurize := func(name string, s Sources) (string, error) {
			ds, err := OpenSources(s, g, DataOptions{BatchSize: bs})
			if err != nil {
				return "", fmt.Errorf("%s:%d: %w", p.File, lineAt(s.nodeOf()), err)
			}
			defer ds.Close()
			key, frozen, err := featurizeKeys(g, boundary, ds.ID)
			if err != nil {
				return "", err
			}
			dir := CacheDir(root, key)
			idx, err := Featurize(g, ds, dir, FeaturizeOptions{Boundary: boundary, ShardSize: f.ShardSize, DataID: ds.ID, key: key, frozen: frozen,
				Progress: progress("featurize " + name)})
			if err != nil {
				return "", err
			}
			verb := "featurized"
			if idx.Reused {
				verb = "reused"
			}
			p.logf(env, "%s %d %s examples at %v in %s", verb, idx.Count, name, boundary, dir)
			res.Featurized = append(res.Featurized, FeaturizedInfo{Data: name, Dir: dir, Boundary: boundary, Examples: idx.Count, Reused: idx.Reused})
			return dir, nil
		}
		trainDir, err := featurize("train", train)
		if err != nil {
			return err
		}
		opt.Train.Featurized = []string{trainDir}
		if p.Test != nil {
			testDir, err := featurize("test", test)
			if err != nil {
				return err
			}
			opt.Test.Featurized = []string{testDir}
		}
	} else {
		opt.Train.Sources = &train
		if p.Test != nil {
			opt.Test.Sources = &test
		}
	}
	r, err := Fit(g, opt)
	if r != nil {
		res.Epochs = append(res.Epochs, r.Epochs...)
	}
	if err != nil {
		return fmt.Errorf("%s: fit: %w", p.File, err)
	}
	return nil
}

// fitOptions are the plan's fit callbacks and files as FitOptions.
func (p *Plan) fitOptions(env PlanEnv) (FitOptions, error) {
	f := p.Fit
	opt := FitOptions{Epochs: max(f.Epochs, 1), History: p.path(f.History), HistoryEvery: f.HistoryEvery,
		Plot: p.path(f.Plot), PlotTitle: filepath.Base(p.File), EarlyStopping: f.EarlyStopping, ReduceLR: f.ReduceLR,
		ClassWeights: f.ClassWeights, Log: env.Log}
	if f.Checkpoint != nil {
		opt.Checkpoint = &Checkpoint{Path: p.path(f.Checkpoint.Path), Monitor: f.Checkpoint.Monitor}
		model := p.path(p.Model)
		if err := os.MkdirAll(filepath.Dir(opt.Checkpoint.Path), 0o755); err != nil {
			return opt, err
		}
		opt.Save = func(path string, g *ir.Graph) error { return env.Save(path, g, model) }
	}
	return opt, nil
}

// nodeOf is the YAML node of the sources (for error lines).
func (s Sources) nodeOf() *yaml.Node {
	if s.Single != nil && s.Single.node != nil {
		return s.Single.node
	}
	return s.node
}

// Line is the epoch's progress line: "epoch 3/10: loss …, accuracy …,
// test loss …, test accuracy …" (the measured values only).
func (r EpochReport) Line(epochs int) string {
	msg := fmt.Sprintf("epoch %d/%d: loss %.5g", r.Epoch, epochs, r.Loss)
	if r.Accuracy != nil {
		msg += fmt.Sprintf(", accuracy %.4f", *r.Accuracy)
	}
	if r.TestLoss != nil {
		msg += fmt.Sprintf(", test loss %.5g", *r.TestLoss)
	}
	if r.TestAccuracy != nil {
		msg += fmt.Sprintf(", test accuracy %.4f", *r.TestAccuracy)
	}
	// the outputs of a multi-output model
	var keys []string
	for k := range r.Metrics {
		if k != "val_loss" && k != "val_accuracy" && (strings.HasSuffix(k, "_loss") || strings.HasSuffix(k, "_accuracy")) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		msg += fmt.Sprintf(", %s %.5g", strings.ReplaceAll(strings.Replace(k, "val_", "test ", 1), "_", " "), r.Metrics[k])
	}
	return msg
}
