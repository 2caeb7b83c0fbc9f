package nn

import (
	"errors"
	"fmt"
	"math/rand"

	"github.com/retarget-dev/retarget/internal/hugemem"
	"github.com/retarget-dev/retarget/ir"
)

// LossOp is an op that carries a loss (Output, RnnOutput).
type LossOp[F Float] interface {
	Op[F]
	// ComputeLoss evaluates the loss of the latest training Forward against
	// labels (mask: nil, or one weight per row of the output without its
	// last axis, e.g. (batch) or (batch, T)) and keeps its gradient; the
	// next Backward adds it to dOut, which is nil when nothing else consumes
	// the output.
	ComputeLoss(p *Pass[F], labels, mask *Mat[F]) (float64, error)
}

// InputGradSkipper is implemented by ops that can skip computing the
// gradient of inputs that need none (the first layer after a graph input
// or a frozen prefix). need[i] tells whether input i needs its gradient;
// Backward may then return nil for it.
type InputGradSkipper interface {
	SkipInputGrads(need []bool)
}

// dropoutSetter is implemented by ops whose rate a TrainConfig.Dropout
// overrides.
type dropoutSetter interface {
	setDropout(rate float64)
}

// Options tune Compile.
type Options struct {
	// InputGrads makes Backward compute the gradient of the graph inputs
	// (gradient checks, saliency).
	InputGrads bool
	// BatchSize bounds the batches Predict runs (default 64; for an
	// Inference network, fewer when the activations of 64 examples would
	// take more than an eighth of the parameters' memory, see memoryBatch;
	// a graph with per-sample constants always runs its fixed batch).
	BatchSize int
	// NoFusion keeps every vertex separate at inference. By default a
	// convolution followed by a BatchNorm, an activation, or a residual
	// Add and an activation (fuse.go) computes them in one pass when not
	// training, and Value then returns the fused result for the
	// convolution and the absorbed vertices. PredictVertices asking for
	// one of those but the last runs that pass unfused.
	NoFusion bool
	// Inference compiles for forward passes only (predict, featurize,
	// evaluate): no gradient buffers are allocated, ops keep no training
	// caches, and each activation buffer goes back to a pool for reuse as
	// soon as its last consumer ran, so memory stays near the weights plus
	// the widest few activations. Value then returns only graph inputs and
	// outputs (nil for a released vertex; use PredictVertices), and the
	// training entry points return ErrInference.
	Inference bool
	// TakeWeights (with Inference) lets the network take over the graph's
	// convolution weights: the first pass packs them into the GEMM
	// kernel's layout in their own storage, and later passes use them as
	// they are instead of packing a copy each time (about 4% of ResNet50's
	// CPU profile), with no second copy held.
	// Those vertices' "W" tensors in the graph are set to nil: do not
	// train, export or compile the graph again afterwards. For a program
	// that imports a model, predicts and exits (retarget predict), or a
	// graph made for the one network (Featurize's copy of the frozen part).
	TakeWeights bool
}

// Net is a compiled graph running in F. Parameters of a float32 Net alias
// the graph's tensors: training updates the ir.Graph in place (an
// inference network with Options.TakeWeights takes its convolution
// weights from the graph instead).
type Net[F Float] struct {
	Graph *ir.Graph
	opts  Options
	ins   []*Mat[F]      // forward's scratch: one node's inputs
	upd   paramUpdate[F] // Update's task, reused per parameter
	clr   clearRange[F]  // Backward's, clearing the gradients
	outs  []*Mat[F]

	nodes  []*node[F]
	byName map[string]*node[F]
	shapes map[string][]int
	full   map[string][]int // full shapes (ir.Graph.FullShapes)
	// wholePass: Predict runs the graph in one pass (an input without a
	// batch axis, ops that combine examples); slotNode is each slot's node
	// (nil for graph inputs)
	wholePass bool
	slotNode  []*node[F]
	inSlots   map[string]int
	outSlots  []int
	outNodes  []*node[F] // nil for an output that is a graph input

	slots     []*Mat[F] // values: graph inputs then one per node
	masks     [][]F     // the sequence mask of each slot's value, or nil
	slotNeed  []bool    // the slot's gradient is wanted
	slotEdges []int     // how many (consumer, input) edges read the slot
	slotGrad  []*Mat[F]
	slotOwned []*Mat[F] // accumulation buffers of slots read more than once

	pool     *bufPool[F]  // inference networks only (inference.go)
	tail     tailSplit[F] // inference networks: Predict's larger batches for the nodes past the big activations
	tailFor  int          // the examples per tail pass the tail was picked for; 0: the tail is not picked by memory
	slotUses []int        // consumers of each slot yet to run this pass
	slotKeep []bool       // read after the pass: never released within it

	pass      Pass[F]
	seed      int64
	inputMask []F

	fitBuf, predBuf batchMats[F]
	outLoss         []float64 // per graph output, of the latest ComputeLoss (unweighted)
	lrScale         float64   // multiplies every learning rate (0: 1)
}

