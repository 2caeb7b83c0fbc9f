package retarget

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/retarget-dev/retarget/history"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// FitData is what a fit reads: data sources, or featurized folders of the
// graph's frozen part (written by Featurize; streamed).
type FitData struct {
	Sources    *Sources
	Featurized []string
}

func (d FitData) empty() bool { return d.Sources == nil && len(d.Featurized) == 0 }

// EarlyStopping stops a fit when Monitor has not improved by more than
// MinDelta for Patience epochs (at least 1).
type EarlyStopping struct {
	Monitor  string  `yaml:"monitor"` // a history column; default val_loss with test data, else loss
	Patience int     `yaml:"patience"`
	MinDelta float64 `yaml:"min_delta"`
}

// ReduceLR multiplies the learning rate by Factor (default 0.1) when
// Monitor has not improved by more than MinDelta for Patience epochs
// (default 10), not below MinLR (Keras ReduceLROnPlateau).
type ReduceLR struct {
	Monitor  string  `yaml:"monitor"`
	Factor   float64 `yaml:"factor"`
	Patience int     `yaml:"patience"`
	MinLR    float64 `yaml:"min_lr"`
	MinDelta float64 `yaml:"min_delta"`
}

// Checkpoint writes the model to Path (with FitOptions.Save) after every
// epoch whose Monitor value is the best so far.
type Checkpoint struct {
	Path    string
	Monitor string
}

// FitOptions drive Fit.
type FitOptions struct {
	Train FitData
	Test  FitData // optional: evaluated after every epoch (val_ columns)

	Epochs    int // default 1
	BatchSize int // default 32
	Shuffle   bool
	Seed      int64
	// ShuffleBuffer and AllowIncomplete apply to featurized data (see
	// StreamOptions and FeaturizedSet.Complete).
	ShuffleBuffer   int
	AllowIncomplete bool

	// History, when set, is a .csv or .json file rewritten atomically
	// after every epoch (and every HistoryEvery updater steps when > 0).
	History      string
	HistoryEvery int
	// Plot, when set, is a .png of the loss and accuracy curves, redrawn
	// after every epoch; PlotTitle heads it.
	Plot      string
	PlotTitle string

	EarlyStopping *EarlyStopping
	ReduceLR      *ReduceLR
	Checkpoint    *Checkpoint
	// ClassWeights weights each class's examples in the loss of a
	// classification output (Keras class_weight), by output name; the key
	// "" is the model's only classification output. One weight per class
	// (2 for a one-unit binary output); training data only.
	ClassWeights map[string][]float64
	// Save writes a model (Checkpoint); retarget does not write model files.
	Save func(path string, g *ir.Graph) error

	// Log receives a line per epoch and per callback action.
	Log io.Writer
	// Progress is called after every step with the steps done and the total.
	Progress func(done, total int)
	// OnEpoch receives each epoch's report.
	OnEpoch func(EpochReport)
	// Hooks are called after Fit's own: OnScore, OnEpoch (an error stops
	// the fit; nn.ErrStop stops it early), Checkpoint. Its Epochs, Seed,
	// Validation and EarlyStopping are used where the fields above leave
	// them unset.
	Hooks nn.FitConfig

	// head: g is already the trainable part (FitFeaturized).
	head bool
}

// FitResult is what Fit did.
type FitResult struct {
	Epochs       []EpochReport
	History      *history.History
	StoppedEarly bool
	// BestEpoch is the 1-based epoch with the best monitored value (the
	// checkpoint's, else early stopping's, else the loss); 0 when none.
	BestEpoch int
	Fit       *nn.FitResult
}

