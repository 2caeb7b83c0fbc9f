package main

import (
	"fmt"
	"math"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/modelio"
	"github.com/retarget-dev/retarget/nn"
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
Paths are relative to the current folder.`

func newFitCmd() *cobra.Command {
	var (
		dataArg, testArg, out, updater string
		featurized, testFeaturized     []string
		epochs, batch, shuffleBuffer   int
		seed                           int64
		shuffle, force, incomplete     bool
		tc                             ir.TrainConfig
		opts                           modelio.LoadOptions
	)
	c := &cobra.Command{
		Use:   "fit MODEL (--data SOURCE | --featurized DIR) [--test SOURCE] -o OUT",
		Short: "Train a model (its unfrozen part) and write it",
		Long: `Trains MODEL on a data source, or only its trainable part on shards
written by 'retarget featurize' (--featurized), and writes OUT atomically;
MODEL is never modified. Frozen vertices are not updated. Updater flags
override the model's fine-tune configuration (DL4J names such as nesterovs
are accepted); updater state saved in an .rtm file is kept, so fitting
again continues where the last fit stopped.

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
			if out == "" || (len(featurized) == 0) == (dataArg == "") {
				return fmt.Errorf("give -o and exactly one of --data or --featurized (see '%s --help')", c.CommandPath())
			}
			if len(featurized) > 0 && testArg != "" {
				return fmt.Errorf("--test goes with --data; with --featurized give --test-featurized (featurized test data)")
			}
			if len(testFeaturized) > 0 && len(featurized) == 0 {
				return fmt.Errorf("--test-featurized goes with --featurized; with --data give --test")
			}
			if shuffleBuffer < 1 {
				return fmt.Errorf("--shuffle-buffer must be at least 1, got %d", shuffleBuffer)
			}
			if err := checkFitFlags(epochs, batch, tc); err != nil {
				return err
			}
			if err := modelio.CheckSave(out, modelio.SaveOptions{Force: force, Input: args[0]}); err != nil {
				return err
			}
			dirs, err := featurizedArgs(featurized)
			if err != nil {
				return err
			}
			testDirs, err := featurizedArgs(testFeaturized)
			if err != nil {
				return err
			}
			// the folders are checked before the model is loaded
			for _, ds := range [][]string{dirs, testDirs} {
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
			fitGraph := g
			// evalIt is the training data in order, for the accuracy
			// after each epoch (classification only, as in apply)
			var trainIt, testIt, evalIt nn.Iterator
			classify := retarget.Classifies(g)
			n := 0
			opt := retarget.DataOptions{BatchSize: batch, Shuffle: shuffle, Seed: seed}
			if len(dirs) > 0 {
				if fitGraph, err = retarget.Trainable(g); err != nil {
					return err
				}
				so := retarget.StreamOptions{BatchSize: batch, Shuffle: shuffle, Seed: seed, ShuffleBuffer: shuffleBuffer}
				it, err := retarget.OpenFeaturizedStream(fitGraph, dirs, so, incomplete)
				if err != nil {
					return err
				}
				defer it.Close()
				trainIt, n = it, it.Len()
				so.Shuffle = false
				if classify {
					eit, err := retarget.OpenFeaturizedStream(fitGraph, dirs, so, incomplete)
					if err != nil {
						return err
					}
					defer eit.Close()
					evalIt = eit
				}
				if len(testDirs) > 0 {
					tit, err := retarget.OpenFeaturizedStream(fitGraph, testDirs, so, incomplete)
					if err != nil {
						return err
					}
					defer tit.Close()
					testIt = tit
				}
			} else {
				ds, err := openDataFlag("--data", dataArg, g, opt)
				if err != nil {
					return err
				}
				defer ds.Close()
				trainIt, n = ds, ds.N
				opt.Shuffle = false
				if classify {
					eds, err := openDataFlag("--data", dataArg, g, opt)
					if err != nil {
						return err
					}
					defer eds.Close()
					evalIt = eds
				}
				if testArg != "" {
					tds, err := openDataFlag("--test", testArg, g, opt)
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
			log := c.ErrOrStderr()
			bar := newBars(log)
			total, step := max(epochs, 1)*((n+max(batch, 1)-1)/max(batch, 1)), 0
			fc := nn.FitConfig{Epochs: epochs, Seed: seed, Validation: testIt, ScoreEvery: 1,
				OnScore: func(nn.StepInfo) { step++; bar.update("fit", step, total) },
				OnEpoch: func(e nn.EpochInfo) error {
					bar.finish()
					r := retarget.EpochReport{Epoch: e.Epoch + 1, Loss: e.Loss}
					if evalIt != nil {
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
						if e.ValEval != nil && classify {
							a := e.ValEval.Accuracy()
							r.TestAccuracy = &a
						}
					}
					fmt.Fprintln(log, r.Line(max(epochs, 1)))
					return nil
				}}
			if _, err := net.Fit(trainIt, fc); err != nil {
				return err
			}
			bar.finish()
			if len(dirs) > 0 {
				if err := retarget.MergeHead(g, fitGraph); err != nil {
					return err
				}
			}
			if err := modelio.Save(out, g, modelio.SaveOptions{Force: force, Input: args[0]}); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "wrote %s\n", out)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&dataArg, "data", "", "training data source (see above)")
	f.StringVar(&testArg, "test", "", "test data source, evaluated after every epoch")
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
	addLoadFlags(c, &opts)
	return c
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

// openDataFlag parses and opens a data-source flag for g.
func openDataFlag(flag, value string, g *ir.Graph, opt retarget.DataOptions) (*retarget.DataSet, error) {
	spec, err := retarget.ParseDataSpec(value, flag)
	if err != nil {
		return nil, err
	}
	ds, err := retarget.OpenData(*spec, g, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return ds, nil
}
