package main

import (
	"encoding/json"
	"fmt"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/modelio"
	"github.com/retarget-dev/retarget/retarget"
	"github.com/spf13/cobra"
)

func newInspectCmd() *cobra.Command {
	var opts modelio.LoadOptions
	var asJSON bool
	c := &cobra.Command{
		Use:   "inspect MODEL",
		Short: "Summarise a model: inputs, outputs, vertices, parameter counts",
		Long: `Prints every vertex (name, type, inputs, output shape, parameter count,
frozen) and the parameter totals. Input and output shapes are in the layout
the source model uses (the way predict takes and gives data); vertex output
shapes are in the internal channels-first layout. The batch dimension and
any unknown dimension print as ? (-1 in JSON). Given a featurized folder,
it lists its parts as 'featurize --status' does.

--json prints {"inputs":[{"name","shape","layout"}], "outputs":[...],
"vertices":[{"name","type","inputs","output_shape","params","frozen"}],
"params_total":N, "params_trainable":N}.`,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if retarget.IsFeaturized(args[0]) {
				// a featurized folder: its parts (as featurize --status)
				return featurizedStatus(c.OutOrStdout(), args)
			}
			g, err := withSpinner(c.ErrOrStderr(), "loading", func() (*ir.Graph, error) { return modelio.Load(args[0], opts) })
			if err != nil {
				return err
			}
			s, err := modelio.Summarize(g)
			if err != nil {
				return err
			}
			if g.Meta["keras_weights"] == "none" {
				fmt.Fprintf(c.ErrOrStderr(), "note: %s is an architecture without weights; parameter counts are what the layers need (pass --weights FILE.h5 to load them)\n", args[0])
			}
			if asJSON {
				enc := json.NewEncoder(c.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(s)
			}
			return s.WriteTable(c.OutOrStdout())
		},
	}
	addLoadFlags(c, &opts)
	c.Flags().BoolVar(&asJSON, "json", false, "print the summary as JSON")
	return c
}
