package onnx

import (
	"fmt"

	"github.com/retarget-dev/retarget/ir"
)

// The sequence mask of Embedding(mask_zero) is a [N, T] float value (1 a
// real step) computed from the ids; it flows from vertex to vertex by the
// rules of ir.StopsMask and ir.MergesMasks, as in the engine, and the ops
// that honour it read it: attention (hidden keys, padded queries) and
// average pooling over time. A recurrent layer reached by a mask is
// refused: ONNX's sequence_lens holds a length, not Keras's mask.

// maskedKinds honour a mask in the engine and have no ONNX form for it.
func maskRefused(l ir.Layer) bool {
	switch l.(type) {
	case *ir.SimpleRNN, *ir.LSTM, *ir.GRU, *ir.Bidirectional, *ir.LastTimeStep, *ir.RnnOutput:
		return true
	}
	return false
}

// masksIn sets b.inMasks to the masks of v's inputs and checks that v can
// read them.
func (b *builder) masksIn(v *ir.Vertex) error {
	b.inMasks = b.inMasks[:0]
	b.outMask = ""
	any := false
	for _, n := range v.Inputs {
		b.inMasks = append(b.inMasks, b.mask[n])
		any = any || b.mask[n] != ""
	}
	if any && maskRefused(v.Layer) {
		return fmt.Errorf("a sequence mask (from an Embedding with mask_zero) reaches this %s: ONNX's sequence_lens cannot hold it; export to .rtm or Keras", v.Layer.Kind())
	}
	return nil
}

// firstMask is the first input mask that is set, or "".
func (b *builder) firstMask() string {
	for _, m := range b.inMasks {
		if m != "" {
			return m
		}
	}
	return ""
}

// masksOut records the mask of v's output.
func (b *builder) masksOut(v *ir.Vertex, inShapes [][]int) error {
	var m string
	switch {
	case b.outMask != "":
		m = b.outMask
	case ir.StopsMask(v.Layer) || maskRefused(v.Layer):
	case isGlobalPool(v.Layer):
	case ir.MergesMasks(v.Layer):
		var err error
		if m, err = b.mergeMasks(v, inShapes); err != nil {
			return err
		}
	default:
		m = b.firstMask()
	}
	if m != "" {
		b.mask[v.Name] = m
	}
	return nil
}

func isGlobalPool(l ir.Layer) bool {
	_, ok := l.(*ir.GlobalPool)
	return ok
}

// mergeMasks multiplies the masks of a merge's inputs, or concatenates
// them for a Concat along time (which needs every input masked).
func (b *builder) mergeMasks(v *ir.Vertex, inShapes [][]int) (string, error) {
	var set []string
	for _, m := range b.inMasks {
		if m != "" {
			set = append(set, m)
		}
	}
	if len(set) == 0 {
		return "", nil
	}
	if c, ok := v.Layer.(*ir.Concat); ok && len(inShapes[0]) >= 2 && (c.Axis == 0 || c.Axis == -len(inShapes[0])) {
		if len(set) != len(b.inMasks) {
			return "", fmt.Errorf("a Concat along time of masked and unmasked sequences: its mask has no ONNX form here; export to .rtm or Keras")
		}
		return b.op("Concat", "mask", set, b.tmp("mask"), aInt("axis", 1)), nil
	}
	m := set[0]
	for _, x := range set[1:] {
		m = b.op("Mul", "mask", []string{m, x}, b.tmp("mask"))
	}
	return m, nil
}

// maskAdder is (1 − keep)·(−1e9) for keep unsqueezed on axes: what Keras
// adds to hidden scores (in float32 a hidden score rounds to −1e9).
func (b *builder) maskAdder(keep string) string {
	inv := b.op("Sub", "mask_inv", []string{b.scalar("one", 1), keep}, b.tmp("hidden"))
	return b.op("Mul", "mask_bias", []string{inv, b.scalar("minus_1e9", -1e9)}, b.tmp("mask_bias"))
}

// zeroMask is Cast(ids ≠ 0) of Embedding ids.
func (b *builder) zeroMask(ids string) string {
	eq := b.op("Equal", "is_padding", []string{ids, b.scalar("zero", 0)}, b.tmp("is_padding"))
	keep := b.op("Not", "is_token", []string{eq}, b.tmp("is_token"))
	return b.op("Cast", "mask", []string{keep}, b.tmp("mask"), aInt("to", 1))
}

// maskedAveragePool is GlobalAveragePooling1D over the real steps of
// [N, C, T] (zero where every step is padding).
func (b *builder) maskedAveragePool(x, mask string, keep bool, out string) {
	mu := b.withAxes("Unsqueeze", "mask_channels", mask, []int{1}, b.tmp("mask_channels"), 13)
	num := b.reduce("ReduceSum", "masked_sum", b.op("Mul", "masked", []string{x, mu}, b.tmp("masked")), []int{2},
		b.tmp("masked_sum"), true)
	den := b.reduce("ReduceSum", "steps", mu, []int{2}, b.tmp("steps"), true)
	den = b.op("Max", "steps_at_least_1", []string{den, b.scalar("one", 1)}, b.tmp("steps_at_least_1"))
	if keep {
		b.op("Div", "", []string{num, den}, out)
		return
	}
	y := b.op("Div", "mean", []string{num, den}, b.tmp("mean"))
	b.op("Flatten", "flatten", []string{y}, out, aInt("axis", 1))
}
