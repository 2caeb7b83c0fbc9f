// Package native reads and writes retarget's own model file, ".rtm".
//
// An .rtm file is a zip archive with four entries:
//
//	meta.json          {"format":"retarget.rtm","format_version":1,"source_format":...,
//	                    "created_by":{"name":"retarget","version":...}}
//	graph.json         inputs, outputs, vertices (name, layer as ir.MarshalLayer writes
//	                   it, inputs, frozen flag, per-vertex train override, the names of
//	                   its parameters and updater-state tensors), the graph's training
//	                   (fine-tune) configuration, the updater step count and metadata
//	weights.safetensors parameters, keys "<vertex>/<param>", dtype F32
//	state.safetensors   updater state, keys "<vertex>/<param>/<slot>", dtype F32
//
// The safetensors entries are stored uncompressed, the JSON entries deflated.
// Reading never trusts the file: every size is checked against the archive
// before anything is allocated, and the loaded graph is validated.
package native
