package main

import (
	"fmt"

	"github.com/retarget-dev/retarget/demo"
	"github.com/spf13/cobra"
)

func newDemoCmd() *cobra.Command {
	var opt demo.Options
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole product offline on an embedded model (seconds)",
		Long: `Imports a small CNN trained on the handwritten digits 0-4 from its Keras
HDF5 file (embedded), prints its summary, retargets it to the digits 5-9
(frozen convolutions, new 5-class output, features computed once, head
fitted), widens a hidden layer keeping every prediction, and exports ONNX and
.rtm files into --out, with the commands to run them.`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, args []string) error {
			opt.Stdout = c.OutOrStdout()
			opt.Progress = progressOut(c.ErrOrStderr())
			res, err := demo.Run(opt)
			if err != nil {
				return err
			}
			for _, s := range res.Skipped {
				fmt.Fprintf(c.ErrOrStderr(), "note: skipped %s\n", s)
			}
			return nil
		},
	}
	c.Flags().StringVar(&opt.Out, "out", "retarget-demo", "folder to write the demo's files into")
	c.Flags().IntVar(&opt.Epochs, "epochs", 30, "epochs of head training")
	return c
}