// OutputLosses are the unweighted losses of each graph output in the
// latest ComputeLoss (0 for outputs without a loss); the slice is reused.
func (n *Net[F]) OutputLosses() []float64 { return n.outLoss }

// SetLRScale multiplies every learning rate from the next update on (a
// reduce-on-plateau callback lowers it); 1 restores the configured rates.
func (n *Net[F]) SetLRScale(s float64) { n.lrScale = s }

// LRScale is the factor SetLRScale set (1 by default).
func (n *Net[F]) LRScale() float64 {
	if n.lrScale == 0 {
		return 1
	}
	return n.lrScale
}

// LearningRate is the graph's scheduled learning rate at its current step,
// times LRScale (vertices with their own training override may differ).
func (n *Net[F]) LearningRate() float64 {
	c := n.Graph.Train
	if c == nil {
		c = &ir.TrainConfig{}
	}
	return LearningRate(c, n.Graph.Step) * n.LRScale()
}

func growFloats(s []float64, k int) []float64 {
	if len(s) != k {
		s = make([]float64, k)
	}
	return s
}

// Network is the float32 engine.
type Network = Net[float32]

type node[F Float] struct {
	v         *ir.Vertex
	op        Op[F]
	params    *Params[F]
	specs     []ir.ParamSpec
	in        []int
	slot      int
	needGrad  bool // Backward runs through it
	train     bool // its parameters are updated
	lossSet   bool // ComputeLoss ran since the last Forward
	fused     bool // absorbed into its producer at inference (fuse.go)
	overwrite bool // a later vertex's fusion overwrites its value at inference
	freshGrad bool // its Backward writes its gradients whole: Backward does not clear them first
	ranBack   bool // its Backward ran in the latest Backward
	through   int  // the input a fused node passes on
	cfg       *ir.TrainConfig
	maskAnd   []F                  // a merge's combined input masks
	state     map[string]*Mat[F]   // updater state of a non-float32 Net
	stateKeys map[[2]string]string // stateKey's cache
}

// Compile builds the float32 network of a graph. Every vertex must have
// its parameters (see InitGraph for models built from scratch).
func Compile(g *ir.Graph) (*Network, error) {
	return CompileWith[float32](g, Options{})
}

