package keras

import (
	"github.com/retarget-dev/retarget/ir"
)

func init() {
	register(mapPositionEmbedding, "PositionEmbedding")
	register(mapTokenAndPositionEmbedding, "TokenAndPositionEmbedding")
}

// mapPositionEmbedding maps keras_hub's (keras_nlp's) PositionEmbedding: a
// learned [sequence_length, features] table whose first rows (one per step
// of its input, from start_index) it returns, broadcast over the batch. In
// the graph that is a trainable Constant holding those rows.
func mapPositionEmbedding(c *call) (tensor, error) {
	t, err := c.one()
	if err != nil {
		return tensor{}, err
	}
	if t, err = c.plain(t); err != nil {
		return tensor{}, err
	}
	return c.positionTable(c.name, t, "")
}

// positionTable adds the Constant of a PositionEmbedding (weights under
// filter) for an input of shape [time, features].
func (c *call) positionTable(name string, t tensor, filter string) (tensor, error) {
	if len(t.shape) != 2 || t.shape[0] <= 0 || t.shape[1] <= 0 {
		return tensor{}, c.errf("position embeddings need a [time, features] input with known sizes, got %v", t.shape)
	}
	if _, ok := c.kwargs["positions"]; ok && c.kwargs["positions"] != nil {
		return tensor{}, c.errf("an explicit positions argument cannot be imported")
	}
	start, err := toFloat(orZero(c.kwargs["start_index"]), "start_index")
	if err != nil || start < 0 || start != float64(int(start)) {
		return tensor{}, c.errf("start_index %v is not a constant step index", c.kwargs["start_index"])
	}
	length, err := c.l.Cfg.integer(0, "sequence_length")
	if err != nil || length <= 0 {
		return tensor{}, c.errf("needs a positive sequence_length")
	}
	steps, dim, s := t.shape[0], t.shape[1], int(start)
	if s+steps > length {
		return tensor{}, c.errf("steps %d to %d of an input of %d steps are past sequence_length %d", s, s+steps, steps, length)
	}
	var params map[string]*ir.Tensor
	if c.hasWeights() {
		w, err := c.weight(0, filter, "embeddings")
		if err != nil {
			return tensor{}, err
		}
		if err := c.expect(w, length, dim); err != nil {
			return tensor{}, err
		}
		// the rows this graph reads (every input has `steps` steps)
		rows := append([]float32(nil), w.data[s*dim:(s+steps)*dim]...)
		params = map[string]*ir.Tensor{"value": ir.FromData(rows, steps, dim)}
	}
	l := &ir.Constant{Shape: []int{steps, dim}, Trainable: true}
	if c.b.src == nil {
		params = nil
	}
	return c.b.addVertex(name, l, nil, params, c.frozen)
}

func orZero(v any) any {
	if v == nil {
		return 0.0
	}
	return v
}

// mapTokenAndPositionEmbedding maps keras_hub's TokenAndPositionEmbedding:
// a token Embedding (mask_zero as configured) plus a PositionEmbedding of
// its output.
func mapTokenAndPositionEmbedding(c *call) (tensor, error) {
	t, err := c.one()
	if err != nil {
		return tensor{}, err
	}
	if t, err = c.plain(t); err != nil {
		return tensor{}, err
	}
	cf := c.l.Cfg
	vocab, err1 := cf.integer(0, "vocabulary_size")
	dim, err2 := cf.integer(0, "embedding_dim")
	if err1 != nil || err2 != nil || vocab <= 0 || dim <= 0 {
		return tensor{}, c.errf("needs positive vocabulary_size and embedding_dim")
	}
	if !cf.boolean(true, "tie_weights") {
		return tensor{}, c.errf("tie_weights=False (a separate reverse embedding for output logits) cannot be imported")
	}
	var params map[string]*ir.Tensor
	if c.hasWeights() {
		w, err := c.weight(0, "token_embedding", "embeddings")
		if err != nil {
			return tensor{}, err
		}
		if err := c.expect(w, vocab, dim); err != nil {
			return tensor{}, err
		}
		params = map[string]*ir.Tensor{"W": c.tensorOf(w)}
	}
	tok, err := c.b.addVertex(c.name+"_token_embedding", &ir.Embedding{InputDim: vocab, OutputDim: dim, MaskZero: cf.boolean(false, "mask_zero")},
		[]tensor{t}, params, c.frozen)
	if err != nil {
		return tensor{}, err
	}
	pos, err := c.positionTable(c.name+"_position_embedding", tok, "position_embedding")
	if err != nil {
		return tensor{}, err
	}
	return c.add(&ir.Merge{Op: ir.MergeAdd}, nil, tok, pos)
}
