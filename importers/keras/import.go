package keras

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/retarget-dev/retarget/internal/hdf5"
	"github.com/retarget-dev/retarget/ir"
)

// Options tunes an import.
type Options struct {
	// Weights is the weights file (Keras save_weights HDF5 or Keras 3
	// .weights.h5) for an architecture given as JSON. Without it a JSON
	// import yields a graph without parameters.
	Weights string
	// Strict makes a Keras loss without an IR equivalent an error (it is
	// otherwise replaced by the activation's natural loss, with a warning
	// in the graph's Meta["keras_warnings"]).
	Strict bool
	// Backend overrides the backend a file records ("tensorflow" or
	// "theano"). Keras 1 files do not record it; they are read as
	// TensorFlow unless this says "theano".
	Backend string
}

// ImportError is an import failure tied to a file.
type ImportError struct {
	File string
	Err  error
}

func (e *ImportError) Error() string {
	if e.File == "" {
		return "keras import: " + e.Err.Error()
	}
	return "keras import " + e.File + ": " + e.Err.Error()
}
func (e *ImportError) Unwrap() error { return e.Err }

// source is everything an import needs, whatever the container.
type source struct {
	config   []byte // model_config JSON
	training []byte // training_config / compile_config JSON
	version  string
	backend  string
	weights  weightSource
}

// Import reads a Keras model: a whole-model HDF5 file (Keras 1, 2,
// tf.keras), a Keras 3 .keras archive, or a JSON architecture
// (model.to_json()) with opts.Weights holding its weights.
func Import(path string, opts Options) (*ir.Graph, error) {
	g, err := importFile(path, opts)
	if err != nil {
		var ue *UnsupportedError
		if errors.As(err, &ue) {
			ue.File = path
			return nil, ue
		}
		var ie *ImportError
		if errors.As(err, &ie) {
			return nil, err
		}
		return nil, &ImportError{File: path, Err: err}
	}
	g.Meta["source_file"] = path
	return g, nil
}

func importFile(path string, opts Options) (*ir.Graph, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	head := make([]byte, 8)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("\x89HDF")):
		hf, err := hdf5.Open(path)
		if err != nil {
			return nil, err
		}
		defer hf.Close()
		src, err := h5Source(hf)
		if err != nil {
			return nil, err
		}
		return importSource(src, opts)
	case bytes.HasPrefix(head, []byte("PK")):
		st, err := f.Stat()
		if err != nil {
			return nil, err
		}
		src, closer, err := kerasArchive(f, st.Size())
		if err != nil {
			return nil, err
		}
		defer closer()
		return importSource(src, opts)
	}
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > maxConfigBytes {
		return nil, fmt.Errorf("%d bytes is too large for a JSON model config", st.Size())
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, err
	}
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		return nil, fmt.Errorf("not a Keras model: expected an HDF5 file, a .keras archive or a JSON architecture")
	}
	src := &source{config: b}
	if opts.Weights != "" {
		wf, err := openWeightsFile(opts.Weights)
		if err != nil {
			return nil, &ImportError{File: opts.Weights, Err: err}
		}
		defer wf.Close()
		ws, version, backend, err := h5WeightsOnly(wf.Root())
		if err != nil {
			return nil, &ImportError{File: opts.Weights, Err: err}
		}
		src.weights, src.version, src.backend = ws, version, backend
	}
	g, err := importSource(src, opts)
	var we *weightsError
	if opts.Weights != "" && errors.As(err, &we) {
		return nil, &ImportError{File: opts.Weights, Err: fmt.Errorf("as the weights of %s: %w", path, err)}
	}
	return g, err
}

// openWeightsFile opens an HDF5 weights file; its errors leave the path
// out (the caller's ImportError names it).
func openWeightsFile(path string) (*hdf5.File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, errors.Unwrap(err) // the *PathError's cause
	}
	head := make([]byte, 8)
	n, _ := io.ReadFull(fh, head)
	fh.Close()
	if !bytes.HasPrefix(head[:n], []byte("\x89HDF")) {
		what := "not an HDF5 file"
		if t := bytes.TrimSpace(head[:n]); len(t) > 0 && t[0] == '{' {
			what = "a JSON file, not HDF5"
		}
		return nil, fmt.Errorf("%s: the weights must be a Keras HDF5 weights file (model.save_weights)", what)
	}
	f, err := hdf5.Open(path)
	if err != nil {
		if u := errors.Unwrap(err); u != nil && strings.HasPrefix(err.Error(), path+": ") {
			err = u // hdf5.Open prefixes the path
		}
		return nil, err
	}
	return f, nil
}

// h5Source reads a whole-model HDF5 file.
func h5Source(f *hdf5.File) (*source, error) {
	root := f.Root()
	cfgStr, ok, err := attrString(root, "model_config")
	if err != nil {
		return nil, err
	}
	if !ok {
		if _, found, _ := attrStrings(root, "layer_names"); found {
			return nil, fmt.Errorf("this is a weights-only file (save_weights): import the JSON architecture and pass this file as the weights")
		}
		return nil, fmt.Errorf("no model_config attribute: not a Keras whole-model file")
	}
	src := &source{config: []byte(cfgStr)}
	if s, ok, _ := attrString(root, "training_config"); ok {
		src.training = []byte(s)
	}
	src.version, _, _ = attrString(root, "keras_version")
	src.backend, _, _ = attrString(root, "backend")
	wg := root
	if g, err := root.Group("model_weights"); err == nil {
		wg = g
	}
	if v, ok, _ := attrString(wg, "keras_version"); ok && src.version == "" {
		src.version = v
	}
	if v, ok, _ := attrString(wg, "backend"); ok && src.backend == "" {
		src.backend = v
	}
	ws, err := newH5Weights(wg)
	if err != nil {
		return nil, fmt.Errorf("model_weights: %w", err)
	}
	src.weights = ws
	return src, nil
}

