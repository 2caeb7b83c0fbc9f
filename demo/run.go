package demo

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/retarget-dev/retarget/exporters/native"
	kimport "github.com/retarget-dev/retarget/importers/keras"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/modelio"
	"github.com/retarget-dev/retarget/nn"
	"github.com/retarget-dev/retarget/npy"
	"github.com/retarget-dev/retarget/retarget"
	"github.com/schollz/progressbar/v3"
)

//go:embed assets/digits04.h5
var pretrainedH5 []byte

// Options configure Run.
type Options struct {
	// Out is the folder the demo writes into (default ./retarget-demo).
	Out string
	// Stdout receives the narration; Progress a progress bar (nil: none).
	Stdout   io.Writer
	Progress io.Writer
	// Epochs of head training (default 30).
	Epochs int
	Seed   int64
}

// Result is what the demo measured.
type Result struct {
	AccuracyBefore, AccuracyAfter float64
	// WidenMaxDiff is the largest change of any prediction after widening
	// fc1 in preserve mode (0 means unchanged).
	WidenMaxDiff float64
	Files        []string
	// Predict holds the arguments of the printed "retarget predict"
	// commands, one per file in Files, all with the one NHWC sample.
	Predict [][]string
	// Skipped lists steps that could not run in this build, with why.
	Skipped []string
}

// Run runs the demo.
func Run(o Options) (*Result, error) {
	if o.Out == "" {
		o.Out = "retarget-demo"
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Epochs <= 0 {
		o.Epochs = 30
	}
	if o.Seed == 0 {
		o.Seed = 7
	}
	w := o.Stdout
	res := &Result{}
	start := time.Now()
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}

	step(w, 1, "import the pretrained digits 0-4 model from Keras HDF5")
	h5 := filepath.Join(o.Out, "digits04.h5")
	if err := os.WriteFile(h5, pretrainedH5, 0o644); err != nil {
		return nil, err
	}
	src, err := kimport.Import(h5, kimport.Options{})
	if err != nil {
		return nil, fmt.Errorf("demo step 1: %w", err)
	}
	fmt.Fprintf(w, "   %s (%d bytes, embedded) -> %d vertices\n", h5, len(pretrainedH5), len(src.Vertices))

	step(w, 2, "inspect")
	sum, err := modelio.Summarize(src)
	if err != nil {
		return nil, err
	}
	if err := sum.WriteTable(w); err != nil {
		return nil, err
	}

	step(w, 3, "retarget to the digits 5-9: freeze the convolutions, new 5-class output")
	d, err := LoadDigits(5, 6, 7, 8, 9)
	if err != nil {
		return nil, err
	}
	train, test, err := d.Split(0.3, o.Seed)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "   data: %d training and %d test images of the digits 5-9 (classes 0-4 = digits 5-9)\n", train.X.Shape[0], test.X.Shape[0])
	out := src.Outputs[0].Vertex
	g, err := retarget.New(src).Seed(o.Seed).
		FreezeThrough("conv2").
		ReplaceNOut(out, 5, ir.InitXavierUniform, ir.InitXavierUniform).
		FineTune(ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 0.005, Seed: o.Seed}).
		Build()
	if err != nil {
		return nil, fmt.Errorf("demo step 3: %w", err)
	}
	before, err := accuracy(g, test)
	if err != nil {
		return nil, err
	}
	res.AccuracyBefore = before
	fmt.Fprintf(w, "   accuracy before fitting the head: %5.1f%%\n", 100*before)

	feats, err := os.MkdirTemp("", "retarget-demo-features-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(feats)
	it, err := nn.NewArrayIterator(train.X, train.Y, 64, false, 0)
	if err != nil {
		return nil, err
	}
	idx, err := retarget.Featurize(g, it, feats, retarget.FeaturizeOptions{})
	if err != nil {
		return nil, fmt.Errorf("demo featurize: %w", err)
	}
	fmt.Fprintf(w, "   featurized once at %v: %d examples -> %s\n", idx.Boundary, idx.Count, feats)
	head, err := retarget.HeadGraph(g, idx.Boundary...)
	if err != nil {
		return nil, err
	}
	var bar *progressbar.ProgressBar
	if o.Progress != nil {
		bar = progressbar.NewOptions(o.Epochs, progressbar.OptionSetWriter(o.Progress),
			progressbar.OptionSetDescription("   fitting the head"), progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30), progressbar.OptionOnCompletion(func() { fmt.Fprintln(o.Progress) }))
	}
	var lastLoss float64
	_, err = retarget.FitFeaturized(head, feats, retarget.FitFeaturizedOptions{BatchSize: 32, Shuffle: true, Seed: o.Seed,
		Fit: nn.FitConfig{Epochs: o.Epochs, Seed: o.Seed, OnEpoch: func(e nn.EpochInfo) error {
			lastLoss = e.Loss
			if bar != nil {
				bar.Describe(fmt.Sprintf("   fitting the head (loss %.3f)", e.Loss))
				bar.Add(1)
			}
			return nil
		}}})
	if err != nil {
		return nil, fmt.Errorf("demo fit: %w", err)
	}
	if err := retarget.MergeHead(g, head); err != nil {
		return nil, err
	}
	after, err := accuracy(g, test)
	if err != nil {
		return nil, err
	}
	res.AccuracyAfter = after
	fmt.Fprintf(w, "   %d epochs on the features (final loss %.3f)\n", o.Epochs, lastLoss)
	fmt.Fprintf(w, "   accuracy after:  %5.1f%% on %d held-out digits 5-9\n", 100*after, test.X.Shape[0])

	step(w, 4, "widen fc1 by 32 units in preserve mode")
	wide, err := retarget.New(g).Seed(o.Seed).Widen("fc1", 32, retarget.WidenPreserve).Build()
	if err != nil {
		return nil, fmt.Errorf("demo widen: %w", err)
	}
	diff, err := maxDiff(g, wide, test.X)
	if err != nil {
		return nil, err
	}
	res.WidenMaxDiff = diff
	fmt.Fprintf(w, "   fc1: %d -> %d units; predictions on %d test digits: max |change| = %g (unchanged)\n",
		units(g, "fc1"), units(wide, "fc1"), test.X.Shape[0], diff)

	step(w, 5, "export")
	// Both files keep the Keras input layout (NHWC): one sample for both.
	k := min(8, test.X.Shape[0])
	nhwc := append([]int{k}, test.X.Shape[1:]...)
	sample := filepath.Join(o.Out, "sample.npy")
	if err := npy.WriteFile(sample, nhwc, test.X.Data[:k*64]); err != nil {
		return nil, err
	}
	for _, name := range []string{"digits59.onnx", "digits59.rtm"} {
		p := filepath.Join(o.Out, name)
		err := modelio.Save(p, wide, modelio.SaveOptions{Force: true})
		var fe *modelio.FormatError
		if errors.As(err, &fe) && filepath.Ext(name) == ".rtm" {
			err = native.Save(p, wide)
		}
		if errors.As(err, &fe) {
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s: %v", name, err))
			fmt.Fprintf(w, "   %s: skipped, this build cannot write it yet (%v)\n", p, err)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("demo export: %w", err)
		}
		res.Files = append(res.Files, p)
		fmt.Fprintf(w, "   wrote %s\n", p)
	}
	fmt.Fprintf(w, "   wrote %s (NHWC, as the Keras model took it, for both files): %d test digits\n", sample, k)
	fmt.Fprintf(w, "\nDone in %.1fs. Try:\n", time.Since(start).Seconds())
	for _, f := range res.Files {
		fmt.Fprintf(w, "   retarget inspect %s\n", f)
	}
	for _, f := range res.Files {
		res.Predict = append(res.Predict, []string{"predict", f, "--input", sample, "--out", filepath.Join(o.Out, "predictions")})
		fmt.Fprintf(w, "   retarget %s\n", strings.Join(res.Predict[len(res.Predict)-1], " "))
	}
	return res, nil
}

