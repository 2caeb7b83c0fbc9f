package onnx

import (
	"fmt"
	"math"

	"github.com/retarget-dev/retarget/ir"
)

func init() {
	register("LSTM", 1, func(c *converter, n *node) error { return c.recurrent(n, 4) })
	register("GRU", 1, func(c *converter, n *node) error { return c.recurrent(n, 3) })
	register("RNN", 1, func(c *converter, n *node) error { return c.recurrent(n, 1) })
}

// gatePerm[g][j] is the ONNX gate block that IR (Keras-order) gate j reads:
// LSTM ONNX i,o,f,c -> IR i,f,c,o; GRU z,r,h in both.
var gatePerm = map[int][]int{1: {0}, 3: {0, 1, 2}, 4: {0, 2, 3, 1}}

var onnxActs = map[string]ir.ActKind{
	"Sigmoid": ir.ActSigmoid, "Tanh": ir.ActTanh, "Relu": ir.ActReLU, "Softsign": ir.ActSoftsign,
	"Softplus": ir.ActSoftplus, "HardSigmoid": ir.ActHardSigmoid, "Elu": ir.ActELU, "LeakyRelu": ir.ActLeakyReLU,
}

func rnnActs(n *node, gates int) ([]ir.Activation, error) {
	defs := map[int][]string{1: {"Tanh"}, 3: {"Sigmoid", "Tanh"}, 4: {"Sigmoid", "Tanh", "Tanh"}}[gates]
	names := defs
	if a := n.attr("activations"); a != nil && len(a.GetStrings()) > 0 {
		names = nil
		for _, s := range a.GetStrings() {
			names = append(names, string(s))
		}
	}
	if len(n.ints("activation_alpha")) > 0 || n.attr("activation_alpha") != nil && len(n.attr("activation_alpha").GetFloats()) > 0 {
		return nil, fmt.Errorf("activation_alpha/beta are not supported")
	}
	per := len(defs)
	if len(names) != per && len(names) != 2*per {
		return nil, fmt.Errorf("activations %v", names)
	}
	if len(names) == 2*per {
		for k := 0; k < per; k++ {
			if names[k] != names[k+per] {
				return nil, fmt.Errorf("different activations per direction %v", names)
			}
		}
	}
	out := make([]ir.Activation, per)
	for k := 0; k < per; k++ {
		kind, ok := onnxActs[names[k]]
		if !ok {
			return nil, fmt.Errorf("activation %q", names[k])
		}
		out[k] = ir.Act(kind)
		switch kind {
		case ir.ActHardSigmoid:
			out[k].Alpha, out[k].Beta = 0.2, 0.5
		case ir.ActLeakyReLU:
			out[k].Alpha = 0.01
		case ir.ActELU:
			out[k].Alpha = 1
		}
	}
	return out, nil
}

