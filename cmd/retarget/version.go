package main

import (
	"fmt"
	"runtime"

	"github.com/retarget-dev/retarget/exporters/native"
	"github.com/retarget-dev/retarget/internal/version"
	"github.com/spf13/cobra"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of retarget",
		Args:  exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(c.OutOrStdout(), "%s %s (%s, .rtm format %d)\n",
				version.Name, version.String(), runtime.Version(), native.FormatVersion)
			return err
		},
	}
}
