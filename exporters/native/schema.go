package native

import (
	"encoding/json"

	"github.com/retarget-dev/retarget/ir"
)

// FormatName identifies an .rtm archive in meta.json.
const FormatName = "retarget.rtm"

// FormatVersion is the version this package writes and the newest it reads.
const FormatVersion = 1

// Entry names inside the archive.
const (
	entryMeta    = "meta.json"
	entryGraph   = "graph.json"
	entryWeights = "weights.safetensors"
	entryState   = "state.safetensors"
)

type metaJSON struct {
	Format        string  `json:"format"`
	FormatVersion int     `json:"format_version"`
	SourceFormat  string  `json:"source_format,omitempty"`
	CreatedBy     creator `json:"created_by"`
}

type creator struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type graphJSON struct {
	Name     string            `json:"name,omitempty"`
	Inputs   []ir.Input        `json:"inputs"`
	Outputs  []ir.GraphOutput  `json:"outputs"`
	Vertices []vertexJSON      `json:"vertices"`
	Train    *ir.TrainConfig   `json:"train,omitempty"`
	Step     int64             `json:"step,omitempty"`
	Meta     map[string]string `json:"meta,omitempty"`
}

type vertexJSON struct {
	Name   string          `json:"name"`
	Layer  json.RawMessage `json:"layer"`
	Inputs []string        `json:"inputs"`
	Frozen bool            `json:"frozen,omitempty"`
	Train  *ir.TrainConfig `json:"train,omitempty"`
	// Params and State name the vertex's tensors; their keys in the
	// safetensors entries are "<vertex>/<name>".
	Params []string `json:"params,omitempty"`
	State  []string `json:"state,omitempty"`
}

func tensorKey(vertex, name string) string { return vertex + "/" + name }
