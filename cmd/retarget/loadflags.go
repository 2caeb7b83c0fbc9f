package main

import (
	"github.com/retarget-dev/retarget/modelio"
	"github.com/spf13/cobra"
)

// addLoadFlags adds the flags of every command that reads a model.
func addLoadFlags(c *cobra.Command, opts *modelio.LoadOptions) {
	c.Flags().StringVar(&opts.Weights, "weights", "", "separate weights file (Keras JSON architecture + HDF5 weights)")
	c.Flags().BoolVar(&opts.Strict, "strict", false, "fail on anything the importer would otherwise only warn about (e.g. an unmappable Keras training config)")
}
