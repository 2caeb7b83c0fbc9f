package retarget

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// fit trains g as the plan's fit block says, filling res.Epochs.
func (p *Plan) fit(env PlanEnv, g *ir.Graph, res *PlanResult) error {
	f := p.Fit
	epochs, bs := max(f.Epochs, 1), f.BatchSize
	if bs <= 0 {
		bs = 32
	}
	shuffle := f.Shuffle == nil || *f.Shuffle
	var seed int64 = 1
	if g.Train != nil && g.Train.Seed != 0 {
		seed = g.Train.Seed
	}
	tgt, err := targetOf(g)
	if err != nil {
		return err
	}
	progress := func(what string) func(done, total int) {
		if env.Progress == nil {
			return nil
		}
		return func(done, total int) { env.Progress(what, done, total) }
	}
	open := func(s *DataSpec, shuffle bool) (*DataSet, error) {
		ds, err := OpenData(s.resolved(p.Dir), g, DataOptions{BatchSize: bs, Shuffle: shuffle, Seed: seed})
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", p.File, lineAt(s.node), err)
		}
		return ds, nil
	}
	var trainIt, evalIt, testIt nn.Iterator
	n := 0
	fitGraph := g
	var head *ir.Graph
	if f.Featurize {
		root := p.path(f.CacheDir)
		if f.CacheDir == "" {
			if root, err = DefaultCacheRoot(); err != nil {
				return err
			}
		}
		boundary := Boundary(g)
		featurize := func(name string, s *DataSpec) (string, error) {
			ds, err := open(s, false)
			if err != nil {
				return "", err
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
		trainDir, err := featurize("train", p.Train)
		if err != nil {
			return err
		}
		var testDir string
		if p.Test != nil {
			if testDir, err = featurize("test", p.Test); err != nil {
				return err
			}
		}
		if head, err = Trainable(g); err != nil {
			return err
		}
		fitGraph = head
		it, err := FeaturizedIterator(head, trainDir, bs, shuffle, seed)
		if err != nil {
			return err
		}
		trainIt, n = it, it.Len()
		if evalIt, err = FeaturizedIterator(head, trainDir, bs, false, 0); err != nil {
			return err
		}
		if testDir != "" {
			if testIt, err = FeaturizedIterator(head, testDir, bs, false, 0); err != nil {
				return err
			}
		}
	} else {
		ds, err := open(p.Train, shuffle)
		if err != nil {
			return err
		}
		defer ds.Close()
		trainIt, n = ds, ds.N
		if tgt.classify {
			eds, err := open(p.Train, false)
			if err != nil {
				return err
			}
			defer eds.Close()
			evalIt = eds
		}
		if p.Test != nil {
			tds, err := open(p.Test, false)
			if err != nil {
				return err
			}
			defer tds.Close()
			testIt = tds
		}
	}
	net, err := nn.Compile(fitGraph)
	if err != nil {
		return err
	}
	total := epochs * ((n + bs - 1) / bs)
	step := 0
	cfg := nn.FitConfig{Epochs: epochs, Validation: testIt, ScoreEvery: 1}
	if fp := progress("fit"); fp != nil {
		cfg.OnScore = func(nn.StepInfo) { step++; fp(step, total) }
	}
	cfg.OnEpoch = func(e nn.EpochInfo) error {
		r := EpochReport{Epoch: e.Epoch + 1, Loss: e.Loss}
		if tgt.classify && evalIt != nil {
			ev, err := net.Evaluate(evalIt)
			if err != nil {
				return err
			}
			a := ev.Accuracy()
			r.Accuracy = &a
		}
		if e.HasVal {
			l := e.ValLoss
			r.TestLoss = &l
			if tgt.classify && e.ValEval != nil {
				a := e.ValEval.Accuracy()
				r.TestAccuracy = &a
			}
		}
		res.Epochs = append(res.Epochs, r)
		p.logf(env, "%s", r.Line(epochs))
		return nil
	}
	if _, err := net.Fit(trainIt, cfg); err != nil {
		return err
	}
	if head != nil {
		return MergeHead(g, head)
	}
	return nil
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
	return msg
}
