package main

import (
	"encoding/json"
	"fmt"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/modelio"
	"github.com/retarget-dev/retarget/retarget"
	"github.com/spf13/cobra"
)

func newEvaluateCmd() *cobra.Command {
	var (
		dataArg, output string
		featurized      []string
		batch           int
		asJSON          bool
		opts            modelio.LoadOptions
	)
	c := &cobra.Command{
		Use:   "evaluate MODEL --data SOURCE [--output NAME] [--json]",
		Short: "Score a model on labelled data",
		Long: `Runs MODEL in inference mode over a labelled data source and scores one
output. An output with a classification loss (mcxent, sparse_mcxent, nll,
xent, hinge, squared_hinge, kld) gets accuracy, precision, recall and F1
per class and macro-averaged, and the confusion matrix (rows actual,
columns predicted); any other loss gets the mean squared and mean absolute
error over every value. Labels are read as 'fit' reads them. A model with
several outputs needs --output; the output must carry a loss. For a
per-step output each labelled time step counts as one example.

With --json: {"examples", "accuracy", "macro": {"precision", "recall",
"f1"}, "classes": [{"class", "precision", "recall", "f1", "support"}],
"confusion": [[...]]}, or {"examples", "mse", "mae"} for regression.

--featurized DIR (repeatable, a glob too) scores featurized data of the
model's frozen part instead (written by 'retarget featurize'): only the
trainable part runs, streaming the shards.

` + dataHelp,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if (dataArg == "") == (len(featurized) == 0) {
				return fmt.Errorf("--data SOURCE is required, or --featurized DIR, not both (see '%s --help')", c.CommandPath())
			}
			if batch < 1 {
				return fmt.Errorf("--batch-size must be at least 1, got %d", batch)
			}
			var spec *retarget.DataSpec
			var dirs []string
			var err error
			if dataArg != "" {
				if spec, err = retarget.ParseDataSpec(dataArg, "--data"); err != nil {
					return err
				}
			} else if dirs, err = featurizedArgs(featurized); err != nil {
				return err
			}
			g, err := withSpinner(c.ErrOrStderr(), "loading", func() (*ir.Graph, error) { return modelio.Load(args[0], opts) })
			if err != nil {
				return err
			}
			bar := newBars(c.ErrOrStderr())
			eo := retarget.EvalOptions{Output: output, BatchSize: batch, DataName: "--data",
				Progress: func(done, total int) { bar.update("evaluating", done, total) }}
			var r *retarget.EvalReport
			if spec != nil {
				r, err = retarget.Evaluate(g, *spec, eo)
			} else {
				r, err = retarget.EvaluateFeaturized(g, dirs, eo)
			}
			bar.finish()
			if err != nil {
				return jsonWeightsHint(args[0], opts, err)
			}
			if !asJSON {
				_, err = fmt.Fprint(c.OutOrStdout(), r.String())
				return err
			}
			b, err := json.MarshalIndent(r, "", "  ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(c.OutOrStdout(), string(b))
			return err
		},
	}
	f := c.Flags()
	f.StringVar(&dataArg, "data", "", "labelled data source (see above)")
	f.StringArrayVar(&featurized, "featurized", nil, "score featurized data of the model's frozen part (repeatable; a glob too)")
	f.StringVar(&output, "output", "", "name of the output to score (required when the model has several)")
	f.IntVar(&batch, "batch-size", 32, "minibatch size")
	f.BoolVar(&asJSON, "json", false, "print the metrics as JSON")
	addLoadFlags(c, &opts)
	return c
}