// CompileWith builds a network in F with options. A float64 network copies
// the parameters (it is the gradient-check path); a float32 one aliases them.
func CompileWith[F Float](g *ir.Graph, opts Options) (*Net[F], error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	order, err := g.TopoOrder()
	if err != nil {
		return nil, err
	}
	shapes, err := g.Shapes()
	if err != nil {
		return nil, err
	}
	full, err := g.FullShapes()
	if err != nil {
		return nil, err
	}
	autoBatch := opts.BatchSize <= 0
	if autoBatch {
		opts.BatchSize = 64
	}
	n := &Net[F]{Graph: g, opts: opts, byName: map[string]*node[F]{}, shapes: shapes, full: full, inSlots: map[string]int{}}
	if g.Train != nil {
		n.seed = g.Train.Seed
	}
	n.pass.RNG = rand.New(rand.NewSource(n.seed))
	slotOf := map[string]int{}
	for i, in := range g.Inputs {
		slotOf[in.Name] = i
		n.inSlots[in.Name] = i
		n.slotNeed = append(n.slotNeed, opts.InputGrads)
	}
	var problems []error
	for _, v := range order {
		nd := &node[F]{v: v, slot: len(n.slotNeed)}
		slotOf[v.Name] = nd.slot
		for _, in := range v.Inputs {
			nd.in = append(nd.in, slotOf[in])
		}
		inShapes, outShape := v.LayerShapes(shapes, full), shapes[v.Name]
		if ir.IsTensorOp(v.Layer) {
			outShape = full[v.Name]
		}
		nd.specs = v.Layer.Params(inShapes)
		nd.cfg = v.Train.Merged(g.Train)
		if nd.cfg == nil {
			nd.cfg = &ir.TrainConfig{}
		}
		nd.params = &Params[F]{Values: map[string]*Mat[F]{}, Grads: map[string]*Mat[F]{}}
		for _, s := range nd.specs {
			t := v.Params[s.Name]
			nd.params.Values[s.Name] = MatFromTensor[F](t)
			if s.Trainable && !v.Frozen && !opts.Inference {
				// the buffer comes with the first Backward (allocGrads):
				// a network only evaluated never holds it
				nd.params.Grads[s.Name] = &Mat[F]{Shape: append([]int(nil), t.Shape...)}
				nd.train = true
			}
		}
		need := nd.train
		inNeed := make([]bool, len(nd.in))
		for i, s := range nd.in {
			inNeed[i] = n.slotNeed[s]
			need = need || inNeed[i]
		}
		nd.needGrad = need
		n.slotNeed = append(n.slotNeed, need)
		b, err := builderFor[F](v.Layer.Kind())
		if err == nil {
			nd.op, err = b(v, inShapes, outShape, nd.params)
		}
		if err != nil {
			problems = append(problems, &ir.VertexError{Vertex: v.Name, Err: err})
			continue
		}
		if s, ok := nd.op.(InputGradSkipper); ok {
			s.SkipInputGrads(inNeed)
		}
		if d, ok := nd.op.(dropoutSetter); ok && nd.cfg.Dropout != nil {
			d.setDropout(*nd.cfg.Dropout)
		}
		nd.freshGrad = overwriteGrads(nd.op)
		n.nodes = append(n.nodes, nd)
		n.byName[v.Name] = nd
	}
	if len(problems) > 0 {
		return nil, &ir.ValidationError{Problems: problems}
	}
	nSlots := len(n.slotNeed)
	n.slotNode = make([]*node[F], nSlots)
	for _, nd := range n.nodes {
		n.slotNode[nd.slot] = nd
	}
	n.wholePass = g.MixesExamples(full)
	for _, in := range g.Inputs {
		n.wholePass = n.wholePass || in.NoBatch
	}
	n.slots = make([]*Mat[F], nSlots)
	n.slotEdges = make([]int, nSlots)
	n.slotGrad = make([]*Mat[F], nSlots)
	n.slotOwned = make([]*Mat[F], nSlots)
	for _, nd := range n.nodes {
		for _, s := range nd.in {
			n.slotEdges[s]++
		}
	}
	for _, o := range g.Outputs {
		n.outSlots = append(n.outSlots, slotOf[o.Vertex])
		n.outNodes = append(n.outNodes, n.byName[o.Vertex])
	}
	if !opts.NoFusion {
		n.fuseInference()
	}
	if opts.Inference && opts.TakeWeights {
		n.takeConvWeights()
	}
	if opts.Inference {
		if autoBatch {
			n.opts.BatchSize = n.memoryBatch(maxTailBatch)
			n.findTail(maxTailBatch)
			n.tailFor = maxTailBatch
		}
		n.pool = newBufPool[F]()
		n.pass.pool = n.pool
		n.initLiveness()
	}
	if fb := fixedBatch(g); fb > 0 {
		n.opts.BatchSize = fb // per-sample constants: Predict runs batches of exactly fb
	}
	return n, nil
}

// Shapes returns the output shape (without batch) of every vertex and input.
func (n *Net[F]) Shapes() map[string][]int { return n.shapes }

// SetSeed sets the seed of the dropout RNG (default: the graph's
// TrainConfig.Seed). Each step reseeds from (seed, graph step), so a resumed
// run draws the same masks as an uninterrupted one.
func (n *Net[F]) SetSeed(seed int64) { n.seed = seed }

