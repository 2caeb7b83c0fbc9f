package keras

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// TestRealKerasAttention: keras-attention.h5, written by tf.keras 2.11,
// applies Attention to the rank-2 output of a Dense, so it attends across
// the batch. Its predictions must be what numpy computes with Keras's
// formula on the file's weights (testdata/gen/keras_real_attention.py),
// the batch of 8 run as one batch however small Predict's batches are.
func TestRealKerasAttention(t *testing.T) {
	path := filepath.Join(needReal(t), "weights", "keras-attention.h5")
	g, err := Import(path, Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	v := g.Vertex("attention")
	a, ok := v.Layer.(*ir.Attention)
	if !ok || a.Score != ir.ScoreDot || a.UseScale || a.Dropout != 0.2 || len(v.Inputs) != 2 {
		t.Fatalf("attention vertex %+v (%T %+v)", v, v.Layer, v.Layer)
	}
	full, err := g.FullShapes()
	if err != nil {
		t.Fatal(err)
	}
	if got := ir.FormatShape(full["attention"]); got != "[B 32]" {
		t.Fatalf("attention output %s, want [B 32]", got)
	}
	fx := readIOFixture(t, filepath.Join(k3Dir, "real", "keras_attention_io.h5"))
	checkParity(t, g, fx)
	net, err := nn.CompileWith[float32](g, nn.Options{BatchSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	ys, err := net.Predict(fx.inputs["inputs"])
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := maxAbsDiff(ys[0], fx.outputs["outputs"]); d > parityTol {
		t.Fatalf("with batches of 3 the predictions differ by %g: the batch was split", d)
	}
}

// TestAttentionCallErrors: what a Keras Attention call holds that the
// importer cannot build is refused naming the layer and the argument.
func TestAttentionCallErrors(t *testing.T) {
	base := func(kw string) string {
		return `{"class_name": "Functional", "config": {"name": "m", "layers": [
 {"class_name": "InputLayer", "name": "q", "config": {"batch_shape": [null, 3, 4], "name": "q"}, "inbound_nodes": []},
 {"class_name": "Attention", "name": "att", "config": {"name": "att", "use_scale": false, "score_mode": "dot", "dropout": 0.0},
  "inbound_nodes": [{"args": [[{"class_name": "__keras_tensor__", "config": {"shape": [null, 3, 4], "keras_history": ["q", 0, 0]}},
                               {"class_name": "__keras_tensor__", "config": {"shape": [null, 3, 4], "keras_history": ["q", 0, 0]}}]],
                     "kwargs": ` + kw + `}]}],
 "input_layers": [["q", 0, 0]], "output_layers": [["att", 0, 0]]}}`
	}
	for kw, want := range map[string]string{
		`{"return_attention_scores": true}`: "return_attention_scores",
		`{"mask": [null, {"class_name": "__keras_tensor__", "config": {"shape": [null, 3], "keras_history": ["q", 0, 0]}}]}`: "explicit mask",
	} {
		_, err := ImportConfig([]byte(base(kw)), Options{})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `"att"`) {
			t.Errorf("kwargs %s: error %v, want one naming att and %q", kw, err, want)
		}
	}
	g, err := ImportConfig([]byte(base(`{"use_causal_mask": true, "mask": [null, null]}`)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a := g.Vertex("att").Layer.(*ir.Attention); !a.Causal {
		t.Fatalf("use_causal_mask not read: %+v", a)
	}
}

// TestMaskZeroMatters: the masked fixtures' padding changes the outputs,
// so their parity proves the mask is honoured (the same graphs with the
// mask switched off miss Keras's outputs).
func TestMaskZeroMatters(t *testing.T) {
	for _, name := range []string{"k3_masked_attention", "k3_masked_lstm"} {
		g, err := Import(filepath.Join(k3Dir, name+".keras"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		masked := 0
		for _, v := range g.Vertices {
			if e, ok := v.Layer.(*ir.Embedding); ok && e.MaskZero {
				e.MaskZero = false
				masked++
			}
		}
		if masked != 1 {
			t.Fatalf("%s: %d Embedding vertices with mask_zero, want 1", name, masked)
		}
		fx := readIOFixture(t, filepath.Join(k3Dir, name+"_io.h5"))
		for out, want := range fx.outputs {
			if d, _ := maxAbsDiff(predict(t, g, fx.inputs)[out], want); d < 1e-2 {
				t.Errorf("%s without the mask is within %g of Keras: the fixture does not test masking", name, d)
			}
		}
	}
	// its flattened MultiHeadAttention output reads the padded steps,
	// which Keras makes average every value
	g, err := Import(filepath.Join(k3Dir, "k3_masked_attention.keras"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	mha := g.Vertex("mha").Layer.(*ir.MultiHeadAttention)
	if !mha.MaskQueries {
		t.Fatal("the Keras importer did not set MaskQueries")
	}
	mha.MaskQueries = false
	fx := readIOFixture(t, filepath.Join(k3Dir, "k3_masked_attention_io.h5"))
	if d, _ := maxAbsDiff(predict(t, g, fx.inputs)["probs"], fx.outputs["probs"]); d < 1e-3 {
		t.Errorf("padded query steps attending to the real keys are within %g of Keras: the fixture does not test them", d)
	}
}

// TestAttentionKeras2Forms: tf.keras before 2.10 configured causal (and
// AdditiveAttention's use_scale defaults to true); later versions pass
// use_causal_mask in the call's kwargs, which Keras 2 writes after each
// input reference.
func TestAttentionKeras2Forms(t *testing.T) {
	model := func(class, cfg, kw string) string {
		return `{"class_name": "Model", "config": {"name": "m", "layers": [
 {"class_name": "InputLayer", "name": "q", "config": {"batch_input_shape": [null, 3, 4], "name": "q"}, "inbound_nodes": []},
 {"class_name": "InputLayer", "name": "v", "config": {"batch_input_shape": [null, 3, 4], "name": "v"}, "inbound_nodes": []},
 {"class_name": "` + class + `", "name": "att", "config": ` + cfg + `,
  "inbound_nodes": [[["q", 0, 0, ` + kw + `], ["v", 0, 0, ` + kw + `]]]}],
 "input_layers": [["q", 0, 0], ["v", 0, 0]], "output_layers": [["att", 0, 0]]}}`
	}
	for _, c := range []struct {
		class, cfg, kw string
		want           ir.Attention
	}{
		{"Attention", `{"name": "att", "use_scale": true, "causal": true, "dropout": 0.1}`, `{}`,
			ir.Attention{Score: ir.ScoreDot, UseScale: true, Causal: true, Dropout: 0.1}},
		{"AdditiveAttention", `{"name": "att", "dropout": 0.0}`, `{"use_causal_mask": true}`,
			ir.Attention{Score: ir.ScoreAdditive, UseScale: true, Dim: 4, Causal: true}},
		{"Attention", `{"name": "att", "use_scale": false, "score_mode": "concat"}`, `{}`,
			ir.Attention{Score: ir.ScoreConcat}},
	} {
		g, err := ImportConfig([]byte(model(c.class, c.cfg, c.kw)), Options{})
		if err != nil {
			t.Fatalf("%s %s: %v", c.class, c.cfg, err)
		}
		v := g.Vertex("att")
		if got := *v.Layer.(*ir.Attention); got != c.want || len(v.Inputs) != 2 || v.Inputs[0] != "q" || v.Inputs[1] != "v" {
			t.Errorf("%s %s: %+v on %v, want %+v on [q v]", c.class, c.cfg, got, v.Inputs, c.want)
		}
	}
	_, err := ImportConfig([]byte(model("Attention", `{"name": "att", "score_mode": "general"}`, `{}`)), Options{})
	if err == nil || !strings.Contains(err.Error(), `score_mode "general"`) {
		t.Errorf("score_mode general: %v", err)
	}
}

// TestMaskedAttentionTrains: the imported mask_zero + MultiHeadAttention +
// Attention model fine-tunes with its embeddings frozen: the loss falls
// and the frozen tables stay bit-identical.
func TestMaskedAttentionTrains(t *testing.T) {
	g, err := Import(filepath.Join(k3Dir, "k3_masked_attention.keras"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	frozen := map[string][]float32{}
	for _, name := range []string{"tokens", "position"} {
		v := g.Vertex(name)
		v.Frozen = true
		frozen[name] = append([]float32(nil), v.Params["W"].Data...)
	}
	if g.Train == nil {
		g.Train = &ir.TrainConfig{}
	}
	g.Train.Updater, g.Train.LearningRate = ir.UpdAdam, 0.01
	fx := readIOFixture(t, filepath.Join(k3Dir, "k3_masked_attention_io.h5"))
	labels := ir.NewTensor(4, 3)
	for i, c := range []int{0, 2, 1, 2} {
		labels.Data[i*3+c] = 1
	}
	net, err := nn.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	b := &nn.Batch{Inputs: []*ir.Tensor{fx.inputs["ids"], fx.inputs["positions"]}, Labels: []*ir.Tensor{labels}}
	first, last := 0.0, 0.0
	for step := 0; step < 60; step++ {
		l, err := net.FitBatch(b)
		if err != nil {
			t.Fatal(err)
		}
		if step == 0 {
			first = l
		}
		last = l
	}
	t.Logf("loss %.4g → %.4g in 60 steps", first, last)
	if !(last < first/4) {
		t.Fatalf("loss %g → %g: did not fall", first, last)
	}
	for name, want := range frozen {
		for i, x := range g.Vertex(name).Params["W"].Data {
			if x != want[i] {
				t.Fatalf("frozen %s changed at %d", name, i)
			}
		}
	}
}

// TestAttentionKeywordInputs: Keras 3 keeps tensors passed by keyword in
// the call's kwargs: mha(query=x, value=y) and Attention()(inputs=[q, v]).
func TestAttentionKeywordInputs(t *testing.T) {
	kt := func(src string) string {
		return `{"class_name": "__keras_tensor__", "config": {"shape": [null, 3, 4], "keras_history": ["` + src + `", 0, 0]}}`
	}
	model := func(layer string) string {
		return `{"class_name": "Functional", "config": {"name": "m", "layers": [
 {"class_name": "InputLayer", "name": "q", "config": {"batch_shape": [null, 3, 4], "name": "q"}, "inbound_nodes": []},
 {"class_name": "InputLayer", "name": "v", "config": {"batch_shape": [null, 3, 4], "name": "v"}, "inbound_nodes": []},
 ` + layer + `], "input_layers": [["q", 0, 0], ["v", 0, 0]], "output_layers": [["att", 0, 0]]}}`
	}
	for _, layer := range []string{
		`{"class_name": "MultiHeadAttention", "name": "att", "config": {"name": "att", "num_heads": 2, "key_dim": 2},
		  "inbound_nodes": [{"args": [], "kwargs": {"query": ` + kt("q") + `, "value": ` + kt("v") + `}}]}`,
		`{"class_name": "Attention", "name": "att", "config": {"name": "att"},
		  "inbound_nodes": [{"args": [], "kwargs": {"inputs": [` + kt("q") + `, ` + kt("v") + `]}}]}`,
	} {
		g, err := ImportConfig([]byte(model(layer)), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if in := g.Vertex("att").Inputs; len(in) != 2 || in[0] != "q" || in[1] != "v" {
			t.Errorf("inputs %v, want [q v]", in)
		}
	}
}
