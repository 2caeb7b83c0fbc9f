package nn

import (
	"errors"
	"fmt"
	"slices"
	"unsafe"

	"github.com/retarget-dev/retarget/internal/hugemem"
	"github.com/retarget-dev/retarget/ir"
)

// ErrInference is returned by training entry points (Backward, Fit,
// TrainStep, a training Forward) of a network compiled with
// Options.Inference.
var ErrInference = errors.New("the network was compiled for inference only (Options.Inference / CompileInference): compile it with Compile to train it")

// CompileInference builds the float32 network of a graph for forward passes
// only: no gradient buffers, no training caches, and activation buffers are
// recycled as soon as their last consumer ran. See Options.Inference.
func CompileInference(g *ir.Graph) (*Network, error) {
	return CompileWith[float32](g, Options{Inference: true})
}

// bufPool recycles the activation buffers of an inference network. A buffer
// handed out by outBuf is registered under its first element with the Mat
// that owns it; release takes it back from that owner once no live slot
// shares its memory, and the next outBuf of any op may reuse it.
type bufPool[F Float] struct {
	free  [][]F
	owner map[*F]*Mat[F]
}

func newBufPool[F Float]() *bufPool[F] { return &bufPool[F]{owner: map[*F]*Mat[F]{}} }

// get returns a slice of length n: the smallest free buffer that fits, or a
// new one.
func (b *bufPool[F]) get(n int) []F {
	if n == 0 {
		return nil
	}
	best := -1
	for i, s := range b.free {
		if best < 0 || fitsBetter(cap(s), cap(b.free[best]), n) {
			best = i
		}
	}
	if best < 0 || cap(b.free[best]) < n {
		return hugemem.Make[F](n)
	}
	return swapRemove(&b.free, best)[:n]
}

// release returns m's buffer to the pool if the pool handed it out; the
// owning Mat (m itself or the Mat m is a view of) loses it.
func (b *bufPool[F]) release(m *Mat[F]) {
	if m == nil || cap(m.Data) == 0 {
		return
	}
	key := unsafe.SliceData(m.Data)
	o, ok := b.owner[key]
	if !ok {
		return
	}
	delete(b.owner, key)
	b.free = append(b.free, o.Data[:cap(o.Data)])
	o.Data = nil
	m.Data = nil
}

// releaseAll takes back every buffer handed out (the start of a pass: the
// previous pass's values are dead).
func (b *bufPool[F]) releaseAll() {
	for key, o := range b.owner {
		b.free = append(b.free, o.Data[:cap(o.Data)])
		o.Data = nil
		delete(b.owner, key)
	}
}

// outBuf is reuse for the buffers an op's Forward writes in full: in an
// inference network they come from the network's pool.
func outBuf[F Float](p *Pass[F], m *Mat[F], shape ...int) *Mat[F] {
	b := p.pool
	if b == nil {
		return reuse(m, shape...)
	}
	n := ir.NumElements(shape)
	if m == nil {
		m = &Mat[F]{}
	}
	if cap(m.Data) < n {
		b.release(m)
		m.Data = b.get(n)
		if n > 0 {
			b.owner[unsafe.SliceData(m.Data)] = m
		}
	}
	m.Data = m.Data[:n]
	m.Shape = append(m.Shape[:0], shape...)
	return m
}

// putScratch gives a scratch slice back to an inference network's pool.
func putScratch[F Float](p *Pass[F], s []F) {
	if p.pool != nil {
		p.pool.put(s)
	}
}

// put takes back a scratch slice that get handed out.
func (b *bufPool[F]) put(s []F) {
	if cap(s) > 0 {
		b.free = append(b.free, s[:cap(s)])
	}
}

// overlaps reports whether two slices share memory.
func overlaps[F Float](a, b []F) bool {
	if cap(a) == 0 || cap(b) == 0 {
		return false
	}
	var z F
	size := uintptr(unsafe.Sizeof(z))
	a0, b0 := uintptr(unsafe.Pointer(unsafe.SliceData(a))), uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return a0 < b0+uintptr(cap(b))*size && b0 < a0+uintptr(cap(a))*size
}

// memoryBatch is the batch size, at most limit, whose activations (the
// largest inputs+output of one vertex, per example) stay within a sixteenth of
// the parameters' memory, or 32 MiB when the network is small: predict's
// peak memory is then the parameters plus a little (VGG16 at batch 8 would
// hold 1.5 times its weights, mostly the first convolutions' planes), while
// dense layers still see several examples at a time.
func (n *Net[F]) memoryBatch(limit int) int {
	act := 0
	for _, a := range n.nodeActivations() {
		act = max(act, a)
	}
	return min(limit, max(1, n.memoryBudget()/max(act, 1)))
}

// memoryBudget is the activation memory (elements) memoryBatch allows.
func (n *Net[F]) memoryBudget() int {
	return max(n.paramCount()/16, 8<<20) // elements: 32 MiB of float32
}

func (n *Net[F]) paramCount() int {
	params := 0
	for _, nd := range n.nodes {
		params += nodeParams(nd)
	}
	return params
}

func nodeParams[F Float](nd *node[F]) int {
	k := 0
	for _, m := range nd.params.Values {
		k += len(m.Data)
	}
	return k
}

// nodeActivations is each node's inputs+output per example.
func (n *Net[F]) nodeActivations() []int {
	acts := make([]int, len(n.nodes))
	for i, nd := range n.nodes {
		acts[i] = ir.NumElements(n.shapes[nd.v.Name])
		for _, in := range nd.v.InputShapes(n.shapes) {
			acts[i] += ir.NumElements(in)
		}
	}
	return acts
}

