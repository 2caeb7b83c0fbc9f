package native

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/retarget-dev/retarget/internal/atomicfile"
	"github.com/retarget-dev/retarget/internal/version"
	"github.com/retarget-dev/retarget/ir"
)

// Export writes g to path atomically: a temporary file in the same folder is
// written, synced and renamed over path, so a failed save leaves any
// existing file untouched.
func Export(path string, g *ir.Graph) error {
	if err := atomicfile.Write(path, func(w io.Writer) error { return ExportTo(w, g) }); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	return nil
}

// ExportTo writes g to w as an .rtm archive. It refuses a graph that does
// not validate, since Import would refuse the result.
func ExportTo(w io.Writer, g *ir.Graph) error {
	if err := g.Validate(); err != nil {
		return err
	}
	gj := graphJSON{Name: g.Name, Inputs: g.Inputs, Outputs: g.Outputs, Train: g.Train, Step: g.Step, Meta: g.Meta}
	var weights, state []namedTensor
	for _, v := range g.Vertices {
		lb, err := ir.MarshalLayer(v.Layer)
		if err != nil {
			return &ir.VertexError{Vertex: v.Name, Err: fmt.Errorf("encoding the layer config: %w", err)}
		}
		vj := vertexJSON{Name: v.Name, Layer: lb, Inputs: v.Inputs, Frozen: v.Frozen, Train: v.Train}
		for _, p := range v.ParamNames() {
			vj.Params = append(vj.Params, p)
			weights = append(weights, namedTensor{tensorKey(v.Name, p), v.Params[p]})
		}
		for _, s := range sortedKeys(v.State) {
			t := v.State[s]
			if t == nil {
				return &ir.VertexError{Vertex: v.Name, Err: fmt.Errorf("updater state %q is nil", s)}
			}
			vj.State = append(vj.State, s)
			state = append(state, namedTensor{tensorKey(v.Name, s), t})
		}
		gj.Vertices = append(gj.Vertices, vj)
	}
	meta := metaJSON{Format: FormatName, FormatVersion: FormatVersion, SourceFormat: g.Meta["source_format"],
		CreatedBy: creator{Name: version.Name, Version: version.String()}}

	zw := zip.NewWriter(w)
	if err := writeJSON(zw, entryMeta, meta); err != nil {
		return err
	}
	if err := writeJSON(zw, entryGraph, gj); err != nil {
		return err
	}
	stMeta := map[string]string{"format": "pt"} // what other safetensors readers expect
	for _, e := range []struct {
		name string
		ts   []namedTensor
	}{{entryWeights, weights}, {entryState, state}} {
		ew, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Store})
		if err != nil {
			return err
		}
		if err := writeSafetensors(ew, e.ts, stMeta); err != nil {
			return fmt.Errorf("%s: %w", e.name, err)
		}
	}
	return zw.Close()
}

func writeJSON(zw *zip.Writer, name string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	ew, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
	if err != nil {
		return err
	}
	_, err = ew.Write(b)
	return err
}

func sortedKeys(m map[string]*ir.Tensor) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
