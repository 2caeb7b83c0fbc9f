package main

import (
	"fmt"
	"strings"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/modelio"
	"github.com/retarget-dev/retarget/retarget"
	"github.com/spf13/cobra"
)

// dataFlags are the NPY training-data flags shared by fit and featurize.
type dataFlags struct {
	features, labels, valFeatures, valLabels []string
	batch                                    int
}

func (d *dataFlags) register(c *cobra.Command, validation bool) {
	c.Flags().StringSliceVar(&d.features, "features", nil, "NPY features, one per graph input (source layout)")
	c.Flags().StringSliceVar(&d.labels, "labels", nil, "NPY labels, one per output with a loss (class indices are one-hot encoded)")
	if validation {
		c.Flags().StringSliceVar(&d.valFeatures, "val-features", nil, "NPY validation features")
		c.Flags().StringSliceVar(&d.valLabels, "val-labels", nil, "NPY validation labels")
	}
	c.Flags().IntVar(&d.batch, "batch-size", 32, "minibatch size")
}

func (d *dataFlags) spec() retarget.DataSpec {
	return retarget.DataSpec{Kind: "npy", Features: d.features, Labels: d.labels,
		ValidationFeatures: d.valFeatures, ValidationLabels: d.valLabels}
}

func newFeaturizeCmd() *cobra.Command {
	var (
		data      dataFlags
		out       string
		boundary  string
		shardSize int
	)
	c := &cobra.Command{
		Use:   "featurize MODEL --features X.npy --labels Y.npy --out DIR",
		Short: "Run a model's frozen part once and write its outputs as NPY shards",
		Long: `Runs the frozen part of MODEL (up to --boundary, default the frozen vertices
the trainable part reads) over the data once, and writes DIR/index.json with
shard-NNNNN.features.npy and shard-NNNNN.labels.npy. Train the head from
them with 'retarget fit MODEL --featurized DIR'.`,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if out == "" || len(data.features) == 0 {
				return fmt.Errorf("--out and --features are required (see '%s --help')", c.CommandPath())
			}
			g, err := withSpinner(c.ErrOrStderr(), "loading", func() (*ir.Graph, error) { return modelio.Load(args[0], modelio.LoadOptions{}) })
			if err != nil {
				return err
			}
			it, _, err := retarget.DataSourceOf("npy")(data.spec(), g, retarget.DataOptions{BatchSize: data.batch})
			if err != nil {
				return err
			}
			var b []string
			if boundary != "" {
				b = strings.Split(boundary, ",")
			}
			idx, err := withSpinner(c.ErrOrStderr(), "featurizing", func() (*retarget.ShardIndex, error) {
				return retarget.Featurize(g, it, out, retarget.FeaturizeOptions{Boundary: b, ShardSize: shardSize})
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "featurized %d examples at %s into %d shard(s) in %s\n",
				idx.Count, strings.Join(idx.Boundary, ","), len(idx.Shards), out)
			return nil
		},
	}
	data.register(c, false)
	c.Flags().StringVarP(&out, "out", "o", "", "output folder")
	c.Flags().StringVar(&boundary, "boundary", "", "comma-separated boundary vertices (default: the frozen frontier)")
	c.Flags().IntVar(&shardSize, "shard-size", 4096, "examples per shard")
	return c
}
