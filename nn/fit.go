package nn

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/retarget-dev/retarget/ir"
)

// StepInfo is reported to FitConfig.OnScore.
type StepInfo struct {
	Epoch    int
	Step     int64 // the graph's updater step after this update
	Loss     float64
	Examples int // in this step's batch
}

// ErrStop, returned by FitConfig.OnEpoch, ends Fit after that epoch
// without an error (FitResult.StoppedEarly is set): a caller's own early
// stopping.
var ErrStop = errors.New("stop training")

// EpochInfo summarises one epoch.
type EpochInfo struct {
	Epoch int
	Steps int64   // graph step at the end of the epoch
	Loss  float64 // mean training loss over the epoch's batches (loss weights applied)
	// OutputLosses is the mean unweighted training loss of each graph
	// output (0 for outputs without a loss).
	OutputLosses []float64
	HasVal       bool
	ValLoss      float64
	ValEval      *Evaluation // classification metrics of output 0 on the validation set
}

// EarlyStopping stops Fit when the monitored value has not improved by
// MinDelta for Patience epochs. Monitor is "val_loss" (default when a
// validation set is given), "val_accuracy" or "loss".
type EarlyStopping struct {
	Patience int
	MinDelta float64
	Monitor  string
}

// FitConfig drives Fit.
type FitConfig struct {
	Epochs int
	// Seed seeds dropout (0: the graph's TrainConfig.Seed). Shuffling is the
	// iterator's.
	Seed       int64
	ScoreEvery int // call OnScore every ScoreEvery steps (0: never)
	OnScore    func(StepInfo)
	Validation Iterator
	// OnEpoch is called after every epoch; an error stops Fit.
	OnEpoch       func(EpochInfo) error
	EarlyStopping *EarlyStopping
	// Checkpoint is called after every epoch with the graph (whose tensors
	// the network updates); writing it is the caller's business.
	Checkpoint func(EpochInfo, *ir.Graph) error
}

// FitResult is what Fit did.
type FitResult struct {
	History      []EpochInfo
	StoppedEarly bool
	BestEpoch    int
}

// Fit trains for cfg.Epochs passes over it.
func (n *Net[F]) Fit(it Iterator, cfg FitConfig) (*FitResult, error) {
	if err := n.checkTrainable("Fit"); err != nil {
		return nil, err
	}
	if cfg.Epochs <= 0 {
		cfg.Epochs = 1
	}
	if cfg.Seed != 0 {
		n.seed = cfg.Seed
	}
	res := &FitResult{BestEpoch: -1}
	best := math.Inf(1)
	sinceBest := 0
	for ep := 0; ep < cfg.Epochs; ep++ {
		if err := it.Reset(); err != nil {
			return res, err
		}
		var sum float64
		var batches int
		outSum := make([]float64, len(n.Graph.Outputs))
		for {
			b, err := it.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return res, err
			}
			loss, err := n.FitBatch(b)
			if err != nil {
				return res, err
			}
			sum += loss
			batches++
			for i, l := range n.outLoss {
				outSum[i] += l
			}
			if cfg.ScoreEvery > 0 && cfg.OnScore != nil && n.Graph.Step%int64(cfg.ScoreEvery) == 0 {
				cfg.OnScore(StepInfo{Epoch: ep, Step: n.Graph.Step, Loss: loss, Examples: b.Size()})
			}
		}
		if batches == 0 {
			return res, errors.New("the iterator yielded no batch")
		}
		for i := range outSum {
			outSum[i] /= float64(batches)
		}
		info := EpochInfo{Epoch: ep, Steps: n.Graph.Step, Loss: sum / float64(batches), OutputLosses: outSum}
		if cfg.Validation != nil {
			ev, err := n.Evaluate(cfg.Validation)
			if err != nil {
				return res, fmt.Errorf("validation: %w", err)
			}
			info.HasVal, info.ValLoss, info.ValEval = true, ev.Loss, ev
		}
		res.History = append(res.History, info)
		stop := false
		if cfg.OnEpoch != nil {
			if err := cfg.OnEpoch(info); errors.Is(err, ErrStop) {
				stop = true
			} else if err != nil {
				return res, err
			}
		}
		if cfg.Checkpoint != nil {
			if err := cfg.Checkpoint(info, n.Graph); err != nil {
				return res, fmt.Errorf("checkpoint after epoch %d: %w", ep, err)
			}
		}
		if stop {
			res.StoppedEarly = true
			return res, nil
		}
		monitored := info.Loss
		if es := cfg.EarlyStopping; es != nil {
			switch {
			case es.Monitor == "val_accuracy" && info.HasVal:
				monitored = -info.ValEval.Accuracy()
			case (es.Monitor == "val_loss" || es.Monitor == "") && info.HasVal:
				monitored = info.ValLoss
			}
		}
		delta := 0.0
		if cfg.EarlyStopping != nil {
			delta = cfg.EarlyStopping.MinDelta
		}
		if monitored < best-delta {
			best, sinceBest, res.BestEpoch = monitored, 0, ep
		} else {
			sinceBest++
			if cfg.EarlyStopping != nil && sinceBest >= max(cfg.EarlyStopping.Patience, 1) {
				res.StoppedEarly = true
				return res, nil
			}
		}
	}
	return res, nil
}

