package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/modelio"
	"github.com/retarget-dev/retarget/retarget"
	"github.com/spf13/cobra"
)

func newFeaturizeCmd() *cobra.Command {
	var (
		dataArg, out, boundary string
		shardSize, batch       int
		opts                   modelio.LoadOptions
	)
	c := &cobra.Command{
		Use:   "featurize MODEL --data SOURCE --out DIR",
		Short: "Run a model's frozen part once and write its outputs as NPY shards",
		Long: `Runs the frozen part of MODEL (up to --boundary, default the frozen vertices
the trainable part reads) over the data once, and writes DIR/index.json with
shard-NNNNN.features.npy and shard-NNNNN.labels.npy (format: README). When
DIR already holds shards of the same frozen part (parameters and config)
and the same data (paths, sizes, modification times), they are reused and
nothing runs. Train the rest with 'retarget fit MODEL --featurized DIR'.

` + dataHelp,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if out == "" || dataArg == "" {
				return fmt.Errorf("--out and --data are required (see '%s --help')", c.CommandPath())
			}
			if shardSize < 1 || batch < 1 {
				return fmt.Errorf("--shard-size and --batch-size must be at least 1 (got %d and %d)", shardSize, batch)
			}
			if st, err := os.Stat(out); err == nil && !st.IsDir() {
				return fmt.Errorf("--out %s is a file; give a folder for the shards", out)
			}
			g, err := withSpinner(c.ErrOrStderr(), "loading", func() (*ir.Graph, error) { return modelio.Load(args[0], opts) })
			if err != nil {
				return err
			}
			ds, err := openDataFlag("--data", dataArg, g, retarget.DataOptions{BatchSize: batch})
			if err != nil {
				return err
			}
			defer ds.Close()
			var b []string
			if boundary != "" {
				b = strings.Split(boundary, ",")
			}
			bar := newBars(c.ErrOrStderr())
			idx, err := retarget.Featurize(g, ds, out, retarget.FeaturizeOptions{Boundary: b, ShardSize: shardSize, DataID: ds.ID,
				Progress: func(done, total int) { bar.update("featurizing", done, total) }})
			bar.finish()
			if err != nil {
				return err
			}
			verb := "featurized"
			if idx.Reused {
				verb = "reused"
			}
			fmt.Fprintf(c.OutOrStdout(), "%s %d examples at %s into %d shard(s) in %s\n",
				verb, idx.Count, strings.Join(idx.Boundary, ","), len(idx.Shards), out)
			return nil
		},
	}
	c.Flags().StringVar(&dataArg, "data", "", "data source (see above)")
	c.Flags().StringVarP(&out, "out", "o", "", "output folder")
	c.Flags().StringVar(&boundary, "boundary", "", "comma-separated boundary vertices (default: the frozen frontier)")
	c.Flags().IntVar(&shardSize, "shard-size", 4096, "examples per shard")
	c.Flags().IntVar(&batch, "batch-size", 64, "minibatch size")
	addLoadFlags(c, &opts)
	return c
}
