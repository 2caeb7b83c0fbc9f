package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/retarget-dev/retarget/modelio"
	"github.com/spf13/cobra"
)

// addLoadFlags adds the flags of every command that reads a model.
func addLoadFlags(c *cobra.Command, opts *modelio.LoadOptions) {
	c.Flags().StringVar(&opts.Weights, "weights", "", "separate weights file (Keras JSON architecture + HDF5 weights)")
	c.Flags().BoolVar(&opts.Strict, "strict", false, "fail on anything the importer would otherwise only warn about (e.g. an unmappable Keras training config)")
}

// jsonWeightsHint says what to do when a Keras JSON architecture read
// without --weights (a graph with no parameters) cannot run or be written.
func jsonWeightsHint(path string, opts modelio.LoadOptions, err error) error {
	if err == nil || opts.Weights != "" || !strings.EqualFold(filepath.Ext(path), ".json") {
		return err
	}
	return fmt.Errorf("%w\nhint: %s is a Keras JSON architecture, which holds no weights: pass its weights file with --weights FILE.h5", err, path)
}