// SetInputMask sets the (batch, T) time-step mask that the next Forward
// passes to the ops (Pass.Mask); nil for none.
func (n *Net[F]) SetInputMask(mask []F) { n.inputMask = mask }

// Forward runs the network on inputs in the internal layout (one per graph
// input, with the batch first) and returns the graph outputs. The returned
// slice and tensors are the network's buffers: they are overwritten by the
// next call.
func (n *Net[F]) Forward(inputs []*Mat[F], train bool) ([]*Mat[F], error) {
	return n.forward(inputs, train, n.outSlots)
}

// forward is Forward; an inference network keeps the values of the keep
// slots (and the graph inputs) until the next pass.
func (n *Net[F]) forward(inputs []*Mat[F], train bool, keep []int) ([]*Mat[F], error) {
	return n.forwardTo(len(n.nodes), inputs, train, keep)
}

// forwardTo is forward running the nodes before to only (a split
// Predict's head pass).
func (n *Net[F]) forwardTo(to int, inputs []*Mat[F], train bool, keep []int) ([]*Mat[F], error) {
	if train {
		if err := n.checkTrainable("training forward pass"); err != nil {
			return nil, err
		}
	}
	g := n.Graph
	if len(inputs) != len(g.Inputs) {
		return nil, fmt.Errorf("the graph takes %d input(s), got %d", len(g.Inputs), len(inputs))
	}
	batch := -1
	for i, in := range g.Inputs {
		x := inputs[i]
		if x == nil {
			return nil, fmt.Errorf("input %q is missing", in.Name)
		}
		if err := checkShape(x, in.Shape, !in.NoBatch); err != nil {
			return nil, fmt.Errorf("input %q: %w", in.Name, err)
		}
		n.slots[i] = x
		if in.NoBatch {
			continue
		}
		if batch >= 0 && x.Shape[0] != batch {
			return nil, fmt.Errorf("input %q has batch size %d, input %q has %d", in.Name, x.Shape[0], g.Inputs[0].Name, batch)
		}
		batch = x.Shape[0]
	}
	if batch < 0 {
		batch = 1
	}
	n.beginPass(train, batch, keep)
	for i := range g.Inputs {
		n.masks[i] = n.inputMask
	}
	if err := n.runNodes(0, to, train); err != nil {
		return nil, err
	}
	n.outs = growSlice(n.outs, len(n.outSlots))
	for i, s := range n.outSlots {
		n.outs[i] = n.slots[s]
	}
	return n.outs, nil
}

// beginPass starts a forward pass of batch examples; keep are the slots
// read after it.
func (n *Net[F]) beginPass(train bool, batch int, keep []int) {
	if n.pool != nil {
		n.startPass(keep)
	}
	p := &n.pass
	p.Train, p.Batch = train, batch
	p.RNG.Seed(n.seed*1000003 + n.Graph.Step*7919 + 1)
	n.masks = growSlice(n.masks, len(n.slots))
	clear(n.masks)
}

// runNodes runs the nodes [from, to).
func (n *Net[F]) runNodes(from, to int, train bool) error {
	p := &n.pass
	ins := n.ins[:0]
	for _, nd := range n.nodes[from:to] {
		ins = ins[:0]
		p.InMasks = p.InMasks[:0]
		p.Mask = nil
		for _, s := range nd.in {
			ins = append(ins, n.slots[s])
			p.InMasks = append(p.InMasks, n.masks[s])
			if p.Mask == nil {
				p.Mask = n.masks[s]
			}
		}
		if ir.MergesMasks(nd.v.Layer) {
			p.Mask = mergeMasks(&nd.maskAnd, nd.v.Layer, p.InMasks, ins)
		}
		nd.lossSet = false
		if nd.fused && !train && !p.unfused {
			n.slots[nd.slot] = ins[nd.through]
		} else {
			p.NoGrad = train && !nd.needGrad
			out, err := n.runForward(nd, ins)
			if err != nil {
				return &ir.VertexError{Vertex: nd.v.Name, Err: err}
			}
			n.slots[nd.slot] = out
		}
		if ir.StopsMask(nd.v.Layer) {
			p.Mask = nil
		}
		n.masks[nd.slot] = p.Mask
		if n.pool != nil {
			n.consumed(nd)
		}
	}
	p.NoGrad = false
	n.ins = ins[:0]
	return nil
}