// Fit trains g's unfrozen part: the CLI's fit, a plan's fit and
// FitFeaturized all run here. It reads data sources (whole graph) or
// featurized folders (only the trainable part runs; its weights are
// merged back into g), records the history (loss and metrics of every
// loss output, validation values with test data, learning rate,
// examples/s, elapsed time), and runs the callbacks: reduce the learning
// rate on plateau, early stopping, best checkpoint, class weights. g is
// updated in place.
func Fit(g *ir.Graph, opt FitOptions) (*FitResult, error) {
	if opt.Train.empty() {
		return nil, errors.New("fit: no training data: give data sources or featurized folders")
	}
	if opt.Train.Sources != nil && len(opt.Train.Featurized) > 0 || opt.Test.Sources != nil && len(opt.Test.Featurized) > 0 {
		return nil, errors.New("fit: give data sources or featurized folders, not both")
	}
	if !opt.Test.empty() && (opt.Test.Sources != nil) != (opt.Train.Sources != nil) {
		return nil, errors.New("fit: test data must be of the training data's kind (sources with sources, featurized with featurized)")
	}
	if opt.Epochs <= 0 {
		opt.Epochs = max(opt.Hooks.Epochs, 1)
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 32
	}
	if opt.Seed == 0 {
		opt.Seed = opt.Hooks.Seed
	}
	if opt.History != "" {
		if err := history.CheckPath(opt.History); err != nil {
			return nil, err
		}
	}
	if opt.Checkpoint != nil && (opt.Checkpoint.Path == "" || opt.Save == nil) {
		return nil, errors.New("fit: a checkpoint needs a path and a Save function")
	}
	f := &fitRun{g: g, opt: opt, fitGraph: g}
	defer f.close()
	if err := f.open(); err != nil {
		return nil, err
	}
	if err := f.setup(); err != nil {
		return nil, err
	}
	return f.run()
}

// fitRun is one Fit's state.
type fitRun struct {
	g, fitGraph            *ir.Graph
	opt                    FitOptions
	trainIt, evalIt, valIt nn.Iterator
	n                      int
	closers                []io.Closer
	net                    *nn.Network
	outs                   []fitOutput // loss outputs
	hist                   *history.History
	res                    *FitResult
	es, rl, ck             *monitor
	start, epochStart      time.Time
	stepLoss               float64
	stepN, stepEx          int
	stepStart              time.Time
	steps                  int
}

// fitOutput is a loss output and its history column prefix.
type fitOutput struct {
	k        int
	name     string
	prefix   string // "" with one loss output, else "<name>_"
	classify bool
}

func (f *fitRun) close() {
	for _, c := range f.closers {
		c.Close()
	}
}

func (f *fitRun) open() error {
	o := f.opt
	if len(o.Train.Featurized) > 0 {
		if !o.head && len(Boundary(f.g)) > 0 {
			h, err := Trainable(f.g)
			if err != nil {
				return err
			}
			f.fitGraph = h
		}
		so := StreamOptions{BatchSize: o.BatchSize, Shuffle: o.Shuffle, Seed: o.Seed, ShuffleBuffer: o.ShuffleBuffer}
		stream := func(dirs []string, shuffle bool) (*FeaturizedStream, error) {
			so := so
			so.Shuffle = shuffle
			st, err := OpenFeaturizedStream(f.fitGraph, dirs, so, o.AllowIncomplete)
			if err == nil {
				f.closers = append(f.closers, st)
			}
			return st, err
		}
		st, err := stream(o.Train.Featurized, o.Shuffle)
		if err != nil {
			return err
		}
		f.trainIt, f.n = st, st.Len()
		if f.classifies() {
			if f.evalIt, err = stream(o.Train.Featurized, false); err != nil {
				return err
			}
		}
		if len(o.Test.Featurized) > 0 {
			if f.valIt, err = stream(o.Test.Featurized, false); err != nil {
				return err
			}
		}
		return nil
	}
	// every named source, training and test, is checked before any is read
	probs := checkNamed(f.g, *o.Train.Sources, true, "--data", "--labels")
	if o.Test.Sources != nil {
		probs = append(probs, checkNamed(f.g, *o.Test.Sources, true, "--test", "--test-labels")...)
	}
	if len(probs) > 0 {
		return &SourcesError{Problems: probs}
	}
	open := func(s *Sources, shuffle bool, in, lab string) (*DataSet, error) {
		ds, err := openSources(*s, f.g, DataOptions{BatchSize: o.BatchSize, Shuffle: shuffle, Seed: o.Seed}, true, in, lab)
		if err == nil {
			f.closers = append(f.closers, ds)
		}
		return ds, err
	}
	ds, err := open(o.Train.Sources, o.Shuffle, "--data", "--labels")
	if err != nil {
		return err
	}
	f.trainIt, f.n = ds, ds.N
	if f.classifies() {
		if f.evalIt, err = open(o.Train.Sources, false, "--data", "--labels"); err != nil {
			return err
		}
	}
	if o.Test.Sources != nil {
		if f.valIt, err = open(o.Test.Sources, false, "--test", "--test-labels"); err != nil {
			return err
		}
	}
	return nil
}

