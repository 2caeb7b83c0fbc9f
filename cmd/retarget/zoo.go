package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/retarget-dev/retarget/zoo"
	"github.com/spf13/cobra"
)

func newZooCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "zoo",
		Short: "List model architectures and download their published pretrained weights",
	}
	c.AddCommand(newZooListCmd(), newZooPullCmd())
	return c
}

// zooEntry is one model in `zoo list --json`.
type zooEntry struct {
	*zoo.Model
	Cached map[string]string `json:"cached,omitempty"` // weights name -> path
}

func newZooListCmd() *cobra.Command {
	var asJSON bool
	var cacheDir string
	c := &cobra.Command{
		Use:   "list",
		Short: "List the zoo's models and their pretrained weight files",
		Long: `Lists every model the zoo builds, its default input and class count, and
the pretrained weight files Keras publishes for it (URL and checksum, with
the checksum's algorithm: Keras publishes MD5 for VGG and ResNet and none
for MobileNetV2), marking those already in the cache.`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, args []string) error {
			cache, err := zoo.NewCache(cacheDir)
			if err != nil {
				return err
			}
			var entries []zooEntry
			for _, m := range zoo.Models() {
				e := zooEntry{Model: m}
				for _, w := range m.Weights {
					if p, ok := cache.Cached(w); ok {
						if e.Cached == nil {
							e.Cached = map[string]string{}
						}
						e.Cached[w.Name] = p
					}
				}
				entries = append(entries, e)
			}
			if asJSON {
				enc := json.NewEncoder(c.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(entries)
			}
			tw := tabwriter.NewWriter(c.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "MODEL\tINPUT\tCLASSES\tWEIGHTS\tDESCRIPTION")
			for _, e := range entries {
				var ws []string
				for _, w := range e.Weights {
					s := w.Name
					if _, ok := e.Cached[w.Name]; ok {
						s += " (cached)"
					}
					ws = append(ws, s)
				}
				if len(ws) == 0 {
					ws = []string{"-"}
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", e.Name, dims(e.Input), e.Classes, strings.Join(ws, ", "), e.Description)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "\ncache: %s\n", cache.Dir)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the list as JSON")
	c.Flags().StringVar(&cacheDir, "cache-dir", "", "cache folder (default $RETARGET_CACHE, else $XDG_CACHE_HOME/retarget)")
	return c
}

func dims(s []int) string {
	var p []string
	for _, d := range s {
		if d < 0 {
			p = append(p, "?")
		} else {
			p = append(p, fmt.Sprint(d))
		}
	}
	return strings.Join(p, "x")
}

func newZooPullCmd() *cobra.Command {
	var weights, file, cacheDir string
	c := &cobra.Command{
		Use:   "pull NAME",
		Short: "Download a model's pretrained weights into the cache",
		Long: `Downloads the weight file into the cache folder ($RETARGET_CACHE, else
$XDG_CACHE_HOME/retarget; --cache-dir overrides), showing progress,
resuming a broken download (also on the next run), and checking the
published checksum: a mismatch deletes the download and says so.

--file registers a copy you already have instead (machines without
network access): it is checked the same way and copied into the cache.

Prints the cached file's path.`,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			m, err := zoo.Lookup(args[0])
			if err != nil {
				return err
			}
			w, err := m.WeightsNamed(weights)
			if err != nil {
				return err
			}
			cache, err := zoo.NewCache(cacheDir)
			if err != nil {
				return err
			}
			var path string
			if file != "" {
				if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("--file %s: no such file", file)
				}
				path, err = cache.Register(w, file)
			} else {
				if p, ok := cache.Cached(w); ok {
					fmt.Fprintln(c.OutOrStdout(), p)
					printWeightsUsage(c.ErrOrStderr(), m, w, p)
					return nil
				}
				cache.Progress = progressOut(c.ErrOrStderr())
				fmt.Fprintf(c.ErrOrStderr(), "downloading %s\n", w.URL)
				path, err = cache.Pull(context.Background(), w)
				err = offlineHint(err, m, w)
			}
			if err != nil {
				return err
			}
			if w.Hash == "" {
				if _, err := os.Stat(path + ".sha256"); err == nil {
					fmt.Fprintf(c.ErrOrStderr(), "note: no checksum is published for %s, so it could not be verified against a published one; its SHA-256 is recorded in %s.sha256\n", w.File, path)
				}
			}
			fmt.Fprintln(c.OutOrStdout(), path)
			printWeightsUsage(c.ErrOrStderr(), m, w, path)
			return nil
		},
	}
	c.Flags().StringVar(&weights, "weights", "imagenet", "which weights: imagenet (with the classifier) or imagenet-notop")
	c.Flags().StringVar(&file, "file", "", "register this local copy instead of downloading")
	c.Flags().StringVar(&cacheDir, "cache-dir", "", "cache folder (default $RETARGET_CACHE, else $XDG_CACHE_HOME/retarget)")
	return c
}

// offlineHint adds the way out of a failed connection (no network, a
// proxy in the way) to a download error: fetch the file elsewhere and
// register it with --file.
func offlineHint(err error, m *zoo.Model, w zoo.Weights) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	return fmt.Errorf("%w\nhint: without network access, download %s elsewhere and register the copy: retarget zoo pull %s --weights %s --file FILE", err, w.URL, m.Name, w.Name)
}

// printWeightsUsage tells how to use a pulled weights file: it holds no
// architecture, so it goes with the zoo builder of the same options.
func printWeightsUsage(out io.Writer, m *zoo.Model, w zoo.Weights, path string) {
	top := "IncludeTop: true"
	if !w.IncludeTop {
		top = "IncludeTop: false"
	}
	fmt.Fprintf(out, `this file holds weights only (Keras save_weights layout, matched by layer name).
Build the model with the options the file was made for (input side, alpha), then load it; in Go:
  m, _ := zoo.Lookup(%q)
  g, _ := m.Build(zoo.Options{%s})
  err := zoo.LoadKerasWeights(g, %q)
`, m.Name, top, path)
}
