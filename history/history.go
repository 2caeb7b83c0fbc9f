// Package history records what a fit measured, row by row (one per epoch,
// and optionally one every N updater steps), writes it as CSV or JSON
// atomically so that a running fit can be followed, reads it back, and
// draws its loss and accuracy curves as a PNG.
package history

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/retarget-dev/retarget/internal/atomicfile"
)

// Row kinds.
const (
	KindEpoch = "epoch" // the end of an epoch: training and validation values
	KindStep  = "step"  // every N updater steps within an epoch: training values so far
)

// Common columns (a fit adds <output>_loss, <output>_accuracy, and val_
// versions of its metrics).
const (
	ColLoss       = "loss"
	ColLR         = "lr"
	ColExamplesPS = "examples_per_s"
	ColElapsed    = "elapsed_s"
)

// Row is one line of a history. Values lacks the columns not measured at
// that row (a step row has no validation values).
type Row struct {
	Epoch  int    // 1-based
	Step   int64  // updater steps done so far
	Kind   string // KindEpoch or KindStep
	Values map[string]float64
}

// History is the rows of a fit with its value columns in order (after
// the fixed epoch, step and kind columns).
type History struct {
	Columns []string
	Rows    []Row
}

// New returns an empty history with these value columns.
func New(columns ...string) *History { return &History{Columns: columns} }

// Add appends a row; values of columns the history does not have yet add
// the columns (in sorted order, after the existing ones).
func (h *History) Add(r Row) {
	var extra []string
	for k := range r.Values {
		if !slices.Contains(h.Columns, k) {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	h.Columns = append(h.Columns, extra...)
	h.Rows = append(h.Rows, r)
}

// Epochs are the epoch rows.
func (h *History) Epochs() []Row {
	var out []Row
	for _, r := range h.Rows {
		if r.Kind == KindEpoch {
			out = append(out, r)
		}
	}
	return out
}

func format(v float64) string { return strconv.FormatFloat(v, 'g', 8, 64) }

// WriteCSV writes a header (epoch, step, kind, the columns) and one line
// per row; a value not measured is empty.
func (h *History) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(append([]string{"epoch", "step", "kind"}, h.Columns...)); err != nil {
		return err
	}
	rec := make([]string, 3+len(h.Columns))
	for _, r := range h.Rows {
		rec[0], rec[1], rec[2] = strconv.Itoa(r.Epoch), strconv.FormatInt(r.Step, 10), r.Kind
		for i, c := range h.Columns {
			rec[3+i] = ""
			if v, ok := r.Values[c]; ok {
				rec[3+i] = format(v)
			}
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

type fileJSON struct {
	Format  string           `json:"format"`
	Columns []string         `json:"columns"`
	Rows    []map[string]any `json:"rows"`
}

// Format is the "format" field of a JSON history.
const Format = "retarget.history"

// WriteJSON writes {"format": "retarget.history", "columns": [...],
// "rows": [{"epoch", "step", "kind", <column>: value, ...}]}; a value
// not measured (or not finite) is left out of its row.
func (h *History) WriteJSON(w io.Writer) error {
	f := fileJSON{Format: Format, Columns: h.Columns, Rows: make([]map[string]any, 0, len(h.Rows))}
	for _, r := range h.Rows {
		m := map[string]any{"epoch": r.Epoch, "step": r.Step, "kind": r.Kind}
		for k, v := range r.Values {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				m[k] = v
			}
		}
		f.Rows = append(f.Rows, m)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(f)
}

// CheckPath refuses a history path whose extension is not .csv or .json.
func CheckPath(path string) error {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv", ".json":
		return nil
	}
	return fmt.Errorf("history %s: name it .csv or .json (the format follows the extension)", path)
}

// Save writes the history atomically (temporary file + rename) as CSV or
// JSON by the extension of path, replacing what was there: a reader sees
// the previous or the new rows, never a partial file.
func (h *History) Save(path string) error {
	if err := CheckPath(path); err != nil {
		return err
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		if strings.EqualFold(filepath.Ext(path), ".json") {
			return h.WriteJSON(w)
		}
		return h.WriteCSV(w)
	})
}

// maxBytes bounds a history file read back (a fit writes a few KiB).
const maxBytes = 64 << 20

// ReadFile reads a history written by Save (CSV or JSON by content).
func ReadFile(path string) (*History, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBytes {
		return nil, fmt.Errorf("%s: over %d MiB: not a history", path, maxBytes>>20)
	}
	var h *History
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		h, err = readJSON(t)
	} else {
		h, err = readCSV(b)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}

func readCSV(b []byte) (*History, error) {
	r := csv.NewReader(bytes.NewReader(b))
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("no header line: %v", err)
	}
	if len(head) < 3 || head[0] != "epoch" || head[1] != "step" || head[2] != "kind" {
		return nil, errors.New("the header must start with epoch,step,kind (a history written by retarget fit --history)")
	}
	h := &History{Columns: head[3:]}
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			return h, nil
		}
		if err != nil {
			return nil, err
		}
		row := Row{Kind: rec[2], Values: map[string]float64{}}
		if row.Epoch, err = strconv.Atoi(rec[0]); err != nil {
			return nil, fmt.Errorf("line %d: epoch %q is not a number", line, rec[0])
		}
		if row.Step, err = strconv.ParseInt(rec[1], 10, 64); err != nil {
			return nil, fmt.Errorf("line %d: step %q is not a number", line, rec[1])
		}
		for i, c := range h.Columns {
			if rec[3+i] == "" {
				continue
			}
			v, err := strconv.ParseFloat(rec[3+i], 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: %s %q is not a number", line, c, rec[3+i])
			}
			row.Values[c] = v
		}
		h.Rows = append(h.Rows, row)
	}
}

func readJSON(b []byte) (*History, error) {
	var f fileJSON
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	if f.Format != Format {
		return nil, fmt.Errorf("format %q, want %q", f.Format, Format)
	}
	h := &History{Columns: f.Columns}
	for i, m := range f.Rows {
		row := Row{Values: map[string]float64{}}
		for k, v := range m {
			switch k {
			case "kind":
				row.Kind, _ = v.(string)
				continue
			}
			x, ok := v.(float64)
			if !ok {
				return nil, fmt.Errorf("row %d: %s is not a number", i, k)
			}
			switch k {
			case "epoch":
				row.Epoch = int(x)
			case "step":
				row.Step = int64(x)
			default:
				row.Values[k] = x
			}
		}
		h.Rows = append(h.Rows, row)
	}
	return h, nil
}