// batchMats converts a batch into the internal layout.
type batchMats[F Float] struct {
	in, lab, mask []*Mat[F]
	inBuf, labBuf []*Mat[F]
	maskBuf       []*Mat[F]
	inMask        *Mat[F]
}

func (n *Net[F]) convertBatch(b *Batch, bm *batchMats[F], withLabels bool) error {
	g := n.Graph
	if len(b.Inputs) != len(g.Inputs) {
		return fmt.Errorf("the batch has %d input(s), the graph takes %d", len(b.Inputs), len(g.Inputs))
	}
	grow := func(s []*Mat[F], k int) []*Mat[F] {
		for len(s) < k {
			s = append(s, nil)
		}
		return s[:k]
	}
	bm.in, bm.inBuf = grow(bm.in, len(g.Inputs)), grow(bm.inBuf, len(g.Inputs))
	for i, in := range g.Inputs {
		m, own, err := toInternal(bm.inBuf[i], b.Inputs[i], in.Layout, in.Shape)
		if err != nil {
			return fmt.Errorf("input %q: %w", in.Name, err)
		}
		if own {
			bm.inBuf[i] = m
		}
		bm.in[i] = m
	}
	n.inputMask = nil
	if b.InputMask != nil {
		m, own, err := toInternal(bm.inMask, b.InputMask, "", b.InputMask.Shape)
		if err != nil {
			return fmt.Errorf("input mask: %w", err)
		}
		if own {
			bm.inMask = m
		}
		n.inputMask = m.Data
	}
	if !withLabels {
		return nil
	}
	k := len(g.Outputs)
	bm.lab, bm.labBuf = grow(bm.lab, k), grow(bm.labBuf, k)
	bm.mask, bm.maskBuf = grow(bm.mask, k), grow(bm.maskBuf, k)
	for i, o := range g.Outputs {
		bm.lab[i], bm.mask[i] = nil, nil
		if i < len(b.Labels) && b.Labels[i] != nil {
			t := b.Labels[i]
			var want []int
			if len(t.Shape) > 0 {
				want = n.shapes[o.Vertex]
				if len(want) != len(t.Shape)-1 {
					want = t.Shape[1:] // sparse labels: no layout to undo
				}
			}
			m, own, err := toInternal(bm.labBuf[i], t, o.Layout, want)
			if err != nil {
				return fmt.Errorf("labels of output %q: %w", o.Name, err)
			}
			if own {
				bm.labBuf[i] = m
			}
			bm.lab[i] = m
		}
		if i < len(b.LabelMasks) && b.LabelMasks[i] != nil {
			t := b.LabelMasks[i]
			m, own, err := toInternal(bm.maskBuf[i], t, "", t.Shape)
			if err != nil {
				return fmt.Errorf("label mask of output %q: %w", o.Name, err)
			}
			if own {
				bm.maskBuf[i] = m
			}
			bm.mask[i] = m
		}
	}
	return nil
}

// FitBatch takes one training step on a batch in the source layout and
// returns its loss (before the update).
func (n *Net[F]) FitBatch(b *Batch) (float64, error) {
	if err := n.convertBatch(b, &n.fitBuf, true); err != nil {
		return 0, err
	}
	return n.TrainStep(n.fitBuf.in, n.fitBuf.lab, n.fitBuf.mask)
}

