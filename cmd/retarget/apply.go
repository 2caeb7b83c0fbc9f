package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/modelio"
	"github.com/retarget-dev/retarget/retarget"
	"github.com/spf13/cobra"
)

func newApplyCmd() *cobra.Command {
	var asJSON, check, force bool
	c := &cobra.Command{
		Use:   "apply PLAN.yaml [--json] [--check] [--force]",
		Short: "Run a YAML retarget plan: load, edit, fine-tune, write",
		Long: `Runs a whole retarget from a plan: loads model (and weights), applies the
fine_tune configuration and the edits (freeze_through, unfreeze,
replace_nout, replace_nin, remove, remove_outputs, add, insert, widen,
set_inputs, set_outputs), fits on data.train (featurizing the frozen part
once with fit.featurize), evaluates on data.test and writes every output
atomically. The model file is never modified, unless an output names
it and --force is given.

The plan is checked first (keys, files, edits, shapes): nothing runs when
it has a problem, and every problem is listed as PLAN:LINE: message.
--check stops after the checks. --json prints a report: per-epoch loss and
accuracy, parameter counts, the frozen vertices, the featurized shards and
the files written. The README documents every key; see
testdata/plans/example.yaml.`,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			out := c.OutOrStdout()
			if check {
				notes, err := retarget.CheckPlanFile(args[0], planEnv(c, force))
				for _, n := range notes {
					fmt.Fprintf(out, "note: %s\n", n)
				}
				if err := planProblems(out, args[0], err); err != nil {
					return err
				}
				fmt.Fprintf(out, "%s: ok\n", args[0])
				return nil
			}
			p, err := retarget.LoadPlan(args[0])
			if err := planProblems(out, args[0], err); err != nil {
				return err
			}
			env := planEnv(c, force)
			bars := newBars(c.ErrOrStderr())
			env.Progress = bars.update
			res, err := p.Run(env)
			bars.finish()
			if err := planProblems(out, args[0], err); err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			for _, w := range res.Outputs {
				fmt.Fprintf(out, "wrote %s\n", w)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the final report as JSON on stdout")
	c.Flags().BoolVar(&check, "check", false, "validate the plan (files, edits, shapes) without running it")
	c.Flags().BoolVar(&force, "force", false, "allow an output path that is the model file itself (it is replaced atomically)")
	return c
}

// planProblems prints a plan's line-numbered problems and returns a
// one-line error for them; other errors pass through.
func planProblems(out io.Writer, plan string, err error) error {
	var pe *retarget.PlanError
	if errors.As(err, &pe) {
		for _, pr := range pe.Problems {
			fmt.Fprintln(out, pr.Error())
		}
		return fmt.Errorf("%s: %d problem(s)", plan, len(pe.Problems))
	}
	return err
}

// planEnv connects a plan to modelio; logs go to stderr. force lets an
// output be the source model.
func planEnv(c *cobra.Command, force bool) retarget.PlanEnv {
	return retarget.PlanEnv{
		Load: func(model, weights string) (*ir.Graph, error) {
			return modelio.Load(model, modelio.LoadOptions{Weights: weights})
		},
		Save:  saveFunc(force),
		Force: force,
		Log:   c.ErrOrStderr(),
	}
}

// saveFunc writes with modelio, refusing to write over the source model
// unless force.
func saveFunc(force bool) func(path string, g *ir.Graph, source string) error {
	return func(path string, g *ir.Graph, source string) error {
		return modelio.Save(path, g, modelio.SaveOptions{Input: source, Force: force})
	}
}