// tailSplit lets Predict run the nodes after the large activations — the
// dense layers of VGG16, whose weights a pass of one example reads from
// memory for a single row — on batches gathered from several smaller
// passes of the nodes before them (the head).
type tailSplit[F Float] struct {
	from  int   // the tail's first node; 0: no split
	cross []int // slots made by the head (or graph inputs) that the tail reads
	batch int   // examples per tail pass
	acc   []*Mat[F]
}

// maxTailBatch is the most examples a tail pass runs.
const maxTailBatch = 64

// findTail picks the split whose tail holds the most parameters among
// those whose activations at limit examples stay within the memory budget
// and within the largest activation of a head pass (the tail reuses the
// head's buffers), and whose crossing values (held through both) take at
// most a quarter of the budget; none when the head already runs limit
// examples or a sequence mask could cross. VGG16's tail at batch 8 then
// starts at its 28×28 layers, whose planes take what one 224×224 image's
// do: their Winograd passes transform the filters once for 8 images
// instead of once for each.
func (n *Net[F]) findTail(limit int) {
	n.tail = tailSplit[F]{}
	if n.opts.BatchSize >= limit || n.wholePass {
		return
	}
	for i, nd := range n.nodes {
		if nd.slot != len(n.Graph.Inputs)+i {
			return // crossing relies on slots following the nodes
		}
		switch l := nd.v.Layer.(type) {
		case *ir.Masking:
			return
		case *ir.Embedding:
			if l.MaskZero {
				return
			}
		}
	}
	budget, acts := n.memoryBudget(), n.nodeActivations()
	inputs := len(n.Graph.Inputs)
	slotPer := func(s int) int {
		if s < inputs {
			return ir.NumElements(n.Graph.Inputs[s].Shape)
		}
		return ir.NumElements(n.shapes[n.nodes[s-inputs].v.Name])
	}
	headAct := make([]int, len(acts)) // headAct[c]: the largest activation before node c
	for c := 1; c < len(acts); c++ {
		headAct[c] = max(headAct[c-1], acts[c-1])
	}
	bestParams, bestCross := 0, 0
	tailAct, tailParams := 0, 0
	for c := len(n.nodes) - 1; c >= 1; c-- {
		tailAct, tailParams = max(tailAct, acts[c]), tailParams+nodeParams(n.nodes[c])
		if tailAct*limit > budget {
			break // an earlier cut only adds activations
		}
		cross := n.crossing(c)
		per := 0
		for _, s := range cross {
			per += slotPer(s)
		}
		if per*limit > budget/4 || tailAct*limit > headAct[c]*n.opts.BatchSize || tailParams == 0 {
			continue
		}
		if tailParams > bestParams || tailParams == bestParams && per < bestCross {
			bestParams, bestCross = tailParams, per
			n.tail = tailSplit[F]{from: c, cross: cross, batch: limit}
		}
	}
}

// crossing lists the slots made before node c (graph inputs included) that
// nodes from c on read.
func (n *Net[F]) crossing(c int) []int {
	first := len(n.Graph.Inputs) + c // the first slot the tail makes
	var cross []int
	for _, nd := range n.nodes[c:] {
		for _, s := range nd.in {
			if s < first && !slices.Contains(cross, s) {
				cross = append(cross, s)
			}
		}
	}
	return cross
}

// liveness is the per-pass bookkeeping of an inference network: how many
// consumers of each slot have yet to run.
func (n *Net[F]) initLiveness() {
	n.slotUses = make([]int, len(n.slots))
	n.slotKeep = make([]bool, len(n.slots))
	for i := range n.Graph.Inputs {
		n.slotKeep[i] = true
	}
}

// startPass resets the counts and reclaims the previous pass's buffers;
// keep are the slots the caller reads after the pass.
func (n *Net[F]) startPass(keep []int) {
	n.pool.releaseAll()
	for s := len(n.Graph.Inputs); s < len(n.slots); s++ {
		n.slots[s] = nil
		n.slotUses[s] = n.slotEdges[s]
		n.slotKeep[s] = false
	}
	for _, s := range keep {
		n.slotKeep[s] = true
	}
}

// consumed is called after nd ran: its inputs lose a pending consumer, and
// a slot nobody reads any more gives its buffer back unless a live slot
// still shares it (a reshape view, a fused pass-through); the last of those
// to die gives it back.
func (n *Net[F]) consumed(nd *node[F]) {
	for _, s := range nd.in {
		n.slotUses[s]--
		if n.slotUses[s] > 0 || n.slotKeep[s] {
			continue
		}
		m := n.slots[s]
		n.slots[s] = nil
		if m == nil || n.sharedByLive(m) {
			continue
		}
		n.pool.release(m)
	}
}

func (n *Net[F]) sharedByLive(m *Mat[F]) bool {
	for _, o := range n.slots {
		if o != nil && overlaps(o.Data, m.Data) {
			return true
		}
	}
	return false
}

func (n *Net[F]) checkTrainable(what string) error {
	if n.opts.Inference {
		return fmt.Errorf("%s: %w", what, ErrInference)
	}
	return nil
}

// takeConvWeights hands the float32 convolutions whose weights are the
// graph's their storage (Options.TakeWeights).
func (n *Net[F]) takeConvWeights() {
	for _, nd := range n.nodes {
		c, ok := any(nd.op).(*convOp[float32])
		if !ok || c.core.groups != 1 {
			continue
		}
		t := nd.v.Params[c.wName]
		w := c.params.Values[c.wName]
		if t == nil || w == nil {
			continue
		}
		c.core.takeWeights = true
		// the op's weights alias the graph's float32 tensor (MatFromTensor),
		// so the graph loses its copy; a guard, should an op ever get
		// weights of its own
		if len(t.Data) > 0 && len(w.Data) > 0 && &t.Data[0] != &w.Data[0] {
			continue
		}
		t.Data = nil
	}
}
