package keras

import (
	"fmt"

	"github.com/retarget-dev/retarget/internal/layout"
	"github.com/retarget-dev/retarget/ir"
)

// formKind says how a tensor's IR data relates to the Keras tensor.
//
// The IR keeps images channels first ([C, H, W], [C, W]); Keras models are
// mostly channels last. Rather than transposing after every layer, each
// tensor carries its form, and a layer that needs the other form gets an
// ir.Permute vertex in front of it (named after that layer).
type formKind int

const (
	// formPlain: the IR tensor is laid out exactly as Keras lays it out.
	formPlain formKind = iota
	// formCL: Keras holds [d1, ..., dn, C], the IR holds [C, d1, ..., dn].
	formCL
	// formFlatCL: a Flatten of a formCL tensor: the IR vector is the
	// channels-first flattening of pre, Keras's is the channels-last one.
	// A Dense that consumes it gets its kernel rows permuted instead of a
	// Permute vertex, so vertex names stay 1:1 with Keras layers.
	formFlatCL
)

type tensor struct {
	name  string
	shape []int // IR shape without batch
	kind  formKind
	pre   []int // formFlatCL: the IR shape [C, spatial...] before Flatten
	// unsupported, when set, is why this output of a layer cannot be
	// built (an LSTM's cell state): using it is an error naming that.
	unsupported string
}

// kerasShape is the tensor's shape as Keras sees it (without batch).
func (t tensor) kerasShape() []int {
	switch t.kind {
	case formCL:
		return layout.CLShape(t.shape)
	}
	return t.shape
}

// toPlain returns t laid out as Keras lays it out, adding the vertices that
// transpose it (named after the consumer) when needed.
func (b *builder) toPlain(t tensor, consumer string) (tensor, error) {
	switch t.kind {
	case formPlain:
		return t, nil
	case formCL:
		key := t.name + "#plain"
		if c, ok := b.converted[key]; ok {
			return c, nil
		}
		out, err := b.addAux(consumer+"_to_channels_last", &ir.Permute{Perm: layout.CLPerm(len(t.shape))}, t)
		if err != nil {
			return tensor{}, err
		}
		b.converted[key] = out
		return out, nil
	case formFlatCL:
		key := t.name + "#plain"
		if c, ok := b.converted[key]; ok {
			return c, nil
		}
		r, err := b.addAux(consumer+"_unflatten", &ir.Reshape{Shape: append([]int(nil), t.pre...)}, t)
		if err != nil {
			return tensor{}, err
		}
		p, err := b.addAux(consumer+"_to_channels_last", &ir.Permute{Perm: layout.CLPerm(len(t.pre))}, r)
		if err != nil {
			return tensor{}, err
		}
		f, err := b.addAux(consumer+"_flatten", &ir.Flatten{}, p)
		if err != nil {
			return tensor{}, err
		}
		b.converted[key] = f
		return f, nil
	}
	return tensor{}, fmt.Errorf("unknown tensor form")
}

// toCL returns t in formCL (IR channels first of a Keras channels-last tensor).
func (b *builder) toCL(t tensor, consumer string) (tensor, error) {
	if t.kind == formCL {
		return t, nil
	}
	p, err := b.toPlain(t, consumer)
	if err != nil {
		return tensor{}, err
	}
	if len(p.shape) < 2 {
		return tensor{}, fmt.Errorf("layer %q needs a channels-last tensor with spatial axes, got shape %v", consumer, p.shape)
	}
	key := p.name + "#cl"
	if c, ok := b.converted[key]; ok {
		return c, nil
	}
	out, err := b.addAux(consumer+"_to_channels_first", &ir.Permute{Perm: layout.CFPerm(len(p.shape))}, p)
	if err != nil {
		return tensor{}, err
	}
	out.kind = formCL
	b.converted[key] = out
	return out, nil
}

// irAxis maps a Keras axis (counting the batch axis, negative from the
// end) to the IR axis of t, which must be plain or formCL.
func irAxis(t tensor, kerasAxis int) (int, error) {
	r := len(t.shape)
	ax := kerasAxis
	if ax < 0 {
		ax += r + 1
	}
	if ax < 1 || ax > r {
		return 0, fmt.Errorf("axis %d is out of range for a tensor of rank %d (with batch)", kerasAxis, r+1)
	}
	p := ax - 1
	if t.kind == formCL {
		if p == r-1 {
			return 0, nil
		}
		return p + 1, nil
	}
	return p, nil
}
