package keras

import (
	"fmt"
	"strings"

	"github.com/retarget-dev/retarget/ir"
)

// call is one application of a Keras layer, handed to its mapper.
type call struct {
	b      *builder
	l      *kLayer
	name   string // the vertex name
	in     []tensor
	wpath  []string // the layer's path in the weights file
	frozen bool
	kwargs map[string]any // the call's keyword arguments

	w      []kWeight
	loaded bool
	used   []bool

	// extra are the call's outputs after the first (return_state)
	extra []tensor
}

// mapper converts one call into vertices and returns its output tensor.
type mapper func(c *call) (tensor, error)

func (c *call) errf(format string, args ...any) error {
	return fmt.Errorf("layer %q (%s): %s", c.l.Name, c.l.Class, fmt.Sprintf(format, args...))
}

// weightsErrf is errf for a problem with the layer's weights rather than
// its config, so that an import naming a separate weights file blames it.
func (c *call) weightsErrf(format string, args ...any) error {
	return &weightsError{c.errf(format, args...)}
}

// weightsError marks a problem in the weights, not the architecture.
type weightsError struct{ err error }

func (e *weightsError) Error() string { return e.err.Error() }
func (e *weightsError) Unwrap() error { return e.err }

func (c *call) one() (tensor, error) {
	if len(c.in) != 1 {
		return tensor{}, c.errf("takes 1 input, got %d", len(c.in))
	}
	return c.in[0], nil
}

// add adds the main vertex of the call.
func (c *call) add(l ir.Layer, params map[string]*ir.Tensor, in ...tensor) (tensor, error) {
	if c.b.src == nil {
		params = nil
	}
	t, err := c.b.addVertex(c.name, l, in, params, c.frozen)
	if err != nil {
		return tensor{}, err
	}
	return t, nil
}

// aux adds a helper vertex named after the call.
func (c *call) aux(suffix string, l ir.Layer, in ...tensor) (tensor, error) {
	return c.b.addAux(c.name+"_"+suffix, l, in...)
}

func (c *call) plain(t tensor) (tensor, error) { return c.b.toPlain(t, c.name) }
func (c *call) cl(t tensor) (tensor, error)    { return c.b.toCL(t, c.name) }

// spatial returns the input in the form a spatial layer with this data
// format works on in the IR (channels first), and the output form.
func (c *call) spatial(t tensor) (tensor, formKind, error) {
	if channelsFirst(c.l.Cfg) {
		p, err := c.plain(t)
		return p, formPlain, err
	}
	x, err := c.cl(t)
	return x, formCL, err
}

// hasWeights reports whether parameters are being imported at all.
func (c *call) hasWeights() bool { return c.b.src != nil }

func (c *call) load() error {
	if c.loaded || c.b.src == nil {
		return nil
	}
	c.loaded = true
	ws, err := c.b.src.layerWeights(c.wpath)
	if err != nil {
		return c.weightsErrf("reading weights: %v", err)
	}
	c.w = ws
	c.used = make([]bool, len(ws))
	return nil
}

// numericNames reports Keras 3 weights, which are named by position only.
func (c *call) numericNames() bool {
	for _, w := range c.w {
		if !isPositional(w.name) {
			return false
		}
	}
	return true
}

func isPositional(name string) bool {
	i := strings.LastIndex(name, "/")
	s := name[i+1:]
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func shortName(name string) string {
	s := name
	if i := strings.LastIndex(s, "/"); i >= 0 {
		s = s[i+1:]
	}
	if i := strings.Index(s, ":"); i >= 0 {
		s = s[:i]
	}
	return s
}

// weight returns the layer's weight called one of names (Keras 2 "kernel",
// Keras 1 "W" written as "<layer>_W"), or, for Keras 3 files whose weights
// are numbered, the one at position pos among those left after filter.
func (c *call) weight(pos int, filter string, names ...string) (*kWeight, error) {
	if err := c.load(); err != nil {
		return nil, err
	}
	var idx []int
	for i, w := range c.w {
		if filter == "" || strings.Contains(w.name, filter) {
			idx = append(idx, i)
		}
	}
	if c.numericNames() {
		if pos < len(idx) {
			c.used[idx[pos]] = true
			return &c.w[idx[pos]], nil
		}
		return nil, c.weightsErrf("the weights file holds %d weights for it, weight %d (%s) is missing", len(idx), pos, names[0])
	}
	for _, n := range names {
		for _, i := range idx {
			if shortName(c.w[i].name) == n {
				c.used[i] = true
				return &c.w[i], nil
			}
		}
	}
	for _, n := range names {
		for _, i := range idx {
			if strings.HasSuffix(shortName(c.w[i].name), "_"+n) {
				c.used[i] = true
				return &c.w[i], nil
			}
		}
	}
	var have []string
	for _, i := range idx {
		have = append(have, c.w[i].name)
	}
	return nil, c.weightsErrf("no weight named %s among %v", strings.Join(names, " or "), have)
}

func (c *call) checkAllWeightsUsed() error {
	if !c.loaded {
		if c.b.src == nil {
			return nil
		}
		if err := c.load(); err != nil {
			return err
		}
	}
	var extra []string
	for i, u := range c.used {
		if !u {
			extra = append(extra, fmt.Sprintf("%s %v", c.w[i].name, c.w[i].shape))
		}
	}
	if len(extra) > 0 {
		return c.weightsErrf("the file holds weights the importer did not use: %s", strings.Join(extra, ", "))
	}
	return nil
}

// expect checks a Keras weight's shape before any layout conversion.
func (c *call) expect(w *kWeight, want ...int) error {
	if !ir.SameShape(w.shape, want) {
		return c.weightsErrf("weight %s has shape %v, the layer config needs %v", w.name, w.shape, want)
	}
	return nil
}