// classifies reports whether a loss output of the fitted graph classifies.
func (f *fitRun) classifies() bool {
	for k, o := range f.fitGraph.Outputs {
		if v := f.fitGraph.Vertex(o.Vertex); v != nil && ir.IsOutputLayer(v.Layer) && targetAt(f.fitGraph, k).classify {
			return true
		}
	}
	return false
}

func (f *fitRun) setup() error {
	g := f.fitGraph
	for k, o := range g.Outputs {
		if v := g.Vertex(o.Vertex); v != nil && ir.IsOutputLayer(v.Layer) {
			f.outs = append(f.outs, fitOutput{k: k, name: o.Name, classify: targetAt(g, k).classify})
		}
	}
	if len(f.outs) == 0 {
		return errors.New("the graph has no output with a loss to train: add an output layer (type: output or rnn_output)")
	}
	if len(f.outs) > 1 {
		for i := range f.outs {
			f.outs[i].prefix = f.outs[i].name + "_"
		}
	}
	if f.valIt == nil && f.opt.Hooks.Validation != nil {
		f.valIt = f.opt.Hooks.Validation
	}
	cols := []string{history.ColLoss}
	for _, o := range f.outs {
		if o.prefix != "" {
			cols = append(cols, o.prefix+"loss")
		}
		if o.classify {
			cols = append(cols, o.prefix+"accuracy")
		}
	}
	if f.valIt != nil {
		for _, c := range append([]string(nil), cols...) {
			cols = append(cols, "val_"+c)
		}
	}
	cols = append(cols, history.ColLR, history.ColExamplesPS, history.ColElapsed)
	f.hist = history.New(cols...)
	f.res = &FitResult{History: f.hist, Epochs: []EpochReport{}}
	defMon := "loss"
	if f.valIt != nil {
		defMon = "val_loss"
	}
	var err error
	mon := func(name, what string) (*monitor, error) {
		if name == "" {
			name = defMon
		}
		metrics := cols[:len(cols)-3] // less lr, examples/s, elapsed
		if !slices.Contains(metrics, name) {
			hint := ""
			if strings.HasPrefix(name, "val_") && f.valIt == nil {
				hint = " (val_ values need test data)"
			}
			return nil, fmt.Errorf("%s monitors %q, which this fit does not measure%s; it measures: %s", what, name, hint, strings.Join(metrics, ", "))
		}
		return &monitor{name: name, max: strings.HasSuffix(name, "accuracy"), best: math.NaN()}, nil
	}
	if es := f.opt.EarlyStopping; es != nil || f.opt.Hooks.EarlyStopping != nil {
		if es == nil {
			h := f.opt.Hooks.EarlyStopping
			es = &EarlyStopping{Monitor: h.Monitor, Patience: h.Patience, MinDelta: h.MinDelta}
		}
		if f.es, err = mon(es.Monitor, "early stopping"); err != nil {
			return err
		}
		f.es.patience, f.es.delta = max(es.Patience, 1), es.MinDelta
	}
	if rl := f.opt.ReduceLR; rl != nil {
		if f.rl, err = mon(rl.Monitor, "reduce_lr"); err != nil {
			return err
		}
		f.rl.patience, f.rl.delta = rl.Patience, rl.MinDelta
		if f.rl.patience <= 0 {
			f.rl.patience = 10
		}
		if rl.Factor < 0 || rl.Factor >= 1 || rl.MinLR < 0 {
			return fmt.Errorf("reduce_lr: factor %v must be in (0, 1) and min_lr %v not negative", rl.Factor, rl.MinLR)
		}
	}
	if ck := f.opt.Checkpoint; ck != nil {
		if f.ck, err = mon(ck.Monitor, "checkpoint"); err != nil {
			return err
		}
	}
	if len(f.opt.ClassWeights) > 0 {
		if f.trainIt, err = classWeightedIterator(g, f.trainIt, f.opt.ClassWeights); err != nil {
			return err
		}
	}
	f.net, err = nn.Compile(g)
	return err
}