func (c *converter) recurrent(n *node, gates int) error {
	op := n.GetOpType()
	if n.float("clip", 0) != 0 || n.attr("clip") != nil {
		return fmt.Errorf("clip is not supported")
	}
	if n.int("input_forget", 0) != 0 {
		return fmt.Errorf("input_forget is not supported")
	}
	if gates == 4 && n.out(2) != "" && c.uses[n.out(2)] > 0 {
		return fmt.Errorf("the cell state output Y_c is used; only Y and Y_h are supported")
	}
	d, err := c.dynIn(n, 0)
	if err != nil {
		return err
	}
	layout := int(n.int("layout", 0))
	wantBatch := 1
	if layout == 1 {
		wantBatch = 0
	}
	if len(d.shape) != 3 || d.batch != wantBatch {
		return fmt.Errorf("input %v has its batch on axis %d; %s layout %d needs it on axis %d (export with batch_first and a dynamic batch, or check the input)", d.shape, d.batch, op, layout, wantBatch)
	}
	w, err := c.constIn(n, 1, "W")
	if err != nil {
		return err
	}
	r, err := c.constIn(n, 2, "R")
	if err != nil {
		return err
	}
	b, err := c.optConst(n, 3, "B")
	if err != nil {
		return err
	}
	if n.in(4) != "" {
		return fmt.Errorf("sequence_lens is not supported")
	}
	for _, k := range []int{5, 6} {
		if k == 6 && gates != 4 {
			continue
		}
		if n.in(k) == "" {
			continue
		}
		v, ok := c.consts[n.in(k)]
		if !ok {
			return fmt.Errorf("initial state %q must be zero (constant)", n.in(k))
		}
		for _, x := range v.floats() {
			if x != 0 {
				return fmt.Errorf("non-zero initial state %q is not supported", n.in(k))
			}
		}
	}
	var p *cval
	if gates == 4 {
		if p, err = c.optConst(n, 7, "P"); err != nil {
			return err
		}
	}
	dirs := 1
	dir := n.str("direction", "forward")
	switch dir {
	case "forward", "reverse":
	case "bidirectional":
		dirs = 2
	default:
		return fmt.Errorf("direction %q", dir)
	}
	h := int(n.int("hidden_size", 0))
	if len(w.shape) != 3 || w.shape[0] != dirs || h <= 0 || w.shape[1] != gates*h {
		return fmt.Errorf("W shape %v for %d direction(s), %d gates, hidden_size %d", w.shape, dirs, gates, h)
	}
	f := w.shape[2]
	if !ir.SameShape(r.shape, []int{dirs, gates * h, h}) {
		return fmt.Errorf("R shape %v", r.shape)
	}
	if b != nil && !ir.SameShape(b.shape, []int{dirs, 2 * gates * h}) {
		return fmt.Errorf("B shape %v", b.shape)
	}
	if p != nil && !ir.SameShape(p.shape, []int{dirs, 3 * h}) {
		return fmt.Errorf("P shape %v", p.shape)
	}
	acts, err := rnnActs(n, gates)
	if err != nil {
		return err
	}
	lbr := n.int("linear_before_reset", 0) == 1
	mk := func(seq bool) ir.Layer {
		switch gates {
		case 4:
			if acts[1] != acts[2] {
				return nil
			}
			return &ir.LSTM{Units: h, Activation: acts[1], RecurrentActivation: acts[0], ReturnSequences: seq,
				GoBackwards: dir == "reverse", Peephole: p != nil}
		case 3:
			return &ir.GRU{Units: h, Activation: acts[1], RecurrentActivation: acts[0], ReturnSequences: seq,
				GoBackwards: dir == "reverse", ResetAfter: lbr}
		}
		return &ir.SimpleRNN{Units: h, Activation: acts[0], ReturnSequences: seq, GoBackwards: dir == "reverse"}
	}
	if mk(false) == nil {
		return fmt.Errorf("LSTM with different cell and hidden activations is not supported")
	}
	perm := gatePerm[gates]
	wf, rf := w.floats(), r.floats()
	params := map[string]*ir.Tensor{}
	for dd := 0; dd < dirs; dd++ {
		prefix := ""
		if dirs == 2 {
			prefix = []string{"fw/", "bw/"}[dd]
		}
		W := make([]float32, f*gates*h)
		R := make([]float32, h*gates*h)
		for j, src := range perm {
			for u := 0; u < h; u++ {
				row := dd*gates*h + src*h + u
				for k := 0; k < f; k++ {
					W[k*gates*h+j*h+u] = float32(wf[row*f+k])
				}
				for k := 0; k < h; k++ {
					R[k*gates*h+j*h+u] = float32(rf[row*h+k])
				}
			}
		}
		params[prefix+"W"] = tensorOf([]int{f, gates * h}, W)
		params[prefix+"R"] = tensorOf([]int{h, gates * h}, R)
		var bf []float64
		if b != nil {
			bf = b.floats()[dd*2*gates*h : (dd+1)*2*gates*h]
		} else {
			bf = make([]float64, 2*gates*h)
		}
		if gates == 3 && lbr {
			B := make([]float32, 2*gates*h)
			for j, src := range perm {
				for u := 0; u < h; u++ {
					B[j*h+u] = float32(bf[src*h+u])
					B[gates*h+j*h+u] = float32(bf[gates*h+src*h+u])
				}
			}
			params[prefix+"b"] = tensorOf([]int{2, gates * h}, B)
		} else {
			B := make([]float32, gates*h)
			for j, src := range perm {
				for u := 0; u < h; u++ {
					B[j*h+u] = float32(bf[src*h+u] + bf[gates*h+src*h+u])
				}
			}
			params[prefix+"b"] = tensorOf([]int{gates * h}, B)
		}
		if p != nil {
			pf := p.floats()[dd*3*h : (dd+1)*3*h]
			P := make([]float32, 3*h)
			for j, src := range []int{0, 2, 1} { // ONNX i,o,f -> IR i,f,o
				for u := 0; u < h; u++ {
					P[j*h+u] = float32(pf[src*h+u])
				}
			}
			params[prefix+"P"] = tensorOf([]int{3 * h}, P)
		}
	}
	x, err := c.mat(d)
	if err != nil {
		return err
	}
	build := func(seq bool, base string, ps map[string]*ir.Tensor) (string, error) {
		l := mk(seq)
		if dirs == 2 {
			l = &ir.Bidirectional{Layer: l, Merge: ir.BiConcat}
		}
		return c.add(base, l, []string{x}, ps)
	}
	useY := n.out(0) != "" && c.uses[n.out(0)] > 0
	useH := n.out(1) != "" && c.uses[n.out(1)] > 0
	t := d.shape[1-wantBatch]
	if useY {
		v, err := build(true, n.label, params)
		if err != nil {
			return err
		}
		if dir == "reverse" {
			// IR returns a backwards layer's outputs in reading order;
			// ONNX aligns them with the input time steps.
			v, err = c.add(n.label+"/align", &ir.Slice{Axes: []int{0}, Starts: []int{-1}, Ends: []int{math.MinInt32}, Steps: []int{-1}}, []string{v}, nil)
			if err != nil {
				return err
			}
		}
		if layout == 0 {
			c.vals[n.out(0)] = &dyn{v: v, shape: []int{t, dirs, -1, h}, batch: 2}
		} else {
			c.vals[n.out(0)] = &dyn{v: v, shape: []int{-1, t, dirs, h}, batch: 0}
		}
	}
	if useH {
		base, ps := n.label, params
		if useY {
			base = n.label + "_h"
			ps = map[string]*ir.Tensor{}
			for k, v := range params {
				ps[k] = v.Clone()
			}
		}
		v, err := build(false, base, ps)
		if err != nil {
			return err
		}
		if layout == 0 {
			c.vals[n.out(1)] = &dyn{v: v, shape: []int{dirs, -1, h}, batch: 1}
		} else {
			c.vals[n.out(1)] = &dyn{v: v, shape: []int{-1, dirs, h}, batch: 0}
		}
	}
	return nil
}
