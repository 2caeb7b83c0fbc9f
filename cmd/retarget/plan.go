package main

import (
	"errors"
	"fmt"
	"math"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/modelio"
	"github.com/retarget-dev/retarget/retarget"
	"github.com/spf13/cobra"
)

func newPlanCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "plan",
		Short: "Run or check a YAML retarget plan",
		Long: `A plan names a source model, a fine-tune configuration, a list of edits
(freeze_through, unfreeze, replace_nout, replace_nin, remove, remove_outputs,
add, insert, widen, set_inputs, set_outputs), optional training and the
models to write. See testdata/plans/example.yaml for every key.`,
	}
	c.AddCommand(newPlanRunCmd(), newPlanCheckCmd())
	return c
}

// planEnv connects a plan to modelio.
func planEnv(c *cobra.Command, force bool) retarget.PlanEnv {
	var source string
	return retarget.PlanEnv{
		Load: func(model, weights string) (*ir.Graph, error) {
			source = model
			return modelio.Load(model, modelio.LoadOptions{Weights: weights})
		},
		Save: func(path string, g *ir.Graph, planForce bool) error {
			return modelio.Save(path, g, modelio.SaveOptions{Force: force || planForce, Input: source})
		},
		Log: c.ErrOrStderr(),
	}
}

func newPlanRunCmd() *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "run FILE.yaml",
		Short: "Load the source model, apply the edits, train if asked, write the outputs",
		Args:  exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			p, err := retarget.LoadPlan(args[0])
			if err != nil {
				return err
			}
			res, err := p.Run(planEnv(c, force))
			if err != nil {
				return err
			}
			out := c.OutOrStdout()
			if !math.IsNaN(res.ValAccuracy) {
				fmt.Fprintf(out, "validation accuracy %.4f\n", res.ValAccuracy)
			}
			for _, w := range res.Written {
				fmt.Fprintf(out, "wrote %s\n", w)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&force, "force", false, "allow an output to overwrite the source model")
	return c
}

func newPlanCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check FILE.yaml",
		Short: "Validate a plan without running it; list every problem with its line",
		Long: `Parses the plan (unknown keys are errors), checks that the source model and
data files exist, loads the source and applies the edits, and lists every
problem as FILE:LINE: message. Notes (valid edits with side effects, such
as consumers re-initialised) are printed too.`,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			notes, err := retarget.CheckPlanFile(args[0], planEnv(c, false))
			for _, n := range notes {
				fmt.Fprintf(c.OutOrStdout(), "note: %s\n", n)
			}
			var pe *retarget.PlanError
			if errors.As(err, &pe) {
				for _, pr := range pe.Problems {
					fmt.Fprintln(c.OutOrStdout(), pr.Error())
				}
				return fmt.Errorf("%s: %d problem(s)", args[0], len(pe.Problems))
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "%s: ok\n", args[0])
			return nil
		},
	}
}