// monitor tracks the best value of a history column.
type monitor struct {
	name           string
	max            bool
	best           float64
	wait, patience int
	delta          float64
}

// improved records v and reports whether it beats the best by more than delta.
func (m *monitor) improved(v float64) bool {
	better := math.IsNaN(m.best) || (m.max && v > m.best+m.delta) || (!m.max && v < m.best-m.delta)
	if better {
		m.best, m.wait = v, 0
	} else {
		m.wait++
	}
	return better
}

func (f *fitRun) logf(format string, args ...any) {
	if f.opt.Log != nil {
		fmt.Fprintf(f.opt.Log, format+"\n", args...)
	}
}

func (f *fitRun) run() (*FitResult, error) {
	o := f.opt
	bs := o.BatchSize
	total := o.Epochs * ((f.n + bs - 1) / bs)
	f.start = time.Now()
	f.epochStart, f.stepStart = f.start, f.start
	cfg := nn.FitConfig{Epochs: o.Epochs, Seed: o.Seed, ScoreEvery: 1,
		OnScore: func(s nn.StepInfo) {
			f.steps++
			if o.Progress != nil {
				o.Progress(f.steps, total)
			}
			if o.HistoryEvery > 0 {
				f.stepRow(s)
			}
			if h := o.Hooks.OnScore; h != nil && o.Hooks.ScoreEvery > 0 && s.Step%int64(o.Hooks.ScoreEvery) == 0 {
				h(s)
			}
		},
		OnEpoch:    f.epoch,
		Checkpoint: o.Hooks.Checkpoint,
	}
	r, err := f.net.Fit(f.trainIt, cfg)
	f.res.Fit = r
	if err != nil {
		return f.res, err
	}
	f.res.StoppedEarly = r.StoppedEarly
	if f.fitGraph != f.g {
		if err := MergeHead(f.g, f.fitGraph); err != nil {
			return f.res, err
		}
	}
	return f.res, nil
}

// stepRow adds a step row every HistoryEvery steps: the mean loss of
// those steps.
func (f *fitRun) stepRow(s nn.StepInfo) {
	f.stepLoss += s.Loss
	f.stepN++
	f.stepEx += s.Examples
	if s.Step%int64(f.opt.HistoryEvery) != 0 {
		return
	}
	now := time.Now()
	v := map[string]float64{history.ColLoss: f.stepLoss / float64(f.stepN), history.ColLR: f.net.LearningRate(),
		history.ColElapsed: now.Sub(f.start).Seconds()}
	if d := now.Sub(f.stepStart).Seconds(); d > 0 {
		v[history.ColExamplesPS] = float64(f.stepEx) / d
	}
	f.hist.Add(history.Row{Epoch: s.Epoch + 1, Step: s.Step, Kind: history.KindStep, Values: v})
	f.stepLoss, f.stepN, f.stepEx, f.stepStart = 0, 0, 0, now
	if f.opt.History != "" {
		if err := f.hist.Save(f.opt.History); err != nil {
			f.logf("history: %v", err)
		}
	}
}

