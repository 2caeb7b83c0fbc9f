package main

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	historyPkg "github.com/retarget-dev/retarget/history"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/modelio"
	"github.com/retarget-dev/retarget/retarget"
	"github.com/spf13/cobra"
)

const dataHelp = `A data source is written as in a plan, either as a flow mapping
  --data '{type: npy, features: x.npy, labels: y.npy}'
or as key=value pairs (an image size as HxW):
  --data type=npy,features=x.npy,labels=y.npy
  --data type=images,path=flowers/train,size=224x224,preprocess=vgg
  --data type=csv,path=iris.csv,label_column=4,header=true
  --data type=csv-sequences,features=seq/x,labels=seq/y
A model with several inputs or loss outputs takes one .npy array per input
and per labelled output, by name:
  --data a=xa.npy --data b='{type: npy, features: xb.npy}' --labels out=y.npy
Paths are relative to the current folder.`

func newFitCmd() *cobra.Command {
	var (
		out, updater, monitor, checkpoint  string
		history, plot                      string
		dataArgs, labelArgs                []string
		testArgs, testLabelArgs            []string
		featurized, testFeaturized         []string
		classWeights                       []string
		epochs, batch, shuffleBuffer       int
		historyEvery, patience, lrPatience int
		minDelta, lrFactor, minLR          float64
		seed                               int64
		shuffle, force, incomplete         bool
		tc                                 ir.TrainConfig
		opts                               modelio.LoadOptions
	)
	c := &cobra.Command{
		Use:   "fit MODEL (--data SOURCE | --data NAME=SRC... --labels NAME=SRC... | --featurized DIR) [--test ...] -o OUT",
		Short: "Train a model (its unfrozen part) and write it",
		Long: `Trains MODEL on a data source, or only its trainable part on shards
written by 'retarget featurize' (--featurized), and writes OUT atomically;
MODEL is never modified. Frozen vertices are not updated. Updater flags
override the model's fine-tune configuration (DL4J names such as nesterovs
are accepted); updater state saved in an .rtm file is kept, so fitting
again continues where the last fit stopped.

A model with several inputs or loss outputs takes one source per input
(--data NAME=X.npy, repeatable) and per loss output (--labels NAME=Y.npy);
--test and --test-labels likewise. Every source is checked against the
model before any work, with one error naming every mismatch. The total loss
is the sum of the outputs' losses times their loss weights (Keras
loss_weights, read from the model's training_config).

--history FILE.csv|FILE.json records per epoch (and every --history-every
steps) the loss, each output's loss and accuracy, the val_ values with test
data, the learning rate, examples/s and the elapsed time; it is rewritten
atomically as training runs, so it can be followed. --plot FILE.png draws
the loss and accuracy curves, redrawn after every epoch.

Callbacks watch --monitor (a history column; default val_loss with test
data, else loss): --early-stopping N stops after N epochs without
improvement, --reduce-lr-patience N multiplies the learning rate by
--reduce-lr-factor after N, --checkpoint FILE writes the model at every
best epoch. --class-weights W0,W1,... (or OUTPUT=W0,W1,...) weights the
examples of each class in the loss.

--featurized streams the shards (memory stays at about two shards, the
shuffle buffer and a batch, whatever the folder's size); it may be given
several times or as a glob, for parts of several runs or data sets through
the same frozen part (their boundaries, arrays and frozen parts must
agree). A folder with missing parts is refused unless --allow-incomplete.
Shuffling visits the shards in a random order and draws from a buffer of
--shuffle-buffer examples; a set that fits the buffer is permuted whole.

` + dataHelp,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if out == "" || (len(featurized) == 0) == (len(dataArgs) == 0) {
				return fmt.Errorf("give -o and exactly one of --data or --featurized (see '%s --help')", c.CommandPath())
			}
			if len(featurized) > 0 && (len(testArgs) > 0 || len(labelArgs) > 0 || len(testLabelArgs) > 0) {
				return fmt.Errorf("--test and --labels go with --data; with --featurized give --test-featurized (featurized test data)")
			}
			if len(testFeaturized) > 0 && len(featurized) == 0 {
				return fmt.Errorf("--test-featurized goes with --featurized; with --data give --test")
			}
			if len(testLabelArgs) > 0 && len(testArgs) == 0 {
				return fmt.Errorf("--test-labels goes with --test NAME=SRC")
			}
			if shuffleBuffer < 1 {
				return fmt.Errorf("--shuffle-buffer must be at least 1, got %d", shuffleBuffer)
			}
			if err := checkFitFlags(epochs, batch, tc); err != nil {
				return err
			}
			if err := checkWatchFlags(history, plot, historyEvery); err != nil {
				return err
			}
			if patience < 0 || lrPatience < 0 || minDelta < 0 || minLR < 0 || lrFactor <= 0 || lrFactor >= 1 {
				return fmt.Errorf("--early-stopping, --reduce-lr-patience, --min-delta and --min-lr must not be negative, --reduce-lr-factor must be in (0, 1)")
			}
			cw, err := parseClassWeights(classWeights)
			if err != nil {
				return err
			}
			if err := modelio.CheckSave(out, modelio.SaveOptions{Force: force, Input: args[0]}); err != nil {
				return err
			}
			if checkpoint != "" {
				if err := modelio.CheckSave(checkpoint, modelio.SaveOptions{Input: args[0]}); err != nil {
					return fmt.Errorf("--checkpoint: %w", err)
				}
			}
			opt := retarget.FitOptions{Epochs: epochs, BatchSize: batch, Shuffle: shuffle, Seed: seed, ShuffleBuffer: shuffleBuffer,
				AllowIncomplete: incomplete, History: history, HistoryEvery: historyEvery, Plot: plot, PlotTitle: filepath.Base(args[0]),
				ClassWeights: cw}
			if patience > 0 {
				opt.EarlyStopping = &retarget.EarlyStopping{Monitor: monitor, Patience: patience, MinDelta: minDelta}
			}
			if lrPatience > 0 {
				opt.ReduceLR = &retarget.ReduceLR{Monitor: monitor, Factor: lrFactor, Patience: lrPatience, MinLR: minLR, MinDelta: minDelta}
			}
			if checkpoint != "" {
				opt.Checkpoint = &retarget.Checkpoint{Path: checkpoint, Monitor: monitor}
				opt.Save = func(path string, g *ir.Graph) error {
					return modelio.Save(path, g, modelio.SaveOptions{Input: args[0]})
				}
			}
			if len(featurized) > 0 {
				if opt.Train.Featurized, err = featurizedArgs(featurized); err != nil {
					return err
				}
				if opt.Test.Featurized, err = featurizedArgs(testFeaturized); err != nil {
					return err
				}
				// the folders are checked before the model is loaded
				for _, ds := range [][]string{opt.Train.Featurized, opt.Test.Featurized} {
					if len(ds) == 0 {
						continue
					}
					set, err := retarget.ReadFeaturized(ds...)
					if err != nil {
						return err
					}
					if err := set.Complete(); err != nil && !incomplete {
						return err
					}
				}
			} else {
				if opt.Train.Sources, err = retarget.ParseSources(dataArgs, labelArgs, "--data", "--labels"); err != nil {
					return err
				}
				if len(testArgs) > 0 {
					if opt.Test.Sources, err = retarget.ParseSources(testArgs, testLabelArgs, "--test", "--test-labels"); err != nil {
						return err
					}
				}
			}
			if updater != "" {
				u, err := retarget.ParseUpdater(updater)
				if err != nil {
					return err
				}
				tc.Updater = u
			}
			src, err := withSpinner(c.ErrOrStderr(), "loading", func() (*ir.Graph, error) { return modelio.Load(args[0], opts) })
			if err != nil {
				return err
			}
			// Fine-tuning replaces every vertex's own training override, so
			// it only happens when a training flag asks for it.
			b := retarget.New(src)
			if tc != (ir.TrainConfig{}) {
				b.FineTune(tc)
			}
			g, err := b.Build()
			if err != nil {
				return jsonWeightsHint(args[0], opts, err)
			}
			log := c.ErrOrStderr()
			bar := newBars(log)
			opt.Log = lineWriter{before: bar.finish, w: log}
			opt.Progress = func(done, total int) { bar.update("fit", done, total) }
			if _, err := retarget.Fit(g, opt); err != nil {
				return err
			}
			bar.finish()
			if err := modelio.Save(out, g, modelio.SaveOptions{Force: force, Input: args[0]}); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "wrote %s\n", out)
			return nil
		},
	}
	f := c.Flags()
	f.StringArrayVar(&dataArgs, "data", nil, "training data source (see above), or NAME=SRC per model input (repeatable)")
	f.StringArrayVar(&labelArgs, "labels", nil, "NAME=SRC: labels of the loss output NAME (repeatable; with --data NAME=SRC)")
	f.StringArrayVar(&testArgs, "test", nil, "test data source, evaluated after every epoch, or NAME=SRC per input")
	f.StringArrayVar(&testLabelArgs, "test-labels", nil, "NAME=SRC: test labels of the loss output NAME (repeatable)")
	f.StringVarP(&out, "out", "o", "", "model to write")
	f.StringArrayVar(&featurized, "featurized", nil, "train the trainable part from this featurized folder (repeatable; a glob too)")
	f.StringArrayVar(&testFeaturized, "test-featurized", nil, "featurized test data, evaluated after every epoch (repeatable; a glob too)")
	f.BoolVar(&incomplete, "allow-incomplete", false, "fit the parts present when a featurized folder misses some")
	f.IntVar(&shuffleBuffer, "shuffle-buffer", retarget.DefaultShuffleBuffer, "examples shuffled together when streaming featurized shards")
	f.IntVar(&epochs, "epochs", 1, "passes over the data")
	f.IntVar(&batch, "batch-size", 32, "minibatch size")
	f.Int64Var(&seed, "seed", 1, "shuffle and dropout seed")
	f.BoolVar(&shuffle, "shuffle", true, "reshuffle every epoch")
	f.BoolVar(&force, "force", false, "allow OUT to be the same file as MODEL")
	f.StringVar(&updater, "updater", "", "sgd, momentum, nesterovs (nesterov), adam, adamw, rmsprop, adagrad, adadelta (default: the model's)")
	f.Float64Var(&tc.LearningRate, "lr", 0, "learning rate (default: the model's)")
	f.Float64Var(&tc.Momentum, "momentum", 0, "momentum (default: the model's)")
	f.Float64Var(&tc.L2, "l2", 0, "L2 regularisation")
	f.Float64Var(&tc.ClipNorm, "clip-norm", 0, "gradient norm clipping")
	f.StringVar(&history, "history", "", "write the training history to this .csv or .json file as training runs")
	f.IntVar(&historyEvery, "history-every", 0, "also record the loss every N updater steps")
	f.StringVar(&plot, "plot", "", "draw the loss and accuracy curves into this .png after every epoch")
	f.StringVar(&monitor, "monitor", "", "history column the callbacks watch (default val_loss with test data, else loss)")
	f.IntVar(&patience, "early-stopping", 0, "stop after N epochs without improvement of --monitor (0: never)")
	f.Float64Var(&minDelta, "min-delta", 0, "smallest change of --monitor that counts as an improvement")
	f.IntVar(&lrPatience, "reduce-lr-patience", 0, "reduce the learning rate after N epochs without improvement (0: never)")
	f.Float64Var(&lrFactor, "reduce-lr-factor", 0.1, "factor the learning rate is multiplied by on a plateau")
	f.Float64Var(&minLR, "min-lr", 0, "lower bound of the reduced learning rate")
	f.StringVar(&checkpoint, "checkpoint", "", "write the model to this file at every epoch that is the best so far by --monitor")
	f.StringArrayVar(&classWeights, "class-weights", nil, "W0,W1,... per class of the classification output (or OUTPUT=W0,W1,...; repeatable)")
	addLoadFlags(c, &opts)
	return c
}