// runForward calls an op, turning a panic in a kernel into an error so that
// bad data never takes the process down.
func (n *Net[F]) runForward(nd *node[F], ins []*Mat[F]) (out *Mat[F], err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("forward failed: %v", r)
		}
	}()
	out = nd.op.Forward(&n.pass, ins)
	if f, ok := nd.op.(Failer); ok {
		if e := f.Err(); e != nil {
			return nil, e
		}
	}
	if out == nil {
		return nil, errors.New("the op produced no output")
	}
	return out, nil
}

// fixedBatch is the batch size a graph with per-sample constants
// (ir.Constant.Batch) runs on, 0 when any size works.
func fixedBatch(g *ir.Graph) int {
	for _, v := range g.Vertices {
		if c, ok := v.Layer.(*ir.Constant); ok && c.Batch > 0 {
			return c.Batch
		}
	}
	return 0
}

// checkShape checks a value against a shape without the batch, or (batched
// false) against its whole shape.
func checkShape[F Float](x *Mat[F], want []int, batched bool) error {
	lead := 0
	if batched {
		lead = 1
	}
	bad := len(x.Shape) != len(want)+lead
	for i, d := range want {
		bad = bad || d >= 0 && x.Shape[i+lead] != d
	}
	if bad { // formatted only on failure: a training step allocates nothing
		if batched {
			return fmt.Errorf("shape %v, want [batch %v]", x.Shape, want)
		}
		return fmt.Errorf("shape %v, want %v", x.Shape, want)
	}
	if ir.NumElements(x.Shape) != len(x.Data) {
		return fmt.Errorf("%d values for shape %v", len(x.Data), x.Shape)
	}
	return nil
}

// ComputeLoss evaluates the loss of every loss-bearing output after a
// training Forward and returns their sum. labels and masks are indexed like
// the graph outputs (nil for outputs without a loss; masks may be nil).
func (n *Net[F]) ComputeLoss(labels, masks []*Mat[F]) (float64, error) {
	var total float64
	found := false
	for i, nd := range n.outNodes {
		if nd == nil {
			continue
		}
		lo, ok := nd.op.(LossOp[F])
		if !ok {
			continue
		}
		found = true
		if i >= len(labels) || labels[i] == nil {
			return 0, fmt.Errorf("output %q needs labels", n.Graph.Outputs[i].Name)
		}
		var m *Mat[F]
		if i < len(masks) {
			m = masks[i]
		}
		l, err := lo.ComputeLoss(&n.pass, labels[i], m)
		if err != nil {
			return 0, &ir.VertexError{Vertex: nd.v.Name, Err: err}
		}
		nd.lossSet = true
		if w := ir.LossWeightOf(nd.v.Layer); w != 1 {
			if s, ok := nd.op.(interface{ scaleLossGrad(float64) }); ok {
				s.scaleLossGrad(w)
			}
			total += w * l
		} else {
			total += l
		}
		n.outLoss = growFloats(n.outLoss, len(n.outNodes))
		n.outLoss[i] = l
	}
	if !found {
		return 0, errors.New("the graph has no output layer with a loss (add an Output vertex)")
	}
	return total, nil
}

// Backward propagates the losses of ComputeLoss, plus optional seeds
// (dLoss/dOutput per graph output, nil entries allowed), filling the
// parameter gradients (zeroed first) and, with Options.InputGrads, the
// input gradients.
func (n *Net[F]) Backward(seeds []*Mat[F]) (err error) {
	if err := n.checkTrainable("Backward"); err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("backward failed: %v", r)
		}
	}()
	for _, nd := range n.nodes {
		allocGrads(nd.params)
		nd.ranBack = false
		if !nd.freshGrad {
			n.clearGrads(nd)
		}
	}
	clear(n.slotGrad)
	for i, s := range seeds {
		if s != nil && i < len(n.outSlots) && n.slotNeed[n.outSlots[i]] {
			n.accumulate(n.outSlots[i], s)
		}
	}
	p := &n.pass
	p.Train = true
	for i := len(n.nodes) - 1; i >= 0; i-- {
		nd := n.nodes[i]
		if !nd.needGrad {
			continue
		}
		d := n.slotGrad[nd.slot]
		if d == nil && !nd.lossSet {
			continue
		}
		dIns := nd.op.Backward(p, d)
		nd.ranBack = true
		for k, s := range nd.in {
			if k < len(dIns) && dIns[k] != nil && n.slotNeed[s] {
				n.accumulate(s, dIns[k])
			}
		}
	}
	for _, nd := range n.nodes {
		if nd.freshGrad && !nd.ranBack { // no gradient reached it: zero, not the last step's
			n.clearGrads(nd)
		}
	}
	return nil
}