// h5WeightsOnly opens a weights file in the Keras 1/2 (layer_names) or
// Keras 3 (layers/<name>/vars) layout.
func h5WeightsOnly(root *hdf5.Group) (weightSource, string, string, error) {
	version, _, _ := attrString(root, "keras_version")
	backend, _, _ := attrString(root, "backend")
	if _, found, _ := attrStrings(root, "layer_names"); found {
		ws, err := newH5Weights(root)
		return ws, version, backend, err
	}
	if g, err := root.Group("model_weights"); err == nil {
		ws, err := newH5Weights(g)
		return ws, version, backend, err
	}
	for _, top := range []string{"layers", "_layer_checkpoint_dependencies"} {
		if _, err := root.Group(top); err == nil {
			return &k3Weights{root: root}, version, backend, nil
		}
	}
	return nil, "", "", fmt.Errorf("not a Keras weights file: no layer_names attribute and no layers group")
}

// ImportConfig builds a graph from a JSON architecture alone; the graph
// has no parameters (Meta["keras_weights"] = "none").
func ImportConfig(config []byte, opts Options) (*ir.Graph, error) {
	g, err := importSource(&source{config: config}, opts)
	if err != nil {
		var ue *UnsupportedError
		var ie *ImportError
		if errors.As(err, &ue) || errors.As(err, &ie) {
			return nil, err
		}
		return nil, &ImportError{Err: err}
	}
	return g, nil
}

func importSource(src *source, opts Options) (*ir.Graph, error) {
	top, err := decodeJSON(src.config)
	if err != nil {
		return nil, err
	}
	if src.version == "" {
		src.version, _ = top["keras_version"].(string)
	}
	if src.backend == "" {
		src.backend, _ = top["backend"].(string)
	}
	// a Keras 3 config.json may carry the compile config
	if src.training == nil {
		if cc, ok := top["compile_config"].(map[string]any); ok {
			src.training = mustJSON(cc)
		}
	}
	m, err := newParser(src.version).parseModel(top, 0)
	if err != nil {
		return nil, err
	}
	var unsup []UnsupportedLayer
	scanUnsupported(m, "", &unsup)
	if len(unsup) > 0 {
		return nil, &UnsupportedError{Layers: unsup}
	}
	b := newBuilder(src.weights)
	_, hasModule := top["module"]
	b.keras3 = strings.HasPrefix(src.version, "3") || hasModule
	backend := src.backend
	if opts.Backend != "" {
		backend = opts.Backend
	}
	b.theano = backend == "theano"
	b.g.Name = m.Name
	outs, err := b.buildModel(m, "", nil, nil)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(m.Outputs))
	for i, r := range m.Outputs {
		names[i] = r.Layer
	}
	tc := parseTraining(src.training)
	if err := b.finishOutputs(outs, names, tc, opts.Strict); err != nil {
		return nil, err
	}
	b.g.Train = tc.trainConfig()
	meta := b.g.Meta
	meta["source_format"] = "keras"
	if src.version != "" {
		meta["keras_version"] = src.version
	}
	if backend == "" {
		backend = "tensorflow"
		if !b.keras3 {
			meta["keras_backend_assumed"] = "true"
		}
	}
	meta["keras_backend"] = backend
	if src.weights == nil {
		meta["keras_weights"] = "none"
	}
	if len(b.warnings) > 0 {
		meta["keras_warnings"] = strings.Join(b.warnings, "\n")
	}
	if len(b.shared) > 0 {
		sort.Strings(b.shared)
		meta["keras_shared_layers"] = strings.Join(b.shared, "\n")
	}
	if src.weights != nil {
		if err := b.g.Validate(); err != nil {
			return nil, fmt.Errorf("imported graph does not validate: %w", err)
		}
	}
	return b.g, nil
}

// ImportBytes reads a model held in memory: whole-model HDF5, a .keras
// archive, or a JSON architecture (imported without weights).
func ImportBytes(data []byte, opts Options) (*ir.Graph, error) {
	var src *source
	switch {
	case bytes.HasPrefix(data, []byte("\x89HDF")):
		hf, err := hdf5.OpenReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return nil, &ImportError{Err: err}
		}
		defer hf.Close()
		if src, err = h5Source(hf); err != nil {
			return nil, &ImportError{Err: err}
		}
	case bytes.HasPrefix(data, []byte("PK")):
		s, closer, err := kerasArchive(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return nil, &ImportError{Err: err}
		}
		defer closer()
		src = s
	default:
		return ImportConfig(data, opts)
	}
	g, err := importSource(src, opts)
	if err != nil {
		var ue *UnsupportedError
		if errors.As(err, &ue) {
			return nil, err
		}
		return nil, &ImportError{Err: err}
	}
	return g, nil
}
