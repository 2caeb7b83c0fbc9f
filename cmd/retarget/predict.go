package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/modelio"
	"github.com/retarget-dev/retarget/nn"
	"github.com/retarget-dev/retarget/npy"
	"github.com/spf13/cobra"
)

// predictChunk is how many examples run between progress updates.
const predictChunk = 256

// predictGCPercent is predict's GOGC once the model is loaded: VGG16's
// peak on 8 images measured 660,180 KiB (1.22× the file) at the default
// 100 and 645,660 KiB (1.19×) at 5, in the same time.
const predictGCPercent = 5

func newPredictCmd() *cobra.Command {
	var opts modelio.LoadOptions
	var inputs []string
	var outDir string
	c := &cobra.Command{
		Use:   "predict MODEL --input NAME=FILE.npy ... --out DIR",
		Short: "Run a model on NumPy arrays and write its outputs as .npy files",
		Long: `Runs inference and writes DIR/<output name>.npy (float32) for every graph
output. Each --input gives one graph input as NAME=FILE.npy; a model with a
single input also takes --input FILE.npy. Arrays have the batch first and are
laid out as the source model took them (see 'retarget inspect'); any numeric
dtype in either byte order is accepted, in C order. Outputs are in the layout
the source model gave them.`,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if outDir == "" {
				return fmt.Errorf("--out DIR is required (see '%s --help')", c.CommandPath())
			}
			if len(inputs) == 0 {
				return fmt.Errorf("--input is required (see '%s --help')", c.CommandPath())
			}
			if st, err := os.Stat(outDir); err == nil && !st.IsDir() {
				return fmt.Errorf("--out %s is a file; give a folder to write the outputs into", outDir)
			}
			g, err := withSpinner(c.ErrOrStderr(), "loading", func() (*ir.Graph, error) { return modelio.Load(args[0], opts) })
			if err != nil {
				return err
			}
			files, err := inputFiles(g, inputs)
			if err != nil {
				return err
			}
			xs := make([]*ir.Tensor, len(g.Inputs))
			for i, in := range g.Inputs {
				a, err := npy.ReadFile(files[in.Name])
				if err != nil {
					return fmt.Errorf("input %q: %w", in.Name, err)
				}
				xs[i] = &ir.Tensor{Shape: a.Shape, Data: a.Data}
			}
			names, err := outputFiles(g, outDir)
			if err != nil {
				return err
			}
			// the graph is not used after this: the network may pack the
			// convolution weights in place (Options.TakeWeights)
			net, err := nn.CompileWith[float32](g, nn.Options{Inference: true, TakeWeights: true})
			if err != nil {
				return jsonWeightsHint(args[0], opts, err)
			}
			// The heap is now mostly the weights, which live to the end;
			// Go's default GOGC=100 would let garbage (scratch grown by a
			// later layer, the import's temporaries) grow to their size
			// before the first collection.
			debug.SetGCPercent(predictGCPercent)
			var progress func(done, total int)
			if len(xs[0].Shape) > 0 {
				if bar := newBar(c.ErrOrStderr(), int64(xs[0].Shape[0]), "predicting"); bar != nil {
					defer bar.Finish()
					progress = func(done, _ int) { bar.Set(done) }
				}
			}
			ys, err := modelio.Predict(net, xs, predictChunk, progress)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(outDir, 0o755); err != nil {
				return err
			}
			for k, y := range ys {
				path := filepath.Join(outDir, names[k])
				if err := npy.WriteFile(path, y.Shape, y.Data); err != nil {
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "%s %v -> %s\n", g.Outputs[k].Name, y.Shape, path)
			}
			return nil
		},
	}
	addLoadFlags(c, &opts)
	c.Flags().StringArrayVar(&inputs, "input", nil, "NAME=FILE.npy for each graph input (FILE.npy alone for a single-input model)")
	c.Flags().StringVar(&outDir, "out", "", "folder to write <output name>.npy files into (created if missing)")
	return c
}

// inputFiles maps every graph input to a file from the --input values.
func inputFiles(g *ir.Graph, values []string) (map[string]string, error) {
	files := map[string]string{}
	for _, v := range values {
		name, file, ok := strings.Cut(v, "=")
		if !ok || g.Input(name) == nil {
			if len(g.Inputs) != 1 || len(values) != 1 {
				return nil, fmt.Errorf("--input %q: give NAME=FILE.npy with NAME one of the model's inputs: %s", v, inputNames(g))
			}
			// NAME=FILE with an unknown NAME is a typo, unless the whole
			// value is a file whose name holds '='.
			if _, err := os.Stat(v); ok && err != nil {
				return nil, fmt.Errorf("--input %q: the model has no input %q (inputs: %s)", v, name, inputNames(g))
			}
			name, file = g.Inputs[0].Name, v
		}
		if file == "" {
			return nil, fmt.Errorf("--input %q: no file after '='; give NAME=FILE.npy", v)
		}
		if _, dup := files[name]; dup {
			return nil, fmt.Errorf("input %q is given twice", name)
		}
		files[name] = file
	}
	for _, in := range g.Inputs {
		if _, ok := files[in.Name]; !ok {
			return nil, fmt.Errorf("no --input for model input %q (inputs: %s)", in.Name, inputNames(g))
		}
	}
	return files, nil
}

func inputNames(g *ir.Graph) string {
	var ns []string
	for _, in := range g.Inputs {
		ns = append(ns, in.Name)
	}
	return strings.Join(ns, ", ")
}

// outputFiles names the file of every graph output: its name with path
// separators and other unsafe characters replaced; two outputs must not
// map to one file.
func outputFiles(g *ir.Graph, dir string) ([]string, error) {
	seen := map[string]string{}
	var out []string
	for _, o := range g.Outputs {
		f := strings.Map(func(r rune) rune {
			if r == '/' || r == '\\' || r == ':' || r < ' ' {
				return '_'
			}
			return r
		}, o.Name)
		if f == "" || f == "." || f == ".." {
			f = "_" + f
		}
		f += ".npy"
		if prev, dup := seen[f]; dup {
			return nil, fmt.Errorf("outputs %q and %q would both be written to %s", prev, o.Name, filepath.Join(dir, f))
		}
		seen[f] = o.Name
		out = append(out, f)
	}
	return out, nil
}
