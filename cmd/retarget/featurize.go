package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/modelio"
	"github.com/retarget-dev/retarget/retarget"
	"github.com/spf13/cobra"
)

func newFeaturizeCmd() *cobra.Command {
	var (
		out, boundary, shard string
		dataArgs, labelArgs  []string
		shardSize, batch     int
		status               bool
		opts                 modelio.LoadOptions
	)
	c := &cobra.Command{
		Use:   "featurize MODEL --data SOURCE --out DIR [--shard I/N|auto]  |  featurize --status DIR...",
		Short: "Run a model's frozen part once and write its outputs as NPY shards",
		Long: `Runs the frozen part of MODEL (up to --boundary, default the frozen vertices
the trainable part reads) over the data once, and writes DIR/index.json with
shard-NNNNN.features.npy and shard-NNNNN.labels.npy (format: README). When
DIR already holds shards of the same frozen part (parameters and config)
and the same data (paths, sizes, modification times), they are reused and
nothing runs. Train the rest with 'retarget fit MODEL --featurized DIR'.

On many machines: --shard I/N (I from 0) featurizes only part I of N of the
data (whole batches of its order, the same split on every machine) into
DIR/part-IIIII-of-NNNNN/, touching no other file of DIR, so N copies of the
command can write into one shared folder at once. --shard auto takes I and
N from a Kubernetes Indexed Job (JOB_COMPLETION_INDEX, and JOB_COMPLETIONS
set in the manifest) or a Slurm job array (SLURM_ARRAY_TASK_ID less
SLURM_ARRAY_TASK_MIN, SLURM_ARRAY_TASK_COUNT); --shard auto/N gives N when
the environment has only the index. A part already written with the same
key is skipped, so a rerun redoes only missing parts; a part killed while
writing has no index and counts as missing. Every part must use the same
--batch-size (the split is in batches).

--status DIR... lists the parts present and missing of featurized folders
(exit status 1 when one is incomplete).

` + dataHelp,
		Args: func(c *cobra.Command, args []string) error {
			if status {
				if len(args) == 0 {
					return fmt.Errorf("--status needs the featurized folder(s) (see '%s --help')", c.CommandPath())
				}
				return nil
			}
			return exactArgs(1)(c, args)
		},
		RunE: func(c *cobra.Command, args []string) error {
			if status {
				return featurizedStatus(c.OutOrStdout(), args)
			}
			if out == "" || len(dataArgs) == 0 {
				return fmt.Errorf("--out and --data are required (see '%s --help')", c.CommandPath())
			}
			if shardSize < 1 || batch < 1 {
				return fmt.Errorf("--shard-size and --batch-size must be at least 1 (got %d and %d)", shardSize, batch)
			}
			if st, err := os.Stat(out); err == nil && !st.IsDir() {
				return fmt.Errorf("--out %s is a file; give a folder for the shards", out)
			}
			part, err := parseShardFlag(shard)
			if err != nil {
				return err
			}
			g, err := withSpinner(c.ErrOrStderr(), "loading", func() (*ir.Graph, error) { return modelio.Load(args[0], opts) })
			if err != nil {
				return err
			}
			ds, err := openSourcesFlag(dataArgs, labelArgs, g, retarget.DataOptions{BatchSize: batch, Part: part})
			if err != nil {
				return err
			}
			defer ds.Close()
			var b []string
			if boundary != "" {
				b = strings.Split(boundary, ",")
			}
			what := "featurizing"
			if !part.Whole() {
				what = fmt.Sprintf("featurizing part %s", part)
			}
			bar := newBars(c.ErrOrStderr())
			idx, err := retarget.Featurize(g, ds, out, retarget.FeaturizeOptions{Boundary: b, ShardSize: shardSize, DataID: ds.ID,
				Part: ds.PartInfo, Progress: func(done, total int) { bar.update(what, done, total) }})
			bar.finish()
			if err != nil {
				return err
			}
			verb := "featurized"
			if idx.Reused {
				verb = "reused"
			}
			w := c.OutOrStdout()
			if part.Whole() {
				fmt.Fprintf(w, "%s %d examples at %s into %d shard(s), %s, in %s\n",
					verb, idx.Count, strings.Join(idx.Boundary, ","), len(idx.Shards), byteSize(idx.Bytes), out)
				return nil
			}
			fmt.Fprintf(w, "%s part %s: %d examples (%d to %d of %d) at %s into %d shard(s), %s, in %s\n",
				verb, part, idx.Count, ds.First, ds.First+idx.Count, ds.Total, strings.Join(idx.Boundary, ","), len(idx.Shards), byteSize(idx.Bytes), idx.Dir)
			if st, err := retarget.FeaturizedStatus(out); err == nil {
				fmt.Fprintln(w, statusLine(st))
			}
			return nil
		},
	}
	c.Flags().StringArrayVar(&dataArgs, "data", nil, "data source (see above), or NAME=SRC per model input (repeatable)")
	c.Flags().StringArrayVar(&labelArgs, "labels", nil, "NAME=SRC: labels of the loss output NAME (repeatable; with --data NAME=SRC)")
	c.Flags().StringVarP(&out, "out", "o", "", "output folder")
	c.Flags().StringVar(&boundary, "boundary", "", "comma-separated boundary vertices (default: the frozen frontier)")
	c.Flags().IntVar(&shardSize, "shard-size", 4096, "examples per shard")
	c.Flags().IntVar(&batch, "batch-size", 64, "minibatch size (the same for every part of a --shard run)")
	c.Flags().StringVar(&shard, "shard", "", "featurize only part I of N (I/N, I from 0), or take it from the scheduler (auto, auto/N)")
	c.Flags().BoolVar(&status, "status", false, "list the parts present and missing in the folder(s) given as arguments")
	addLoadFlags(c, &opts)
	return c
}