// Predict runs the network in inference mode on inputs laid out as the
// source model took them (one per graph input, batch first), in batches of
// Options.BatchSize, and returns the graph outputs (in their source layout).
func (n *Net[F]) Predict(inputs ...*ir.Tensor) ([]*ir.Tensor, error) {
	layouts := make([]ir.Layout, len(n.Graph.Outputs))
	for i, o := range n.Graph.Outputs {
		layouts[i] = o.Layout
	}
	return n.predict(n.outSlots, layouts, inputs)
}

// PredictVertices is Predict returning the values of named vertices (or
// graph inputs) instead of the graph outputs, in the internal layout: the
// features a frozen extractor hands to a head.
func (n *Net[F]) PredictVertices(vertices []string, inputs ...*ir.Tensor) ([]*ir.Tensor, error) {
	slots := make([]int, len(vertices))
	for i, name := range vertices {
		if s, ok := n.inSlots[name]; ok {
			slots[i] = s
		} else if nd := n.byName[name]; nd != nil {
			slots[i] = nd.slot
		} else {
			return nil, fmt.Errorf("no vertex %q in graph %q", name, n.Graph.Name)
		}
	}
	return n.predict(slots, make([]ir.Layout, len(slots)), inputs)
}

func (n *Net[F]) predict(slots []int, layouts []ir.Layout, inputs []*ir.Tensor) ([]*ir.Tensor, error) {
	g := n.Graph
	// a value a fusion overwrites is asked for: run this pass unfused
	n.pass.unfused = slices.ContainsFunc(slots, func(s int) bool { return n.slotNode[s] != nil && n.slotNode[s].overwrite })
	defer func() { n.pass.unfused = false }()
	if len(inputs) != len(g.Inputs) {
		return nil, fmt.Errorf("the graph takes %d input(s), got %d", len(g.Inputs), len(inputs))
	}
	if n.unbatched(slots) {
		return n.predictWhole(slots, inputs)
	}
	total := -1
	for i, t := range inputs {
		if t == nil || len(t.Shape) == 0 {
			return nil, fmt.Errorf("input %q is missing its batch axis", g.Inputs[i].Name)
		}
		if total >= 0 && t.Shape[0] != total {
			return nil, fmt.Errorf("inputs disagree on the batch size: %d and %d", total, t.Shape[0])
		}
		total = t.Shape[0]
		if ir.NumElements(t.Shape) != len(t.Data) {
			return nil, fmt.Errorf("input %q of shape %v holds %d values", g.Inputs[i].Name, t.Shape, len(t.Data))
		}
	}
	if total <= 0 {
		return nil, errors.New("no examples to predict")
	}
	if l := min(total, maxTailBatch); n.tailFor > 0 && l != n.tailFor {
		n.findTail(l) // fewer examples than the most: a longer tail fits the memory budget
		n.tailFor = l
	}
	outs := make([]*ir.Tensor, len(slots))
	if n.splits(slots, total) {
		return outs, n.predictSplit(slots, layouts, inputs, total, outs)
	}
	sub := &Batch{Inputs: make([]*ir.Tensor, len(inputs))}
	for lo := 0; lo < total; lo += n.opts.BatchSize {
		hi := min(lo+n.opts.BatchSize, total)
		subInputs(sub, inputs, lo, hi)
		if err := n.convertBatch(sub, &n.predBuf, false); err != nil {
			return nil, err
		}
		if _, err := n.forward(n.predBuf.in, false, slots); err != nil {
			return nil, err
		}
		if err := n.collect(outs, slots, layouts, total, lo); err != nil {
			return nil, err
		}
	}
	return outs, nil
}

// subInputs sets sub to the examples [lo, hi) of inputs.
func subInputs(sub *Batch, inputs []*ir.Tensor, lo, hi int) {
	for i, t := range inputs {
		per := ir.NumElements(t.Shape[1:])
		sub.Inputs[i] = &ir.Tensor{Shape: append([]int{hi - lo}, t.Shape[1:]...), Data: t.Data[lo*per : hi*per]}
	}
}

