package keras

import (
	"fmt"
	"strings"

	"github.com/retarget-dev/retarget/ir"
)

func init() {
	register(mapRNN, "SimpleRNN", "LSTM", "GRU", "CuDNNLSTM", "CuDNNGRU")
	register(mapBidirectional, "Bidirectional")
	register(mapTimeDistributed, "TimeDistributed")
}

func mapRNN(c *call) (tensor, error) {
	t, err := c.sequenceInput()
	if err != nil {
		return tensor{}, err
	}
	l, params, err := c.recurrent(c.l, "", t.shape[1])
	if err != nil {
		return tensor{}, err
	}
	out, err := c.add(l, params, t)
	if err != nil || !c.l.Cfg.boolean(false, "return_state") {
		return out, err
	}
	// return_state: [output, h] (SimpleRNN, GRU) or [output, h, c] (LSTM).
	// h is the last step of the output (the step the sequence mask keeps
	// last); the LSTM cell state is not an output of the IR's LSTM.
	h := out
	if len(out.shape) == 2 {
		if h, err = c.aux("state", &ir.LastTimeStep{}, out); err != nil {
			return tensor{}, err
		}
	}
	c.extra = append(c.extra, h)
	if _, ok := l.(*ir.LSTM); ok {
		c.extra = append(c.extra, tensor{shape: h.shape, unsupported: fmt.Sprintf("the cell state of LSTM %q (return_state's third output), which the importer does not build", c.l.Name)})
	}
	return out, nil
}

// sequenceInput returns the single [time, features] input of a recurrent
// layer, in Keras's layout.
func (c *call) sequenceInput() (tensor, error) {
	t, err := c.one()
	if err != nil {
		return tensor{}, err
	}
	if t, err = c.plain(t); err != nil {
		return tensor{}, err
	}
	if len(t.shape) != 2 {
		return tensor{}, c.errf("needs a [time, features] input, got %v", t.shape)
	}
	return t, nil
}

// recurrent maps a SimpleRNN/LSTM/GRU config (l, possibly the layer inside
// a Bidirectional) and reads its weights among those whose name contains
// filter, for input feature size f.
func (c *call) recurrent(l *kLayer, filter string, f int) (ir.Layer, map[string]*ir.Tensor, error) {
	cf := l.Cfg
	if cf.boolean(false, "return_state") && l != c.l {
		return nil, nil, c.errf("return_state inside Bidirectional is not supported")
	}
	if cf.boolean(false, "stateful") {
		c.b.warn("layer %q: stateful is ignored; every batch starts from a zero state", l.Name)
	}
	units, err := cf.integer(0, "units", "output_dim")
	if err != nil || units <= 0 {
		return nil, nil, c.errf("needs positive units")
	}
	actName, err := activationName(orDefault(cf, "tanh", "activation"))
	if err != nil {
		return nil, nil, c.errf("%v", err)
	}
	act, err := convertActivation(actName, c.b.keras3)
	if err != nil {
		return nil, nil, c.errf("%v", err)
	}
	recName, err := activationName(orDefault(cf, "sigmoid", "recurrent_activation", "inner_activation"))
	if err != nil {
		return nil, nil, c.errf("%v", err)
	}
	rec, err := convertActivation(recName, c.b.keras3)
	if err != nil {
		return nil, nil, c.errf("%v", err)
	}
	seq := cf.boolean(false, "return_sequences")
	back := cf.boolean(false, "go_backwards")
	bias := cf.boolean(true, "use_bias", "bias")
	class := strings.TrimPrefix(l.Class, "CuDNN")
	gates := map[string]int{"SimpleRNN": 1, "LSTM": 4, "GRU": 3}[class]
	var layer ir.Layer
	resetAfter := false
	switch class {
	case "SimpleRNN":
		layer = &ir.SimpleRNN{Units: units, Activation: act, ReturnSequences: seq, GoBackwards: back, NoBias: !bias}
	case "LSTM":
		layer = &ir.LSTM{Units: units, Activation: act, RecurrentActivation: rec, ReturnSequences: seq,
			GoBackwards: back, NoBias: !bias, UnitForgetBias: cf.boolean(true, "unit_forget_bias")}
	case "GRU":
		// Keras 1 and 2 default to reset_after=False, Keras 3 and CuDNNGRU to True.
		resetAfter = cf.boolean(c.b.keras3 || l.Class == "CuDNNGRU", "reset_after")
		layer = &ir.GRU{Units: units, Activation: act, RecurrentActivation: rec, ReturnSequences: seq,
			GoBackwards: back, ResetAfter: resetAfter, NoBias: !bias}
	default:
		return nil, nil, c.errf("unknown recurrent layer")
	}
	if !c.hasWeights() {
		return layer, nil, nil
	}
	G := gates * units
	params := map[string]*ir.Tensor{}
	if perGate := c.perGateNames(class, filter); perGate != nil {
		// Keras 1: one W, U, b per gate, e.g. W_i, U_i, b_i, W_c, ...
		var Ws, Us, bs []*kWeight
		for _, g := range perGate {
			for _, p := range []struct {
				n    string
				dst  *[]*kWeight
				want []int
			}{{"W" + g, &Ws, []int{f, units}}, {"U" + g, &Us, []int{units, units}}, {"b" + g, &bs, []int{units}}} {
				if !bias && p.n[0] == 'b' {
					continue
				}
				w, err := c.weight(0, filter, p.n)
				if err != nil {
					return nil, nil, err
				}
				if err := c.expect(w, p.want...); err != nil {
					return nil, nil, err
				}
				*p.dst = append(*p.dst, w)
			}
		}
		d, s := concatCols(Ws...)
		params["W"] = ir.FromData(d, s...)
		d, s = concatCols(Us...)
		params["R"] = ir.FromData(d, s...)
		if bias {
			d, s = concatCols(bs...)
			params["b"] = ir.FromData(d, s...)
		}
		return layer, params, nil
	}
	k, err := c.weight(0, filter, "kernel", "W")
	if err != nil {
		return nil, nil, err
	}
	if err := c.expect(k, f, G); err != nil {
		return nil, nil, err
	}
	r, err := c.weight(1, filter, "recurrent_kernel", "U")
	if err != nil {
		return nil, nil, err
	}
	if err := c.expect(r, units, G); err != nil {
		return nil, nil, err
	}
	params["W"], params["R"] = c.tensorOf(k), c.tensorOf(r)
	if bias {
		b, err := c.weight(2, filter, "bias", "b")
		if err != nil {
			return nil, nil, err
		}
		if strings.HasPrefix(l.Class, "CuDNN") {
			// CuDNN layers keep input and recurrent biases: [2*G]
			if err := c.expect(b, 2*G); err != nil {
				return nil, nil, err
			}
			if class == "LSTM" {
				sum := make([]float32, G)
				for i := range sum {
					sum[i] = b.data[i] + b.data[G+i]
				}
				params["b"] = ir.FromData(sum, G)
			} else {
				params["b"] = ir.FromData(append([]float32(nil), b.data...), 2, G)
			}
		} else if resetAfter {
			if err := c.expect(b, 2, G); err != nil {
				return nil, nil, err
			}
			params["b"] = c.tensorOf(b)
		} else {
			if err := c.expect(b, G); err != nil {
				return nil, nil, err
			}
			params["b"] = c.tensorOf(b)
		}
	}
	return layer, params, nil
}