func (f *fitRun) epoch(e nn.EpochInfo) error {
	trained := time.Since(f.epochStart).Seconds()
	v := map[string]float64{history.ColLoss: e.Loss}
	for _, o := range f.outs {
		if o.prefix != "" && o.k < len(e.OutputLosses) {
			v[o.prefix+"loss"] = e.OutputLosses[o.k]
		}
	}
	if f.evalIt != nil {
		for _, o := range f.outs {
			if !o.classify {
				continue
			}
			ev, err := f.net.EvaluateOutput(f.evalIt, o.k)
			if err != nil {
				return err
			}
			v[o.prefix+"accuracy"] = ev.Accuracy()
		}
	}
	if f.valIt != nil {
		total := 0.0
		for _, o := range f.outs {
			ev, err := f.net.EvaluateOutput(f.valIt, o.k)
			if err != nil {
				return fmt.Errorf("validation: %w", err)
			}
			total += ir.LossWeightOf(f.fitGraph.Vertex(f.fitGraph.Outputs[o.k].Vertex).Layer) * ev.Loss
			if o.prefix != "" {
				v["val_"+o.prefix+"loss"] = ev.Loss
			}
			if o.classify {
				v["val_"+o.prefix+"accuracy"] = ev.Accuracy()
			}
		}
		v["val_loss"] = total
	}
	v[history.ColLR] = f.net.LearningRate()
	if trained > 0 {
		v[history.ColExamplesPS] = float64(f.n) / trained
	}
	v[history.ColElapsed] = time.Since(f.start).Seconds()
	f.hist.Add(history.Row{Epoch: e.Epoch + 1, Step: e.Steps, Kind: history.KindEpoch, Values: v})
	r := EpochReport{Epoch: e.Epoch + 1, Loss: e.Loss, Metrics: v}
	if a, ok := v["accuracy"]; ok {
		r.Accuracy = &a
	}
	if l, ok := v["val_loss"]; ok {
		r.TestLoss = &l
	}
	if a, ok := v["val_accuracy"]; ok {
		r.TestAccuracy = &a
	}
	f.res.Epochs = append(f.res.Epochs, r)
	f.logf("%s", r.Line(f.opt.Epochs))
	if f.opt.OnEpoch != nil {
		f.opt.OnEpoch(r)
	}
	if err := f.write(); err != nil {
		return err
	}
	stop, err := f.callbacks(r.Epoch, v)
	if err != nil {
		return err
	}
	if h := f.opt.Hooks.OnEpoch; h != nil {
		if err := h(e); err != nil {
			return err
		}
	}
	f.epochStart = time.Now()
	if stop {
		return nn.ErrStop
	}
	return nil
}

// write saves the history and redraws the plot.
func (f *fitRun) write() error {
	if f.opt.History != "" {
		if err := f.hist.Save(f.opt.History); err != nil {
			return fmt.Errorf("history: %w", err)
		}
	}
	if f.opt.Plot != "" {
		if err := f.hist.SavePNG(f.opt.Plot, f.opt.PlotTitle); err != nil {
			return fmt.Errorf("plot: %w", err)
		}
	}
	return nil
}

// callbacks runs the checkpoint, reduce-LR and early-stopping callbacks
// after an epoch; stop ends the fit.
func (f *fitRun) callbacks(epoch int, v map[string]float64) (stop bool, err error) {
	if m := f.ck; m != nil && m.improved(v[m.name]) {
		if f.fitGraph != f.g {
			if err := MergeHead(f.g, f.fitGraph); err != nil {
				return false, err
			}
		}
		if err := f.opt.Save(f.opt.Checkpoint.Path, f.g); err != nil {
			return false, fmt.Errorf("checkpoint: %w", err)
		}
		f.res.BestEpoch = epoch
		f.logf("epoch %d: %s %.5g is the best so far: wrote %s", epoch, m.name, m.best, f.opt.Checkpoint.Path)
	}
	if m := f.rl; m != nil && !m.improved(v[m.name]) && m.wait >= m.patience {
		rl := f.opt.ReduceLR
		factor := rl.Factor
		if factor == 0 {
			factor = 0.1
		}
		lr := f.net.LearningRate()
		next := math.Max(lr*factor, rl.MinLR)
		if next < lr && lr > 0 {
			f.net.SetLRScale(f.net.LRScale() * next / lr)
			f.logf("epoch %d: %s has not improved for %d epoch(s): learning rate %.4g -> %.4g", epoch, m.name, m.wait, lr, next)
		}
		m.wait = 0
	}
	if m := f.es; m != nil {
		if m.improved(v[m.name]) {
			if f.ck == nil {
				f.res.BestEpoch = epoch
			}
		} else if m.wait >= m.patience {
			f.logf("epoch %d: %s has not improved for %d epoch(s) (best %.5g): stopping early", epoch, m.name, m.wait, m.best)
			return true, nil
		}
	}
	if f.ck == nil && f.es == nil && (f.res.BestEpoch == 0 || v[history.ColLoss] < f.bestLoss()) {
		f.res.BestEpoch = epoch
	}
	return false, nil
}

func (f *fitRun) bestLoss() float64 {
	return f.res.Epochs[f.res.BestEpoch-1].Loss
}

