package retarget

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// EvalOptions configure Evaluate.
type EvalOptions struct {
	Output    string // graph output to score; "" when the model has one output
	BatchSize int    // default 32
	// DataName names the source in errors (the CLI passes "--data").
	DataName string
	// Progress, when set, is called after every batch with the examples
	// done and the total.
	Progress func(done, total int)
}

// EvalReport is what Evaluate measured on one output: classification
// metrics, or regression errors when the output's loss is a regression loss.
type EvalReport struct {
	Output         string
	Loss           ir.Loss
	Classification *nn.Evaluation           // nil for regression
	Regression     *nn.RegressionEvaluation // nil for classification
}

// Examples is the number of rows scored (examples, or labelled time steps
// of a per-step output).
func (r *EvalReport) Examples() int {
	if r.Classification != nil {
		return r.Classification.Count
	}
	return r.Regression.Count
}

// String renders the report as a table.
func (r *EvalReport) String() string {
	head := fmt.Sprintf("output: %s (loss %s)\n", r.Output, r.Loss)
	if r.Classification != nil {
		return head + r.Classification.String()
	}
	return head + r.Regression.String()
}

type evalClassJSON struct {
	Class     int     `json:"class"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int     `json:"support"`
}

type evalMacroJSON struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
}

// MarshalJSON writes {"examples", "accuracy", "macro": {"precision",
// "recall", "f1"}, "classes": [{"class", "precision", "recall", "f1",
// "support"}], "confusion": [[…]]} (rows actual, columns predicted) for
// classification and {"examples", "mse", "mae"} for regression.
func (r *EvalReport) MarshalJSON() ([]byte, error) {
	if e := r.Classification; e != nil {
		classes := make([]evalClassJSON, e.Classes)
		for c := range classes {
			support := 0
			for _, n := range e.Confusion[c] {
				support += n
			}
			classes[c] = evalClassJSON{Class: c, Precision: e.Precision(c), Recall: e.Recall(c), F1: e.F1(c), Support: support}
		}
		return json.Marshal(struct {
			Examples  int             `json:"examples"`
			Accuracy  float64         `json:"accuracy"`
			Macro     evalMacroJSON   `json:"macro"`
			Classes   []evalClassJSON `json:"classes"`
			Confusion [][]int         `json:"confusion"`
		}{e.Count, e.Accuracy(), evalMacroJSON{e.MacroPrecision(), e.MacroRecall(), e.MacroF1()}, classes, e.Confusion})
	}
	return json.Marshal(struct {
		Examples int     `json:"examples"`
		MSE      float64 `json:"mse"`
		MAE      float64 `json:"mae"`
	}{r.Regression.Count, r.Regression.MSE(), r.Regression.MAE()})
}

// EvalOutput finds the graph output to score: the one named, or the only
// one. It must carry a loss, which says what the labels are.
func EvalOutput(g *ir.Graph, name string) (int, error) {
	k := -1
	switch {
	case name != "":
		for i, o := range g.Outputs {
			if o.Name == name {
				k = i
			}
		}
		if k < 0 {
			return -1, fmt.Errorf("the model has no output %q; its outputs: %s", name, describeOutputs(g))
		}
	case len(g.Outputs) == 1:
		k = 0
	case len(g.Outputs) == 0:
		return -1, fmt.Errorf("the model has no outputs")
	default:
		return -1, fmt.Errorf("the model has %d outputs (%s): name the one to score (--output NAME)", len(g.Outputs), describeOutputs(g))
	}
	o := g.Outputs[k]
	v := g.Vertex(o.Vertex)
	if v == nil {
		return -1, fmt.Errorf("output %q names vertex %q, which the model does not have", o.Name, o.Vertex)
	}
	if !ir.IsOutputLayer(v.Layer) {
		return -1, fmt.Errorf("output %q comes from vertex %q, a %s layer with no loss: evaluation needs a loss-bearing output "+
			"(an output or rnn_output layer) to know whether the labels are classes or values and how many there are; "+
			"give the model one with a plan (retarget apply), e.g. an edit that adds {type: output, nout: N, activation: softmax, loss: mcxent} on %q",
			o.Name, v.Name, v.Layer.Kind(), v.Name)
	}
	return k, nil
}

func describeOutputs(g *ir.Graph) string {
	var s []string
	for _, o := range g.Outputs {
		what := "no loss"
		if v := g.Vertex(o.Vertex); v != nil {
			if l, ok := ir.LossOf(v.Layer); ok {
				what = "loss " + string(l)
			}
		}
		s = append(s, fmt.Sprintf("%s [%s]", o.Name, what))
	}
	return strings.Join(s, ", ")
}

// Evaluate runs g in inference mode over a data source (paths used as they
// are) and scores one output: accuracy, per-class and macro precision,
// recall and F1 and the confusion matrix for a classification loss, mean
// squared and absolute error otherwise. Labels are read as OpenData reads
// them for training.
func Evaluate(g *ir.Graph, spec DataSpec, opt EvalOptions) (*EvalReport, error) {
	name := opt.DataName
	if name == "" {
		name = "data"
	}
	k, err := EvalOutput(g, opt.Output)
	if err != nil {
		return nil, err
	}
	ds, err := OpenDataOutput(spec, g, k, DataOptions{BatchSize: opt.BatchSize})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer ds.Close()
	r, err := evaluateOn(g, k, ds, ds.N, opt.Progress)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return r, nil
}

// EvaluateSources is Evaluate on sources: a single source scores as
// Evaluate does; named sources (one per input, labels for some outputs)
// score every labelled output, or opt.Output alone, one report each.
func EvaluateSources(g *ir.Graph, s Sources, opt EvalOptions) ([]*EvalReport, error) {
	if !s.Named() {
		r, err := Evaluate(g, *s.Single, opt)
		if err != nil {
			return nil, err
		}
		return []*EvalReport{r}, nil
	}
	ds, err := openSources(s, g, DataOptions{BatchSize: opt.BatchSize}, false, "--data", "--labels")
	if err != nil {
		return nil, err
	}
	defer ds.Close()
	var ks []int
	if opt.Output != "" {
		k, err := EvalOutput(g, opt.Output)
		if err != nil {
			return nil, err
		}
		ks = []int{k}
	} else {
		for _, n := range s.Labels {
			ks = append(ks, outputIndex(g, n.Name))
		}
	}
	var out []*EvalReport
	for _, k := range ks {
		labelled := false
		for _, n := range s.Labels {
			labelled = labelled || n.Name == g.Outputs[k].Name
		}
		if !labelled {
			return nil, fmt.Errorf("output %q has no labels: give --labels %s=Y.npy", g.Outputs[k].Name, g.Outputs[k].Name)
		}
		r, err := evaluateOn(g, k, ds, ds.N, opt.Progress)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", g.Outputs[k].Name, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// EvaluateFeaturized is Evaluate on featurized folders (written by
// Featurize for g's frozen part, whole or every part): only the trainable
// part runs, streaming the shards. opt.DataName is not used.
func EvaluateFeaturized(g *ir.Graph, dirs []string, opt EvalOptions) (*EvalReport, error) {
	k, err := EvalOutput(g, opt.Output)
	if err != nil {
		return nil, err
	}
	head, err := Trainable(g)
	if err != nil {
		return nil, err
	}
	st, err := OpenFeaturizedStream(head, dirs, StreamOptions{BatchSize: opt.BatchSize}, false)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if st.labelAt[k] < 0 {
		return nil, fmt.Errorf("%s: no labels of output %q in the featurized data", strings.Join(dirs, ", "), g.Outputs[k].Name)
	}
	return evaluateOn(head, k, st, st.Len(), opt.Progress)
}

// evaluateOn scores output k of g (a graph or its head) on it.
func evaluateOn(g *ir.Graph, k int, it nn.Iterator, total int, progress func(done, total int)) (*EvalReport, error) {
	tgt := targetAt(g, k)
	net, err := nn.CompileInference(g)
	if err != nil {
		return nil, err
	}
	units := tgt.layer.(interface{ OutUnits() int }).OutUnits()
	eit := &evalIterator{Iterator: it, k: k, units: units, sparse: tgt.sparse, output: g.Outputs[k].Name,
		total: total, progress: progress}
	loss, _ := ir.LossOf(tgt.layer)
	r := &EvalReport{Output: g.Outputs[k].Name, Loss: loss}
	if tgt.classify {
		r.Classification, err = net.EvaluateOutput(eit, k)
	} else {
		r.Regression, err = net.EvaluateRegression(eit, k)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// evalIterator checks that the labels of output k have one value per
// output unit (a class index for sparse labels) and reports progress.
type evalIterator struct {
	nn.Iterator
	k, units    int
	sparse      bool
	output      string
	done, total int
	progress    func(done, total int)
}

func (e *evalIterator) Reset() error {
	e.done = 0
	return e.Iterator.Reset()
}

func (e *evalIterator) Next() (*nn.Batch, error) {
	b, err := e.Iterator.Next()
	if err != nil {
		return b, err
	}
	if e.k < len(b.Labels) && b.Labels[e.k] != nil && !e.sparse {
		s, w := b.Labels[e.k].Shape, 1
		if len(s) > 1 {
			w = s[len(s)-1]
		}
		if w != e.units {
			return nil, fmt.Errorf("the labels have %d value(s) per example (shape %v), but output %q has %d unit(s); "+
				"give labels with one value per unit (one-hot rows or class numbers for a classifier)", w, s, e.output, e.units)
		}
	}
	e.done += b.Size()
	if e.progress != nil {
		e.progress(e.done, e.total)
	}
	return b, nil
}
