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

func newFitCmd() *cobra.Command {
	var (
		data       dataFlags
		out        string
		featurized string
		epochs     int
		seed       int64
		shuffle    bool
		force      bool
		tc         ir.TrainConfig
		updater    string
	)
	c := &cobra.Command{
		Use:   "fit MODEL (--features X.npy --labels Y.npy | --featurized DIR) -o OUT",
		Short: "Train a model (its unfrozen part) and write it",
		Long: `Trains MODEL on NPY data, or only its head on shards written by
'retarget featurize' (--featurized), and writes OUT. Frozen vertices are not
updated. Updater flags override the model's fine-tune configuration; updater
state saved in an .rtm file is kept, so fitting again continues where the
last fit stopped.`,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if out == "" || (featurized == "") == (len(data.features) == 0) {
				return fmt.Errorf("give -o and exactly one of --features or --featurized (see '%s --help')", c.CommandPath())
			}
			src, err := withSpinner(c.ErrOrStderr(), "loading", func() (*ir.Graph, error) { return modelio.Load(args[0], modelio.LoadOptions{}) })
			if err != nil {
				return err
			}
			tc.Updater = ir.Updater(updater)
			g, err := retarget.New(src).FineTune(tc).Build()
			if err != nil {
				return err
			}
			log := c.ErrOrStderr()
			fc := nn.FitConfig{Epochs: epochs, Seed: seed, OnEpoch: func(e nn.EpochInfo) error {
				if e.HasVal {
					fmt.Fprintf(log, "epoch %d: loss %.5g, val loss %.5g\n", e.Epoch+1, e.Loss, e.ValLoss)
				} else {
					fmt.Fprintf(log, "epoch %d: loss %.5g\n", e.Epoch+1, e.Loss)
				}
				return nil
			}}
			acc := math.NaN()
			if featurized != "" {
				head, err := retarget.HeadGraph(g)
				if err != nil {
					return err
				}
				if _, err := retarget.FitFeaturized(head, featurized, retarget.FitFeaturizedOptions{
					BatchSize: data.batch, Shuffle: shuffle, Seed: seed, Fit: fc}); err != nil {
					return err
				}
				if err := retarget.MergeHead(g, head); err != nil {
					return err
				}
			} else {
				it, val, err := retarget.DataSourceOf("npy")(data.spec(), g, retarget.DataOptions{BatchSize: data.batch, Shuffle: shuffle, Seed: seed})
				if err != nil {
					return err
				}
				net, err := nn.Compile(g)
				if err != nil {
					return err
				}
				fc.Validation = val
				if _, err := net.Fit(it, fc); err != nil {
					return err
				}
				if val != nil {
					if err := val.Reset(); err != nil {
						return err
					}
					ev, err := net.Evaluate(val)
					if err != nil {
						return err
					}
					acc = ev.Accuracy()
				}
			}
			if err := modelio.Save(out, g, modelio.SaveOptions{Force: force, Input: args[0]}); err != nil {
				return err
			}
			if !math.IsNaN(acc) {
				fmt.Fprintf(c.OutOrStdout(), "validation accuracy %.4f\n", acc)
			}
			fmt.Fprintf(c.OutOrStdout(), "wrote %s\n", out)
			return nil
		},
	}
	data.register(c, true)
	f := c.Flags()
	f.StringVarP(&out, "out", "o", "", "model to write")
	f.StringVar(&featurized, "featurized", "", "train the head from this featurized folder")
	f.IntVar(&epochs, "epochs", 1, "passes over the data")
	f.Int64Var(&seed, "seed", 0, "shuffle and dropout seed")
	f.BoolVar(&shuffle, "shuffle", true, "reshuffle every epoch")
	f.BoolVar(&force, "force", false, "allow OUT to be the same file as MODEL")
	f.StringVar(&updater, "updater", "", "sgd, momentum, nesterov, adam, adamw, rmsprop, adagrad, adadelta (default: the model's)")
	f.Float64Var(&tc.LearningRate, "lr", 0, "learning rate (default: the model's)")
	f.Float64Var(&tc.L2, "l2", 0, "L2 regularisation")
	f.Float64Var(&tc.ClipNorm, "clip-norm", 0, "gradient norm clipping")
	return c
}