// parseShardFlag reads --shard: "" (the whole source), I/N, auto or auto/N.
func parseShardFlag(s string) (retarget.Part, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return retarget.Part{}, nil
	}
	if s == "auto" || strings.HasPrefix(s, "auto/") {
		n := 0
		if rest, ok := strings.CutPrefix(s, "auto/"); ok {
			if _, err := fmt.Sscan(rest, &n); err != nil || n < 1 {
				return retarget.Part{}, fmt.Errorf("--shard %s: the count after auto/ must be a positive number", s)
			}
		}
		p, err := retarget.PartFromEnv(os.Getenv, n)
		if err != nil {
			return retarget.Part{}, fmt.Errorf("--shard %s: %w", s, err)
		}
		return p, nil
	}
	p, err := retarget.ParsePart(s)
	if err != nil {
		return retarget.Part{}, fmt.Errorf("--shard: %w", err)
	}
	return p, nil
}

// featurizedStatus prints what each featurized folder holds; an
// incomplete one makes the command fail after the listing.
func featurizedStatus(w io.Writer, dirs []string) error {
	var incomplete []string
	for _, d := range dirs {
		st, err := retarget.FeaturizedStatus(d)
		if err != nil {
			return err
		}
		fmt.Fprintln(w, statusLine(st))
		for _, p := range st.Present {
			if st.Parts > 0 {
				fmt.Fprintf(w, "  part %d: examples %d to %d, %s\n", p.Index, p.First, p.First+p.Count, byteSize(p.Bytes))
			}
		}
		if !st.Complete() {
			incomplete = append(incomplete, d)
		}
	}
	if len(incomplete) > 0 {
		return fmt.Errorf("incomplete: %s", strings.Join(incomplete, ", "))
	}
	return nil
}

// statusLine is one folder's summary: parts, examples, bytes, missing.
func statusLine(st retarget.FolderStatus) string {
	if st.Parts == 0 {
		return fmt.Sprintf("%s: complete, %d examples, %s (one process)", st.Dir, st.Count, byteSize(st.Bytes))
	}
	s := fmt.Sprintf("%s: %d of %d parts, %d examples, %s", st.Dir, len(st.Present), st.Parts, st.Count, byteSize(st.Bytes))
	if st.Complete() {
		return s + ": complete"
	}
	return s + "; missing " + retarget.PartList(st.Missing, st.Started)
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// featurizedArgs expands --featurized values (each a folder or a glob).
func featurizedArgs(vals []string) ([]string, error) {
	var dirs []string
	for _, v := range vals {
		if !strings.ContainsAny(v, "*?[") {
			dirs = append(dirs, v)
			continue
		}
		m, err := filepath.Glob(v)
		if err != nil {
			return nil, fmt.Errorf("--featurized %s: %w", v, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("--featurized %s matches no folder", v)
		}
		dirs = append(dirs, m...)
	}
	return dirs, nil
}