// collect copies the values of slots, examples lo on of total, into outs.
func (n *Net[F]) collect(outs []*ir.Tensor, slots []int, layouts []ir.Layout, total, lo int) error {
	for k, s := range slots {
		y := n.slots[s]
		if outs[k] == nil {
			shape := append([]int{total}, y.Shape[1:]...)
			outs[k] = ir.NewTensor(externalShape(shape, layouts[k])...)
		}
		if ir.NumElements(y.Shape[1:])*total != len(outs[k].Data) {
			return fmt.Errorf("output %d changes shape between batches (%v)", k, y.Shape)
		}
		fromInternal(outs[k], y, layouts[k], lo)
	}
	return nil
}

// splits reports whether a Predict of total examples asking for slots
// runs head and tail apart (inference.go's tailSplit): there is a tail,
// the examples need several head passes, and the tail makes every value
// asked for.
func (n *Net[F]) splits(slots []int, total int) bool {
	t := &n.tail
	if t.from == 0 || total <= n.opts.BatchSize {
		return false
	}
	first := len(n.Graph.Inputs) + t.from
	for _, s := range slots {
		if s < first {
			return false
		}
	}
	return true
}

// predictSplit is predict with the head run on batches of BatchSize
// examples, their crossing values gathered, and the tail run on each
// gathered batch of up to tail.batch examples.
func (n *Net[F]) predictSplit(slots []int, layouts []ir.Layout, inputs []*ir.Tensor, total int, outs []*ir.Tensor) error {
	t := &n.tail
	sub := &Batch{Inputs: make([]*ir.Tensor, len(inputs))}
	keep := append(slices.Clone(slots), t.cross...)
	t.acc = growSlice(t.acc, len(t.cross))
	for lo := 0; lo < total; lo += t.batch {
		hi := min(lo+t.batch, total)
		for s0 := lo; s0 < hi; s0 += n.opts.BatchSize {
			s1 := min(s0+n.opts.BatchSize, hi)
			subInputs(sub, inputs, s0, s1)
			if err := n.convertBatch(sub, &n.predBuf, false); err != nil {
				return err
			}
			if _, err := n.forwardTo(t.from, n.predBuf.in, false, t.cross); err != nil {
				return err
			}
			for k, s := range t.cross {
				y := n.slots[s]
				if s0 == lo {
					t.acc[k] = reuse(t.acc[k], append([]int{hi - lo}, y.Shape[1:]...)...)
				}
				per := ir.NumElements(y.Shape[1:])
				copy(t.acc[k].Data[(s0-lo)*per:], y.Data)
			}
		}
		n.beginPass(false, hi-lo, keep)
		for k, s := range t.cross {
			n.slots[s] = t.acc[k]
		}
		if err := n.runNodes(t.from, len(n.nodes), false); err != nil {
			return err
		}
		if err := n.collect(outs, slots, layouts, total, lo); err != nil {
			return err
		}
	}
	return nil
}

// unbatched reports whether a pass cannot be split into batches: the
// graph runs whole (wholePass, decided at compile), or a value asked for
// has its batch off axis 0.
func (n *Net[F]) unbatched(slots []int) bool {
	if n.wholePass {
		return true
	}
	for _, s := range slots {
		if nd := n.slotNode[s]; nd != nil {
			if _, ok := ir.LayerView(n.full[nd.v.Name]); !ok {
				return true
			}
		}
	}
	return false
}

// predictWhole runs a general tensor program in one pass on the inputs as
// given and returns the values as computed.
func (n *Net[F]) predictWhole(slots []int, inputs []*ir.Tensor) ([]*ir.Tensor, error) {
	xs := make([]*Mat[F], len(inputs))
	for i, t := range inputs {
		if t == nil {
			return nil, fmt.Errorf("input %q is missing", n.Graph.Inputs[i].Name)
		}
		if ir.NumElements(t.Shape) != len(t.Data) {
			return nil, fmt.Errorf("input %q of shape %v holds %d values", n.Graph.Inputs[i].Name, t.Shape, len(t.Data))
		}
		xs[i] = MatFromTensor[F](t)
	}
	if _, err := n.forward(xs, false, slots); err != nil {
		return nil, err
	}
	outs := make([]*ir.Tensor, len(slots))
	for k, s := range slots {
		outs[k] = TensorFromMat(n.slots[s])
	}
	return outs, nil
}
