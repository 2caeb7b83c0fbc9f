package onnx

import (
	"fmt"
	"sort"
)

// handler converts one node; c.opset is the model's opset.
type handler func(c *converter, n *node) error

// opVersion is a handler for the versions of an op from since on (up to
// the next registered version).
type opVersion struct {
	since int
	h     handler
}

// handlers holds every op's versions, by op type, in ascending since order.
var handlers = map[string][]opVersion{}

// register adds the handler of op for models whose opset is since or
// newer (until a later version of the op is registered). since is the
// opset in which ONNX introduced that version of the op. Registering one
// (op, since) twice panics.
func register(op string, since int, h handler) {
	vs := handlers[op]
	for _, v := range vs {
		if v.since == since {
			panic(fmt.Sprintf("onnx: handler for %s (opset %d) registered twice", op, since))
		}
	}
	vs = append(vs, opVersion{since, h})
	sort.Slice(vs, func(i, j int) bool { return vs[i].since < vs[j].since })
	handlers[op] = vs
}

// handlerFor returns the newest version of op registered at or below
// opset, or nil and the first opset that has one (0 if none does).
func handlerFor(op string, opset int) (handler, int) {
	vs := handlers[op]
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].since <= opset {
			return vs[i].h, 0
		}
	}
	if len(vs) > 0 {
		return nil, vs[0].since
	}
	return nil, 0
}

// SupportedOps lists the default-domain op types the importer converts,
// each with the opset its first registered version starts at.
func SupportedOps() map[string]int {
	out := map[string]int{}
	for op, vs := range handlers {
		out[op] = vs[0].since
	}
	for op := range foldable {
		if _, ok := out[op]; !ok {
			out[op] = 1
		}
	}
	out["Shape"] = 1
	return out
}
