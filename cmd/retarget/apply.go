package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/modelio"
	"github.com/retarget-dev/retarget/retarget"
	"github.com/spf13/cobra"
)

func newApplyCmd() *cobra.Command {
	var asJSON, check, force bool
	c := &cobra.Command{
		Use:   "apply PLAN.yaml [--json] [--check] [--force]",
		Short: "Run a YAML retarget plan: load, edit, fine-tune, write",
		Long: `Runs a whole retarget from a plan: loads model (and weights), applies the
fine_tune configuration and the edits (freeze_through, unfreeze,
replace_nout, replace_nin, remove, remove_outputs, add, insert, widen,
set_inputs, set_outputs), fits on data.train (featurizing the frozen part
once with fit.featurize), evaluates on data.test and writes every output
atomically. The model file is never modified, unless an output names
it and --force is given.

The plan is checked first (keys, files, edits, shapes, output paths, and
each data source against the edited model: .npy headers, the first line
of CSV files, image class folders, without loading the data):
nothing runs when it has a problem, and every problem is listed on stderr
as PLAN:LINE: message. --check stops after the checks. --json prints a
report on stdout: per-epoch loss and accuracy, parameter counts, the frozen
vertices, the featurized shards and the files written; on failure it is
{"error": …, "problems": [{file, line, message, text}, …]} instead. The README documents every key; see
testdata/plans/example.yaml.`,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			out := c.OutOrStdout()
			fail := func(err error) error { return planFailure(c, asJSON, args[0], err) }
			if check {
				notes, err := retarget.CheckPlanFile(args[0], planEnv(c, force))
				if err != nil {
					return fail(err)
				}
				if asJSON {
					return writeJSON(out, map[string]any{"plan": args[0], "ok": true, "notes": append([]string{}, notes...)})
				}
				for _, n := range notes {
					fmt.Fprintf(out, "note: %s\n", n)
				}
				fmt.Fprintf(out, "%s: ok\n", args[0])
				return nil
			}
			p, err := retarget.LoadPlan(args[0])
			if err != nil {
				return fail(err)
			}
			env := planEnv(c, force)
			bars := newBars(c.ErrOrStderr())
			env.Progress = bars.update
			res, err := p.Run(env)
			bars.finish()
			if err != nil {
				return fail(err)
			}
			if asJSON {
				return writeJSON(out, res)
			}
			for _, w := range res.Outputs {
				fmt.Fprintf(out, "wrote %s\n", w)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the final report as JSON on stdout")
	c.Flags().BoolVar(&check, "check", false, "validate the plan (files, edits, shapes) without running it")
	c.Flags().BoolVar(&force, "force", false, "allow an output path that is the model file itself (it is replaced atomically)")
	return c
}

// planFailure reports a failed plan. Its line-numbered problems go to
// stderr, or with asJSON into {"error": …, "problems": […]} on stdout (so
// that stdout stays one JSON document); the returned error is one line.
func planFailure(c *cobra.Command, asJSON bool, plan string, err error) error {
	var pe *retarget.PlanError
	short := err
	problems := []planProblemJSON{}
	if errors.As(err, &pe) {
		short = fmt.Errorf("%s: %d problem(s)", plan, len(pe.Problems))
		for _, pr := range pe.Problems {
			problems = append(problems, planProblemJSON{File: pr.File, Line: pr.Line, Message: pr.Msg, Text: pr.Error()})
		}
	}
	if asJSON {
		if jerr := writeJSON(c.OutOrStdout(), map[string]any{"error": short.Error(), "problems": problems}); jerr != nil {
			return jerr
		}
	} else {
		for _, pr := range problems {
			fmt.Fprintln(c.ErrOrStderr(), pr.Text)
		}
	}
	return short
}

// planProblemJSON is one plan problem in apply --json's error report.
type planProblemJSON struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
	Text    string `json:"text"` // PLAN:LINE: message
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// planEnv connects a plan to modelio; logs go to stderr. force lets an
// output be the source model.
func planEnv(c *cobra.Command, force bool) retarget.PlanEnv {
	return retarget.PlanEnv{
		Load: func(model, weights string) (*ir.Graph, error) {
			return modelio.Load(model, modelio.LoadOptions{Weights: weights})
		},
		Save:      saveFunc(force),
		CheckSave: checkSaveFunc(force),
		Force:     force,
		Log:       c.ErrOrStderr(),
	}
}

// saveFunc writes with modelio, refusing to write over the source model
// unless force.
func saveFunc(force bool) func(path string, g *ir.Graph, source string) error {
	return func(path string, g *ir.Graph, source string) error {
		return modelio.Save(path, g, modelio.SaveOptions{Input: source, Force: force})
	}
}

// checkSaveFunc reports why modelio.Save would refuse an output before any
// work. A plan run creates missing folders, so for a path whose folder does
// not exist yet only the extension is checked (the nearest existing
// ancestor must be a folder).
func checkSaveFunc(force bool) func(path, source string) error {
	return func(path, source string) error {
		opts := modelio.SaveOptions{Input: source, Force: force}
		dir := filepath.Dir(path)
		if _, err := os.Stat(dir); err == nil {
			return modelio.CheckSave(path, opts)
		}
		for d := dir; ; d = filepath.Dir(d) {
			if st, err := os.Stat(d); err == nil {
				if !st.IsDir() {
					return fmt.Errorf("%s: cannot create the folder %s: %s is a file", path, dir, d)
				}
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
		ext := strings.ToLower(filepath.Ext(path))
		writable := modelio.Extensions(false)
		if !slices.Contains(writable, ext) {
			return &modelio.FormatError{Path: path, Ext: ext, Write: true, Known: writable}
		}
		return nil
	}
}
