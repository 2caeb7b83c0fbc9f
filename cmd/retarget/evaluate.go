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
		output              string
		dataArgs, labelArgs []string
		featurized          []string
		batch               int
		asJSON              bool
		opts                modelio.LoadOptions
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
"confusion": [[...]]}, or {"examples", "mse", "mae"} for regression; with
several labelled outputs (--data NAME=X.npy ... --labels NAME=Y.npy ...)
every one is scored: {"outputs": {NAME: {...}}}.

--featurized DIR (repeatable, a glob too) scores featurized data of the
model's frozen part instead (written by 'retarget featurize'): only the
trainable part runs, streaming the shards.

` + dataHelp,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if (len(dataArgs) == 0) == (len(featurized) == 0) {
				return fmt.Errorf("--data SOURCE is required, or --featurized DIR, not both (see '%s --help')", c.CommandPath())
			}
			if batch < 1 {
				return fmt.Errorf("--batch-size must be at least 1, got %d", batch)
			}
			var src *retarget.Sources
			var dirs []string
			var err error
			if len(dataArgs) > 0 {
				if src, err = retarget.ParseSources(dataArgs, labelArgs, "--data", "--labels"); err != nil {
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
			var rs []*retarget.EvalReport
			if src != nil {
				rs, err = retarget.EvaluateSources(g, *src, eo)
			} else {
				var r *retarget.EvalReport
				r, err = retarget.EvaluateFeaturized(g, dirs, eo)
				rs = []*retarget.EvalReport{r}
			}
			bar.finish()
			if err != nil {
				return jsonWeightsHint(args[0], opts, err)
			}
			if !asJSON {
				for i, r := range rs {
					if i > 0 {
						fmt.Fprintln(c.OutOrStdout())
					}
					if _, err = fmt.Fprint(c.OutOrStdout(), r.String()); err != nil {
						return err
					}
				}
				return nil
			}
			var v any = rs[0]
			if len(rs) > 1 {
				m := map[string]*retarget.EvalReport{}
				for _, r := range rs {
					m[r.Output] = r
				}
				v = map[string]any{"outputs": m}
			}
			b, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(c.OutOrStdout(), string(b))
			return err
		},
	}
	f := c.Flags()
	f.StringArrayVar(&dataArgs, "data", nil, "labelled data source (see above), or NAME=SRC per model input (repeatable)")
	f.StringArrayVar(&labelArgs, "labels", nil, "NAME=SRC: labels of output NAME (repeatable; with --data NAME=SRC)")
	f.StringArrayVar(&featurized, "featurized", nil, "score featurized data of the model's frozen part (repeatable; a glob too)")
	f.StringVar(&output, "output", "", "name of the output to score (required when the model has several)")
	f.IntVar(&batch, "batch-size", 32, "minibatch size")
	f.BoolVar(&asJSON, "json", false, "print the metrics as JSON")
	addLoadFlags(c, &opts)
	return c
}