func step(w io.Writer, n int, what string) { fmt.Fprintf(w, "\n[%d/5] %s\n", n, what) }

func accuracy(g *ir.Graph, d *Digits) (float64, error) {
	net, err := nn.CompileInference(g)
	if err != nil {
		return 0, err
	}
	it, err := nn.NewArrayIterator(d.X, d.Y, 128, false, 0)
	if err != nil {
		return 0, err
	}
	ev, err := net.Evaluate(it)
	if err != nil {
		return 0, err
	}
	return ev.Accuracy(), nil
}

func maxDiff(a, b *ir.Graph, x *ir.Tensor) (float64, error) {
	var outs [2][]*ir.Tensor
	for i, g := range []*ir.Graph{a, b} {
		net, err := nn.CompileInference(g)
		if err != nil {
			return 0, err
		}
		if outs[i], err = net.Predict(x); err != nil {
			return 0, err
		}
	}
	m := 0.0
	for i, v := range outs[0][0].Data {
		m = math.Max(m, math.Abs(float64(v-outs[1][0].Data[i])))
	}
	return m, nil
}

func units(g *ir.Graph, name string) int {
	if v := g.Vertex(name); v != nil {
		if s, ok := v.Layer.(ir.Sized); ok {
			return s.OutUnits()
		}
	}
	return 0
}
