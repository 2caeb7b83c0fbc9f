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
		force         bool
		opset         int
		channelsFirst bool
		opts          modelio.LoadOptions
	)
	c := &cobra.Command{
		Use:   "convert IN OUT",
		Short: "Convert a model between formats (chosen by file extension)",
		Long: `Reads IN and writes OUT; each format is chosen from the extension
(this build reads ` + strings.Join(modelio.Extensions(true), " ") + ` and writes ` + strings.Join(modelio.Extensions(false), " ") + `).
An ONNX OUT takes and gives data in the layout the source model took (a
channels-last Keras model's file takes NHWC, through Transpose nodes at
its edges; the layout is recorded in metadata_props); --channels-first
writes NCHW/NCW inputs and outputs instead, like tf2onnx --inputs-as-nchw.
OUT equal to IN is refused unless --force. The write is atomic: OUT is
either the old file or the new one, never half written.`,
		Args: exactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			in, out := args[0], args[1]
			save := modelio.SaveOptions{Force: force, Input: in, Opset: opset, ChannelsFirst: channelsFirst}
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
	c.Flags().BoolVar(&channelsFirst, "channels-first", false, "ONNX: take and give NCHW/NCW data instead of the source model's layout")
	addLoadFlags(c, &opts)
	return c
}