// perGateNames returns the Keras 1 gate suffixes in IR gate order when the
// file stores one weight per gate, else nil.
func (c *call) perGateNames(class, filter string) []string {
	gates := map[string][]string{"LSTM": {"_i", "_f", "_c", "_o"}, "GRU": {"_z", "_r", "_h"}}[class]
	if gates == nil {
		return nil
	}
	if err := c.load(); err != nil {
		return nil
	}
	for _, w := range c.w {
		if strings.Contains(w.name, filter) && strings.HasSuffix(shortName(w.name), "W"+gates[0]) {
			return gates
		}
	}
	return nil
}

func orDefault(c cfg, def string, names ...string) any {
	if v, ok := c.raw(names...); ok {
		return v
	}
	return def
}

func mapBidirectional(c *call) (tensor, error) {
	t, err := c.sequenceInput()
	if err != nil {
		return tensor{}, err
	}
	inner, err := innerLayer(c.l)
	if err != nil {
		return tensor{}, c.errf("%v", err)
	}
	mode := c.l.Cfg.str("concat", "merge_mode")
	merge := map[string]ir.BiMerge{"concat": ir.BiConcat, "sum": ir.BiSum, "mul": ir.BiMul, "ave": ir.BiAverage}[mode]
	if merge == "" {
		return tensor{}, c.errf("merge_mode %q is not supported", mode)
	}
	fw, fwP, err := c.recurrent(inner, "forward", t.shape[1])
	if err != nil {
		return tensor{}, err
	}
	var params map[string]*ir.Tensor
	if c.hasWeights() {
		_, bwP, err := c.recurrent(inner, "backward", t.shape[1])
		if err != nil {
			return tensor{}, err
		}
		params = map[string]*ir.Tensor{}
		for k, v := range fwP {
			params["fw/"+k] = v
		}
		for k, v := range bwP {
			params["bw/"+k] = v
		}
	}
	return c.add(&ir.Bidirectional{Layer: fw, Merge: merge}, params, t)
}

// mapTimeDistributed maps a per-step layer: IR Dense already applies to
// the last axis of [T, F], so the inner layer maps as is.
func mapTimeDistributed(c *call) (tensor, error) {
	inner, err := innerLayer(c.l)
	if err != nil {
		return tensor{}, c.errf("%v", err)
	}
	if !tdInner[inner.Class] {
		return tensor{}, c.errf("wraps %s; only per-step layers such as Dense are supported", inner.Class)
	}
	m := mappers[inner.Class]
	if _, ok := inner.Cfg["trainable"]; !ok {
		inner.Cfg["trainable"] = c.l.Cfg.boolean(true, "trainable")
	}
	ic := &call{b: c.b, l: inner, name: c.name, in: c.in, wpath: c.wpath, frozen: c.frozen}
	t, err := c.one()
	if err != nil {
		return tensor{}, err
	}
	if ic.in[0], err = c.plain(t); err != nil {
		return tensor{}, err
	}
	out, err := m(ic)
	if err != nil {
		return tensor{}, err
	}
	// the outer call checks that every weight was used
	c.w, c.used, c.loaded = ic.w, ic.used, ic.loaded
	return out, nil
}
