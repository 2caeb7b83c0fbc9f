package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"

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
		dataArg, testArg, out, featurized, updater string
		epochs, batch                              int
		seed                                       int64
		shuffle, force                             bool
		tc                                         ir.TrainConfig
		opts                                       modelio.LoadOptions
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

` + dataHelp,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if out == "" || (featurized == "") == (dataArg == "") {
				return fmt.Errorf("give -o and exactly one of --data or --featurized (see '%s --help')", c.CommandPath())
			}
			if featurized != "" && testArg != "" {
				return fmt.Errorf("--test goes with --data; featurize the test data and evaluate the written model instead")
			}
			if err := checkFitFlags(epochs, batch, tc); err != nil {
				return err
			}
			if err := modelio.CheckSave(out, modelio.SaveOptions{Force: force, Input: args[0]}); err != nil {
				return err
			}
			if featurized != "" {
				if err := checkFeaturizedDir(featurized); err != nil {
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
			if featurized != "" {
				if fitGraph, err = retarget.Trainable(g); err != nil {
					return err
				}
				it, err := retarget.FeaturizedIterator(fitGraph, featurized, batch, shuffle, seed)
				if err != nil {
					return err
				}
				trainIt, n = it, it.Len()
				if classify {
					if evalIt, err = retarget.FeaturizedIterator(fitGraph, featurized, batch, false, seed); err != nil {
						return err
					}
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
			if featurized != "" {
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
	f.StringVar(&featurized, "featurized", "", "train the trainable part from this featurized folder")
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

// checkFeaturizedDir tells a missing or unfinished featurized folder apart
// from a damaged one.
func checkFeaturizedDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return fmt.Errorf("--featurized %s: no such folder; write one with 'retarget featurize MODEL --data SOURCE --out %s'", dir, dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil {
		return fmt.Errorf("--featurized %s: no index.json, so no complete featurized shards; write them with 'retarget featurize MODEL --data SOURCE --out %s'", dir, dir)
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