// checkWatchFlags refuses history and plot files whose format is unknown.
func checkWatchFlags(history, plot string, every int) error {
	if history != "" {
		if err := historyPkg.CheckPath(history); err != nil {
			return fmt.Errorf("--history: %w", err)
		}
	}
	if plot != "" && !strings.EqualFold(filepath.Ext(plot), ".png") {
		return fmt.Errorf("--plot %s: name it .png", plot)
	}
	if every < 0 {
		return fmt.Errorf("--history-every must not be negative, got %d", every)
	}
	return nil
}

// parseClassWeights reads --class-weights values: W0,W1,... or NAME=W0,W1,...
func parseClassWeights(vals []string) (map[string][]float64, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := map[string][]float64{}
	for _, v := range vals {
		name, list := "", v
		if n, l, ok := strings.Cut(v, "="); ok {
			name, list = strings.TrimSpace(n), l
		}
		var ws []float64
		for _, x := range strings.Split(list, ",") {
			w, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
			if err != nil || w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
				return nil, fmt.Errorf("--class-weights %q: %q is not a weight (a finite number ≥ 0)", v, x)
			}
			ws = append(ws, w)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("--class-weights: %q is given twice", name)
		}
		out[name] = ws
	}
	return out, nil
}

// lineWriter writes log lines below the progress bar.
type lineWriter struct {
	before func()
	w      io.Writer
}

