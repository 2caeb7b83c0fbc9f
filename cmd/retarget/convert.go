package main

import (
	"fmt"
	"strings"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/modelio"
	"github.com/spf13/cobra"
)

func newConvertCmd() *cobra.Command {
	var (
		force bool
		opset int
		opts  modelio.LoadOptions
	)
	c := &cobra.Command{
		Use:   "convert IN OUT",
		Short: "Convert a model between formats (chosen by file extension)",
		Long: `Reads IN and writes OUT; each format is chosen from the extension
(this build reads ` + strings.Join(modelio.Extensions(true), " ") + ` and writes ` + strings.Join(modelio.Extensions(false), " ") + `).
OUT equal to IN is refused unless --force. The write is atomic: OUT is
either the old file or the new one, never half written.`,
		Args: exactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			in, out := args[0], args[1]
			save := modelio.SaveOptions{Force: force, Input: in, Opset: opset}
			if err := modelio.CheckSave(out, save); err != nil {
				return err
			}
			g, err := withSpinner(c.ErrOrStderr(), "loading", func() (*ir.Graph, error) { return modelio.Load(in, opts) })
			if err != nil {
				return err
			}
			_, err = withSpinner(c.ErrOrStderr(), "saving", func() (struct{}, error) {
				return struct{}{}, modelio.Save(out, g, save)
			})
			if err != nil {
				return jsonWeightsHint(in, opts, err)
			}
			fmt.Fprintf(c.OutOrStdout(), "wrote %s\n", out)
			return nil
		},
	}
	c.Flags().BoolVar(&force, "force", false, "allow OUT to be the same file as IN")
	c.Flags().IntVar(&opset, "opset", 13, "ONNX opset to write (11 to 21)")
	addLoadFlags(c, &opts)
	return c
}
