// Package modelio loads and saves models in every format retarget knows,
// choosing the importer or exporter from the file extension. It is the one
// place the CLI (and a library user who does not care about formats) goes
// through.
package modelio

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/retarget-dev/retarget/ir"
)

// LoadOptions tune Load.
type LoadOptions struct {
	// Weights is a separate weights file, for formats that keep the
	// architecture and the weights apart (a Keras JSON config and its HDF5
	// weights). Formats that hold both refuse it.
	Weights string
	// Strict makes an importer fail on anything it would otherwise
	// approximate or skip with a warning.
	Strict bool
}

// SaveOptions tune Save.
type SaveOptions struct {
	// Force allows writing over Input.
	Force bool
	// Opset is the ONNX opset to write (0: the exporter's default).
	Opset int
	// ChannelsFirst makes an ONNX file take and give NCHW/NCW data;
	// otherwise it keeps the source model's layout (NHWC for a
	// channels-last Keras model) at its inputs and outputs.
	ChannelsFirst bool
	// Input is the path the graph was loaded from, if any: Save refuses to
	// write over it unless Force is set.
	Input string
}

// Loader reads a model file.
type Loader func(path string, opts LoadOptions) (*ir.Graph, error)

// Saver writes a model file; it must write atomically (temp file + rename).
type Saver func(path string, g *ir.Graph, opts SaveOptions) error

// Format is one model file format. Load or Save may be nil for a format
// that is read-only or write-only.
type Format struct {
	Name       string   // e.g. "native", "onnx", "keras"
	Extensions []string // lower case, with the dot: ".rtm"
	Load       Loader
	Save       Saver
}

var (
	mu      sync.RWMutex
	formats = map[string]Format{} // by extension
)

// Register makes a format's extensions known to Load and Save. Importers
// and exporters register from formats.go (or their own init); registering
// an extension twice panics, as it is a programming error.
func Register(f Format) {
	mu.Lock()
	defer mu.Unlock()
	for _, ext := range f.Extensions {
		ext = strings.ToLower(ext)
		if old, dup := formats[ext]; dup {
			panic(fmt.Sprintf("modelio: extension %s registered by %s and %s", ext, old.Name, f.Name))
		}
		formats[ext] = f
	}
}

// Extensions lists the registered extensions that can be loaded (load) or
// saved (!load), sorted.
func Extensions(load bool) []string {
	mu.RLock()
	defer mu.RUnlock()
	var out []string
	for ext, f := range formats {
		if (load && f.Load != nil) || (!load && f.Save != nil) {
			out = append(out, ext)
		}
	}
	sort.Strings(out)
	return out
}

// FormatError says a path's extension names no format this build can
// read (or write).
type FormatError struct {
	Path  string
	Ext   string
	Write bool
	Known []string
}

func (e *FormatError) Error() string {
	verb := "read"
	if e.Write {
		verb = "write"
	}
	ext := e.Ext
	if ext == "" {
		ext = "(none)"
	}
	return fmt.Sprintf("%s: cannot %s model files with extension %s (this build supports: %s)",
		e.Path, verb, ext, strings.Join(e.Known, ", "))
}

// ErrSameFile is returned by Save when the output is the input.
var ErrSameFile = errors.New("the output is the input model; pass --force (SaveOptions.Force) to overwrite it")

func lookup(path string, write bool) (Format, error) {
	ext := strings.ToLower(filepath.Ext(path))
	mu.RLock()
	f, ok := formats[ext]
	mu.RUnlock()
	if !ok || (write && f.Save == nil) || (!write && f.Load == nil) {
		return Format{}, &FormatError{Path: path, Ext: ext, Write: write, Known: Extensions(!write)}
	}
	return f, nil
}

// Load reads a model, choosing the importer from the extension.
func Load(path string, opts LoadOptions) (*ir.Graph, error) {
	if err := checkFolder(path); err != nil {
		return nil, err
	}
	f, err := lookup(path, false)
	if err != nil {
		return nil, err
	}
	if err := checkReadable(path, "model file"); err != nil {
		return nil, err
	}
	if opts.Weights != "" {
		if err := checkReadable(opts.Weights, "weights file"); err != nil {
			return nil, err
		}
	}
	return f.Load(path, opts)
}

// Save writes a model, choosing the exporter from the extension. It refuses
// to write over opts.Input unless opts.Force.
func Save(path string, g *ir.Graph, opts SaveOptions) error {
	f, err := checkSave(path, opts)
	if err != nil {
		return err
	}
	return f.Save(path, g, opts)
}

// CheckSave reports the error Save would fail with before writing anything
// (an extension no exporter writes, a folder at path or a missing parent
// folder, path naming opts.Input without opts.Force), so a command can
// refuse a bad output before long work.
func CheckSave(path string, opts SaveOptions) error {
	_, err := checkSave(path, opts)
	return err
}

func checkSave(path string, opts SaveOptions) (Format, error) {
	if err := checkFolder(path); err != nil {
		return Format{}, err
	}
	f, err := lookup(path, true)
	if err != nil {
		return Format{}, err
	}
	if opts.Input != "" && !opts.Force && samePath(path, opts.Input) {
		return Format{}, fmt.Errorf("%s: %w", path, ErrSameFile)
	}
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return Format{}, fmt.Errorf("%s: the folder %s does not exist; create it first", path, dir)
	}
	return f, nil
}

// checkFolder refuses a path that is a folder (whatever its name).
func checkFolder(path string) error {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("%s is a folder, not a model file", path)
	}
	return nil
}

// checkReadable gives a missing or unusable file one clear message before
// an importer reports it in its own terms.
func checkReadable(path, what string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s %s: no such file", what, path)
	case err != nil:
		return fmt.Errorf("%s: %w", what, err)
	case st.IsDir():
		return fmt.Errorf("%s %s is a folder, not a file", what, path)
	}
	return nil
}

// samePath reports whether two paths name one file (through links too).
func samePath(a, b string) bool {
	if sa, err := os.Stat(a); err == nil {
		if sb, err := os.Stat(b); err == nil {
			return os.SameFile(sa, sb)
		}
	}
	aa, err1 := filepath.Abs(a)
	ab, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == ab
}