func (l lineWriter) Write(p []byte) (int, error) {
	l.before()
	return l.w.Write(p)
}

// checkFitFlags refuses values the trainer would otherwise replace by a
// default (epochs, batch size) or reject later in plan terms.
func checkFitFlags(epochs, batch int, tc ir.TrainConfig) error {
	if epochs < 1 {
		return fmt.Errorf("--epochs must be at least 1, got %d", epochs)
	}
	if batch < 1 {
		return fmt.Errorf("--batch-size must be at least 1, got %d", batch)
	}
	for _, f := range []struct {
		flag string
		v    float64
	}{{"--lr", tc.LearningRate}, {"--momentum", tc.Momentum}, {"--l2", tc.L2}, {"--clip-norm", tc.ClipNorm}} {
		if f.v < 0 || math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("%s must be a finite number, not negative; got %v", f.flag, f.v)
		}
	}
	return nil
}

// openSourcesFlag parses --data (and --labels) values and opens them for g.
func openSourcesFlag(dataVals, labelVals []string, g *ir.Graph, opt retarget.DataOptions) (*retarget.DataSet, error) {
	src, err := retarget.ParseSources(dataVals, labelVals, "--data", "--labels")
	if err != nil {
		return nil, err
	}
	ds, err := retarget.OpenSources(*src, g, opt)
	if err != nil && !src.Named() {
		return nil, fmt.Errorf("--data: %w", err)
	}
	return ds, err
}