// clearGrads zeroes a node's parameter gradients.
func (n *Net[F]) clearGrads(nd *node[F]) {
	for _, gr := range nd.params.Grads {
		n.clr.d = gr.Data
		parallelRange(len(gr.Data), 1, &n.clr)
	}
	n.clr.d = nil
}

// overwriteGrads reports whether op writes every parameter gradient whole
// in its one Backward of a step, and tells it to: a dense layer's weight
// gradient is then the product itself (beta 0) instead of a sum into a
// cleared matrix, which cost the seed's head two passes over its 411 MB
// gradient a step. Only a vertex's own dense op qualifies, not one inside
// another op (attention's projections).
func overwriteGrads[F Float](op Op[F]) bool {
	var d *denseOp[F]
	switch o := op.(type) {
	case *denseOp[F]:
		d = o
	case *outputOp[F]:
		d = o.denseOp
	default:
		return false
	}
	d.overwrite = true
	return true
}

func (n *Net[F]) accumulate(slot int, d *Mat[F]) {
	cur := n.slotGrad[slot]
	if cur == nil {
		if n.slotEdges[slot] <= 1 {
			n.slotGrad[slot] = d
			return
		}
		o := reuse(n.slotOwned[slot], d.Shape...)
		copy(o.Data, d.Data)
		n.slotOwned[slot] = o
		n.slotGrad[slot] = o
		return
	}
	addTo(cur.Data, d.Data)
}

// InputGrad returns dLoss/dInput of a graph input after Backward (needs
// Options.InputGrads), in the internal layout.
func (n *Net[F]) InputGrad(name string) *Mat[F] {
	s, ok := n.inSlots[name]
	if !ok {
		return nil
	}
	return n.slotGrad[s]
}

// Value returns the latest output of a vertex or graph input (internal
// layout). After an inference Forward, vertices fused into a convolution
// (see Options.NoFusion) share its fused output. A network compiled with
// Options.Inference keeps only the graph inputs and outputs: Value is nil
// for a vertex whose buffer went back to the pool.
func (n *Net[F]) Value(name string) *Mat[F] {
	if s, ok := n.inSlots[name]; ok {
		return n.slots[s]
	}
	if nd := n.byName[name]; nd != nil {
		return n.slots[nd.slot]
	}
	return nil
}

// Params returns the compiled parameters of a vertex (nil if unknown).
func (n *Net[F]) Params(vertex string) *Params[F] {
	if nd := n.byName[vertex]; nd != nil {
		allocGrads(nd.params)
		return nd.params
	}
	return nil
}

// allocGrads gives every gradient of p that has none yet its (zeroed)
// buffer. Compile leaves them empty until the first Backward, Update or
// Params call.
func allocGrads[F Float](p *Params[F]) {
	for _, g := range p.Grads {
		if g.Data == nil {
			g.Data = hugemem.Make[F](ir.NumElements(g.Shape))
		}
	}
}

// TrainStep runs one forward/backward/update on a batch in the internal
// layout and returns the loss before the update.
func (n *Net[F]) TrainStep(inputs, labels, masks []*Mat[F]) (float64, error) {
	if err := n.checkTrainable("TrainStep"); err != nil {
		return 0, err
	}
	if _, err := n.Forward(inputs, true); err != nil {
		return 0, err
	}
	loss, err := n.ComputeLoss(labels, masks)
	if err != nil {
		return 0, err
	}
	if err := n.Backward(nil); err != nil {
		return 0, err
	}
	n.Update()
	return loss, nil
}
