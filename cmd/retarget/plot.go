package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/retarget-dev/retarget/history"
	"github.com/spf13/cobra"
)

func newPlotCmd() *cobra.Command {
	var out, title string
	var force bool
	c := &cobra.Command{
		Use:   "plot HISTORY.csv|HISTORY.json -o FILE.png [--title TEXT]",
		Short: "Draw the loss and accuracy curves of a fit history",
		Long: `Reads a history written by 'fit --history' (or a plan's fit.history),
even one a running fit is still writing, and draws its loss curves (and
accuracy curves, when it has any) against the epoch into a PNG: training
values solid, validation (val_) values dashed, step rows (--history-every)
thin. The PNG is written atomically. The title defaults to the history's
file name.`,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("-o FILE.png is required")
			}
			if !strings.EqualFold(filepath.Ext(out), ".png") {
				return fmt.Errorf("-o %s: name it .png", out)
			}
			if !force && sameFile(out, args[0]) {
				return fmt.Errorf("-o %s is the history itself (use --force to replace it)", out)
			}
			h, err := history.ReadFile(args[0])
			if err != nil {
				return err
			}
			if title == "" {
				title = strings.TrimSuffix(filepath.Base(args[0]), filepath.Ext(args[0]))
			}
			if err := h.SavePNG(out, title); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			fmt.Fprintf(c.OutOrStdout(), "wrote %s\n", out)
			return nil
		},
	}
	c.Flags().StringVarP(&out, "out", "o", "", "PNG file to write")
	c.Flags().StringVar(&title, "title", "", "title of the plot (default: the history's file name)")
	c.Flags().BoolVar(&force, "force", false, "allow -o to name the history file")
	return c
}

func sameFile(a, b string) bool {
	x, err1 := filepath.Abs(a)
	y, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && x == y
}
