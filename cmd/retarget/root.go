package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/retarget-dev/retarget/modelio"

	"github.com/spf13/cobra"
)

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "retarget",
		Short: "Inspect, run, convert and fine-tune neural network models",
		Long: `retarget takes a trained network, lets you change it without retraining
what you keep, and writes it back. Model formats are chosen by file
extension; this build reads ` + strings.Join(modelio.Extensions(true), " ") + `
and writes ` + strings.Join(modelio.Extensions(false), " ") + `.`,
		SilenceUsage:  true, // a runtime error is not a usage error
		SilenceErrors: true, // main prints the error once, on one line
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())
	})
	root.AddCommand(newDemoCmd(), newInspectCmd(), newPredictCmd(), newConvertCmd(),
		newApplyCmd(), newFitCmd(), newEvaluateCmd(), newFeaturizeCmd(), newPlotCmd(), newZooCmd(), newVersionCmd())
	return root
}

// exactArgs is cobra.ExactArgs with a pointer to --help.
func exactArgs(n int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(c, args); err != nil {
			return fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())
		}
		return nil
	}
}