// classWeightedIterator weights the loss of each example of the named
// classification outputs by its class's weight (through the label mask).
func classWeightedIterator(g *ir.Graph, it nn.Iterator, weights map[string][]float64) (nn.Iterator, error) {
	cw := &classWeighted{Iterator: it, byOutput: map[int][]float64{}, units: map[int]int{}}
	var probs []string
	for name, w := range weights {
		k := -1
		if name == "" {
			for i, o := range g.Outputs {
				if v := g.Vertex(o.Vertex); v != nil && ir.IsOutputLayer(v.Layer) && targetAt(g, i).classify {
					if k >= 0 {
						probs = append(probs, "class weights: the model has several classification outputs: name the output (NAME=W0,W1,…)")
					}
					k = i
				}
			}
			if k < 0 {
				probs = append(probs, "class weights: the model has no classification output")
				continue
			}
		} else if k = outputIndex(g, name); k < 0 {
			probs = append(probs, fmt.Sprintf("class weights: the model has no output %q; its outputs: %s", name, describeOutputs(g)))
			continue
		}
		v := g.Vertex(g.Outputs[k].Vertex)
		if v == nil || !ir.IsOutputLayer(v.Layer) || !targetAt(g, k).classify {
			probs = append(probs, fmt.Sprintf("class weights: output %q has no classification loss", g.Outputs[k].Name))
			continue
		}
		units := outputUnits(v.Layer)
		classes := max(units, 2)
		if len(w) != classes {
			probs = append(probs, fmt.Sprintf("class weights: %d given, output %q has %d classes", len(w), g.Outputs[k].Name, classes))
			continue
		}
		for _, x := range w {
			if x < 0 || math.IsNaN(x) || math.IsInf(x, 0) {
				probs = append(probs, fmt.Sprintf("class weights of %q: %v is not a finite number ≥ 0", g.Outputs[k].Name, x))
				break
			}
		}
		cw.byOutput[k], cw.units[k] = w, units
	}
	if len(probs) > 0 {
		sort.Strings(probs)
		return nil, errors.New(strings.Join(probs, "; "))
	}
	return cw, nil
}

type classWeighted struct {
	nn.Iterator
	byOutput map[int][]float64
	units    map[int]int
	batch    nn.Batch
	masks    []*ir.Tensor
}

func (c *classWeighted) Next() (*nn.Batch, error) {
	b, err := c.Iterator.Next()
	if err != nil {
		return b, err
	}
	c.batch = *b
	c.masks = append(c.masks[:0], make([]*ir.Tensor, len(b.Labels))...)
	copy(c.masks, b.LabelMasks)
	for k, w := range c.byOutput {
		if k >= len(b.Labels) || b.Labels[k] == nil {
			continue
		}
		lab := b.Labels[k]
		units := c.units[k]
		width := 1
		if len(lab.Shape) > 1 && units > 1 && lab.Shape[len(lab.Shape)-1] == units {
			width = units // one-hot rows; else class numbers (or a binary 0/1)
		}
		rows := len(lab.Data) / width
		m := ir.NewTensor(rows)
		if width == 1 {
			m.Shape = append([]int(nil), lab.Shape...)
			if len(m.Shape) > 1 && m.Shape[len(m.Shape)-1] == 1 {
				m.Shape = m.Shape[:len(m.Shape)-1]
			}
		} else {
			m.Shape = append([]int(nil), lab.Shape[:len(lab.Shape)-1]...)
		}
		for r := 0; r < rows; r++ {
			row := lab.Data[r*width : (r+1)*width]
			cls := 0
			switch {
			case width > 1:
				for j, x := range row {
					if x > row[cls] {
						cls = j
					}
				}
			case units == 1:
				if row[0] >= 0.5 {
					cls = 1
				}
			default:
				cls = min(max(int(row[0]), 0), len(w)-1)
			}
			m.Data[r] = float32(w[cls])
		}
		if old := c.masks[k]; old != nil {
			switch len(old.Data) {
			case rows:
				for i := range m.Data {
					m.Data[i] *= old.Data[i]
				}
			case b.Size():
				per := rows / b.Size()
				for i := range m.Data {
					m.Data[i] *= old.Data[i/per]
				}
			}
		}
		c.masks[k] = m
	}
	c.batch.LabelMasks = c.masks
	return &c.batch, nil
}
