package onnx

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/retarget-dev/retarget/ir"
)

func init() {
	register("Gemm", 1, (*converter).gemm)
	register("MatMul", 1, (*converter).matmul)
	register("Conv", 1, (*converter).conv)
	register("ConvTranspose", 1, (*converter).convTranspose)
	register("BatchNormalization", 1, (*converter).batchNorm)
	register("InstanceNormalization", 1, (*converter).instanceNorm)
	register("PRelu", 1, (*converter).prelu)
	register("Gather", 1, (*converter).gather)
}

func toInts(v []int64) []int {
	if v == nil {
		return nil
	}
	out := make([]int, len(v))
	for k, x := range v {
		out[k] = int(x)
	}
	return out
}

// gemm: Y = alpha*A'*B' + beta*C with A computed and B, C constant.
func (c *converter) gemm(n *node) error {
	if n.int("transA", 0) != 0 {
		return fmt.Errorf("transA=1 would transpose the batch axis; not supported")
	}
	_, x, err := c.batchFirst(n, 0)
	if err != nil {
		return err
	}
	if len(c.irShapes[x]) != 1 {
		return fmt.Errorf("Gemm needs a 2-D input, got IR shape %v", c.irShapes[x])
	}
	b, err := c.constIn(n, 1, "B")
	if err != nil {
		return err
	}
	if len(b.shape) != 2 {
		return fmt.Errorf("B must be 2-D, got %v", b.shape)
	}
	transB := n.int("transB", 0) != 0
	nIn, units := b.shape[0], b.shape[1]
	if transB {
		nIn, units = units, nIn
	}
	if c.irShapes[x][0] != nIn {
		return fmt.Errorf("input has %d features, B needs %d", c.irShapes[x][0], nIn)
	}
	alpha, beta := float64(n.float("alpha", 1)), float64(n.float("beta", 1))
	wt := gemmWeights(b, transB, alpha, c.uses[n.in(1)] == 1)
	params := map[string]*ir.Tensor{"W": tensorOf([]int{nIn, units}, wt)}
	cv, err := c.optConst(n, 2, "C")
	if err != nil {
		return err
	}
	l := &ir.Dense{Units: units, Activation: ir.Act(ir.ActIdentity), NoBias: cv == nil}
	if cv != nil {
		bias, err := biasVector(cv, units, beta)
		if err != nil {
			return err
		}
		params["b"] = tensorOf([]int{units}, bias)
	}
	return c.addOut(n, 0, n.label, l, []string{x}, params)
}

// gemmWeights returns alpha·B (transposed when trans) as the [nIn, units]
// float32 matrix Dense keeps. When this Gemm is B's only reader it works in
// place on the values float32s hands over, so a big Gemm's weights are not
// held twice; otherwise B stays as it is for its other readers.
func gemmWeights(b *cval, trans bool, alpha float64, sole bool) []float32 {
	var w []float32
	if sole && !b.shared || !trans && alpha == 1 {
		w = b.float32s()
	} else {
		w = b.float32Copy()
	}
	if trans {
		transposeInPlace(w, b.shape[0], b.shape[1])
	}
	if alpha != 1 {
		for k, v := range w {
			w[k] = float32(alpha * float64(v))
		}
	}
	return w
}

// transposeInPlace turns the rows×cols row-major matrix w into its
// cols×rows transpose without a second matrix. With cols = q·bl it first
// moves bl-value blocks (rows×q → q×rows, following the permutation's
// cycles), then transposes each contiguous rows×bl slab through a small
// buffer: moving blocks instead of single values keeps it fast on
// weights of hundreds of megabytes.
func transposeInPlace(w []float32, rows, cols int) {
	if rows <= 1 || cols <= 1 {
		return
	}
	bl := 1
	for d := min(cols, 256); d > 1; d-- {
		if cols%d == 0 {
			bl = d
			break
		}
	}
	q := cols / bl
	permuteBlocks(w, rows, q, bl)
	// the slabs are independent: one buffer per goroutine, within
	// transposeScratch together; 16 rows at a time keep both the reads and
	// the writes within a few cache lines
	workers := min(runtime.GOMAXPROCS(0), q, max(rows*cols>>20, 1), max(transposeScratch/(rows*bl), 1))
	var wg sync.WaitGroup
	for t := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			box := transposeBufs.Get().(*[]float32)
			defer transposeBufs.Put(box)
			if cap(*box) < rows*bl {
				*box = make([]float32, rows*bl)
			}
			tmp := (*box)[:rows*bl]
			for s := q * t / workers; s < q*(t+1)/workers; s++ {
				slab := w[s*rows*bl : (s+1)*rows*bl]
				for r0 := 0; r0 < rows; r0 += 16 {
					r1 := min(r0+16, rows)
					for c := 0; c < bl; c++ {
						dst := tmp[c*rows+r0 : c*rows+r1]
						for i := range dst {
							dst[i] = slab[(r0+i)*bl+c]
						}
					}
				}
				copy(slab, tmp)
			}
		}()
	}
	wg.Wait()
}

// transposeScratch bounds the slab buffers of one transposeInPlace
// (float32 values: 16 MiB). One 4 MiB buffer per goroutine for VGG16's
// 25088×4096 classifier took predict's peak from 1.195× the file at
// GOMAXPROCS=2 to 1.207× at 8 and 1.228× at 16 (they stay in transposeBufs
// until collected); with this bound it is 1.195–1.198× at 2, 8 and 16.
const transposeScratch = 4 << 20

// transposeBufs keeps transposeInPlace's slab buffers: made anew for each
// weight matrix (4 MB per goroutine for VGG16's dense layers) they were
// garbage the collector does not reclaim before the heap doubles, which
// past a large model's weights is never; reusing them took VGG16
// predict's peak RSS from 647 to 636 MB.
var transposeBufs = sync.Pool{New: func() any { return new([]float32) }}

// permuteBlocks transposes w seen as a rows×cols matrix of bl-value
// blocks: block i moves to i·rows mod (n-1), n = rows·cols. The cycles of
// that permutation are found first, walking indices only; large matrices
// then move their cycles on several goroutines (the cycles are disjoint).
// VGG16's 4096×25088 classifier took 122 ms on one goroutine, 63 on two.
func permuteBlocks(w []float32, rows, cols, bl int) {
	n := rows * cols
	if rows <= 1 || cols <= 1 {
		return
	}
	next := func(i int) int { return int(uint64(i) * uint64(rows) % uint64(n-1)) }
	workers := min(runtime.GOMAXPROCS(0), max(n*bl>>22, 1)) // a goroutine per 16 MiB
	// each goroutine's cycles (their first blocks), about n/workers blocks
	// each, in the order they are found
	cycles := make([][]int, workers)
	done := make([]uint64, (n+63)/64)
	moved, share := 0, (n-2+workers-1)/workers
	for start := 1; start < n-1; start++ {
		if done[start/64]&(1<<(start%64)) != 0 {
			continue
		}
		length := 0
		for i := start; ; {
			done[i/64] |= 1 << (i % 64)
			length++
			if i = next(i); i == start {
				break
			}
		}
		if length > 1 {
			t := min(moved/share, workers-1)
			cycles[t] = append(cycles[t], start)
		}
		moved += length
	}
	var wg sync.WaitGroup
	for _, mine := range cycles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			carry, swap := make([]float32, bl), make([]float32, bl)
			for _, start := range mine {
				copy(carry, w[start*bl:(start+1)*bl])
				for i := start; ; {
					j := next(i)
					dst := w[j*bl : (j+1)*bl]
					copy(swap, dst)
					copy(dst, carry)
					carry, swap = swap, carry
					if i = j; j == start {
						break
					}
				}
			}
		}()
	}
	wg.Wait()
}

// biasVector broadcasts a bias of shape [], [1], [units] or [1, units].
func biasVector(cv *cval, units int, scale float64) ([]float32, error) {
	f := cv.floats()
	out := make([]float32, units)
	switch {
	case len(f) == 1:
		for k := range out {
			out[k] = float32(scale * f[0])
		}
	case len(f) == units && (len(cv.shape) == 1 || len(cv.shape) == 2 && cv.shape[0] == 1):
		for k := range out {
			out[k] = float32(scale * f[k])
		}
	default:
		return nil, fmt.Errorf("bias of shape %v does not broadcast to [%d] per sample", cv.shape, units)
	}
	return out, nil
}

// consumer returns the single node reading value name, or nil.
func (c *converter) consumer(name string) *node {
	if c.uses[name] != 1 {
		return nil
	}
	for i, np := range c.nodes {
		for _, in := range np.GetInput() {
			if in == name {
				return &node{NodeProto: np, label: nodeLabel(np, i)}
			}
		}
	}
	return nil
}

// matmul: x·W with constant W becomes Dense; a following Add of a
// constant bias is fused into it.
func (c *converter) matmul(n *node) error {
	if c.isConst(n.in(0)) {
		return fmt.Errorf("constant·computed products are not supported (only computed·constant)")
	}
	w, err := c.constIn(n, 1, "the second operand")
	if err != nil {
		return err
	}
	if len(w.shape) != 2 {
		return fmt.Errorf("weights must be 2-D, got %v", w.shape)
	}
	d, x, err := c.batchFirst(n, 0)
	if err != nil {
		return err
	}
	if len(d.shape) < 2 || c.irShapes[x][len(c.irShapes[x])-1] != w.shape[0] {
		return fmt.Errorf("input IR shape %v does not match weights %v", c.irShapes[x], w.shape)
	}
	units := w.shape[1]
	params := map[string]*ir.Tensor{"W": tensorOf(w.shape, w.float32s())}
	l := &ir.Dense{Units: units, Activation: ir.Act(ir.ActIdentity), NoBias: true}
	out := n.out(0)
	if add := c.consumer(out); add != nil && add.GetOpType() == "Add" {
		other := add.in(0)
		if other == out {
			other = add.in(1)
		}
		if bv, ok := c.consts[other]; ok && bv.size() == units && (len(bv.shape) == 1 || prod(bv.shape[:len(bv.shape)-1]) == 1) {
			bias, err := biasVector(floatCval([]int{units}, bv.floats()), units, 1)
			if err != nil {
				return err
			}
			params["b"] = tensorOf([]int{units}, bias)
			l.NoBias = false
			c.skip[add.NodeProto] = true
			v, err := c.add(n.label, l, []string{x}, params)
			if err != nil {
				return err
			}
			c.vals[add.out(0)] = &dyn{v: v, shape: withBatch(c.irShapes[v]), batch: 0}
			return nil
		}
	}
	return c.addOut(n, 0, n.label, l, []string{x}, params)
}

// padding converts auto_pad/pads attributes.
func padding(n *node, rank int) (ir.Padding, []int, error) {
	switch ap := n.str("auto_pad", "NOTSET"); ap {
	case "NOTSET", "":
		pads := toInts(n.ints("pads"))
		if len(pads) == 0 {
			return ir.PadValid, nil, nil
		}
		if len(pads) != 2*rank {
			return "", nil, fmt.Errorf("pads %v for %d spatial axes", pads, rank)
		}
		zero := true
		for _, p := range pads {
			if p < 0 {
				return "", nil, fmt.Errorf("negative pads %v", pads)
			}
			zero = zero && p == 0
		}
		if zero {
			return ir.PadValid, nil, nil
		}
		return ir.PadExplicit, pads, nil
	case "VALID":
		return ir.PadValid, nil, nil
	case "SAME_UPPER":
		return ir.PadSame, nil, nil
	case "SAME_LOWER":
		return ir.PadSameLow, nil, nil
	default:
		return "", nil, fmt.Errorf("auto_pad %q", ap)
	}
}

func (c *converter) conv(n *node) error {
	w, err := c.constIn(n, 1, "W")
	if err != nil {
		return err
	}
	rank := len(w.shape) - 2
	if rank < 1 || rank > 3 {
		return fmt.Errorf("%d-D convolution; only 1-D, 2-D and 3-D are supported", rank)
	}
	d, x, err := c.batchFirst(n, 0)
	if err != nil {
		return err
	}
	if len(d.shape) != rank+2 {
		return fmt.Errorf("input rank %d for a %d-D convolution", len(d.shape), rank)
	}
	pad, pads, err := padding(n, rank)
	if err != nil {
		return err
	}
	l := &ir.Conv{Rank: rank, Filters: w.shape[0], Kernel: append([]int{}, w.shape[2:]...),
		Strides: toInts(n.ints("strides")), Dilations: toInts(n.ints("dilations")),
		Groups: int(n.int("group", 1)), Padding: pad, Pads: pads, Activation: ir.Act(ir.ActIdentity)}
	params := map[string]*ir.Tensor{"W": tensorOf(w.shape, w.float32s())}
	b, err := c.optConst(n, 2, "B")
	if err != nil {
		return err
	}
	if b == nil {
		l.NoBias = true
	} else {
		if b.size() != l.Filters {
			return fmt.Errorf("bias of %d values for %d filters", b.size(), l.Filters)
		}
		params["b"] = tensorOf([]int{l.Filters}, b.float32s())
	}
	return c.addOut(n, 0, n.label, l, []string{x}, params)
}

func (c *converter) convTranspose(n *node) error {
	w, err := c.constIn(n, 1, "W")
	if err != nil {
		return err
	}
	rank := len(w.shape) - 2
	if rank < 1 || rank > 3 {
		return fmt.Errorf("only 1-D, 2-D and 3-D transposed convolution are supported, W has shape %v", w.shape)
	}
	if len(n.ints("output_shape")) > 0 {
		return fmt.Errorf("output_shape is not supported; export with explicit pads")
	}
	d, x, err := c.batchFirst(n, 0)
	if err != nil {
		return err
	}
	if len(d.shape) != rank+2 {
		return fmt.Errorf("input rank %d for a %d-D transposed convolution", len(d.shape), rank)
	}
	pad, pads, err := padding(n, rank)
	if err != nil {
		return err
	}
	g := int(n.int("group", 1))
	if rank == 2 {
		rank = 0 // ir's default
	}
	l := &ir.ConvTranspose2D{Rank: rank, Filters: w.shape[1] * g, Kernel: append([]int{}, w.shape[2:]...),
		Strides: toInts(n.ints("strides")), Dilations: toInts(n.ints("dilations")), Groups: g,
		Padding: pad, Pads: pads, OutputPadding: toInts(n.ints("output_padding")), Activation: ir.Act(ir.ActIdentity)}
	params := map[string]*ir.Tensor{"W": tensorOf(w.shape, w.float32s())}
	b, err := c.optConst(n, 2, "B")
	if err != nil {
		return err
	}
	if b == nil {
		l.NoBias = true
	} else {
		if b.size() != l.Filters {
			return fmt.Errorf("bias of %d values for %d filters", b.size(), l.Filters)
		}
		params["b"] = tensorOf([]int{l.Filters}, b.float32s())
	}
	return c.addOut(n, 0, n.label, l, []string{x}, params)
}

func (c *converter) batchNorm(n *node) error {
	for k := 1; k < len(n.GetOutput()); k++ {
		if n.out(k) != "" && c.uses[n.out(k)] > 0 {
			return fmt.Errorf("training outputs (running mean/var) are used; export the model in eval mode")
		}
	}
	d, x, err := c.batchFirst(n, 0)
	if err != nil {
		return err
	}
	if len(d.shape) < 2 {
		return fmt.Errorf("BatchNormalization needs an input of rank >= 2")
	}
	if n.int("spatial", 1) == 0 && len(d.shape) > 2 {
		return fmt.Errorf("spatial=0 (per-activation statistics) is not supported")
	}
	if n.int("training_mode", 0) != 0 {
		return fmt.Errorf("training_mode=1; export the model in eval mode")
	}
	ch := d.shape[1]
	params := map[string]*ir.Tensor{}
	for k, name := range []string{"gamma", "beta", "mean", "var"} {
		v, err := c.constIn(n, k+1, name)
		if err != nil {
			return err
		}
		if v.size() != ch {
			return fmt.Errorf("%s has %d values for %d channels", name, v.size(), ch)
		}
		params[name] = tensorOf([]int{ch}, v.float32s())
	}
	l := &ir.BatchNorm{Epsilon: n.float("epsilon", 1e-5), Momentum: n.float("momentum", 0.9), Axis: 0}
	return c.addOut(n, 0, n.label, l, []string{x}, params)
}

// perSample converts a constant operand for broadcasting against d: its
// shape without the batch axis and its values. A constant spanning the
// batch axis of a fixed-batch model (shape (N, ...) with N the inputs'
// static batch) keeps one of its slices when they are equal (constant
// folding writes p.expand(N, ...) so); otherwise batch is N and the values
// are one tensor per sample, batch first (an ir.Constant with Batch N).
func (c *converter) perSample(d *dyn, cv *cval) (shape []int, data []float32, batch int, err error) {
	r, k := len(d.shape), len(cv.shape)
	if k > r {
		return nil, nil, 0, fmt.Errorf("constant of rank %d against a rank-%d value would add axes before the batch", k, r)
	}
	out := append([]int{}, cv.shape...)
	data = cv.float32s()
	if pos := d.batch - (r - k); pos >= 0 {
		if n := out[pos]; n != 1 {
			if int64(n) != c.staticBatch {
				return nil, nil, 0, &BatchAxisError{What: fmt.Sprintf("a constant of shape %v", cv.shape)}
			}
			outer, inner := prod(out[:pos]), prod(out[pos+1:])
			if equalSlices(data, outer, n, inner) {
				data = firstSlices(data, outer, n, inner)
			} else {
				data, batch = batchFirst(data, outer, n, inner), n
			}
		}
		out = append(out[:pos], out[pos+1:]...)
	}
	if len(out) == 0 {
		out = []int{1}
	}
	return out, data, batch, nil
}

// batchFirst moves the middle axis of outer×n×inner data to the front.
func batchFirst(data []float32, outer, n, inner int) []float32 {
	if outer == 1 {
		return data
	}
	out := make([]float32, 0, len(data))
	for j := 0; j < n; j++ {
		for o := 0; o < outer; o++ {
			out = append(out, data[(o*n+j)*inner:(o*n+j+1)*inner]...)
		}
	}
	return out
}

// equalSlices reports whether data, seen as outer×n×inner, is the same
// for every index of its middle axis.
func equalSlices(data []float32, outer, n, inner int) bool {
	for o := 0; o < outer; o++ {
		first := data[o*n*inner : (o*n+1)*inner]
		for j := 1; j < n; j++ {
			s := data[(o*n+j)*inner : (o*n+j+1)*inner]
			for k := range s {
				if math.Float32bits(s[k]) != math.Float32bits(first[k]) {
					return false
				}
			}
		}
	}
	return true
}

// firstSlices keeps index 0 of the middle axis of outer×n×inner data.
func firstSlices(data []float32, outer, n, inner int) []float32 {
	out := make([]float32, 0, outer*inner)
	for o := 0; o < outer; o++ {
		out = append(out, data[o*n*inner:(o*n+1)*inner]...)
	}
	return out
}

func (c *converter) prelu(n *node) error {
	d, x, err := c.batchFirst(n, 0)
	if err != nil {
		return err
	}
	slope, err := c.constIn(n, 1, "slope")
	if err != nil {
		return err
	}
	if c.opset < 7 && len(slope.shape) == 1 && len(d.shape) > 2 && slope.shape[0] == d.shape[1] {
		// Before opset 7 PRelu did not broadcast: a (C,) slope is one
		// value per channel on axis 1 (PyTorch 0.3 wrote it so).
		cs := make([]int, len(d.shape)-1)
		for k := range cs {
			cs[k] = 1
		}
		cs[0] = slope.shape[0]
		slope = &cval{shape: cs, f32: slope.float32Copy()}
	}
	ss, data, batch, err := c.perSample(d, slope)
	if err != nil {
		return err
	}
	if batch > 0 {
		return &BatchAxisError{What: fmt.Sprintf("a slope of shape %v with a value per sample", slope.shape)}
	}
	in := c.irShapes[x]
	for len(ss) < len(in) {
		ss = append([]int{1}, ss...)
	}
	if len(ss) > len(in) {
		return fmt.Errorf("slope %v for input %v", slope.shape, d.shape)
	}
	l := &ir.PReLU{}
	for k := range in {
		if ss[k] == 1 && in[k] != 1 {
			l.SharedAxes = append(l.SharedAxes, k)
		} else if ss[k] != in[k] {
			return fmt.Errorf("slope %v does not broadcast to %v", slope.shape, d.shape)
		}
	}
	params := map[string]*ir.Tensor{"alpha": tensorOf(l.AlphaShape(in), data)}
	return c.addOut(n, 0, n.label, l, []string{x}, params)
}

// gather: a constant table indexed by computed ids is an Embedding; a
// computed value indexed by constant ids is a Slice.
func (c *converter) gather(n *node) error {
	if table, ok := c.consts[n.in(0)]; ok {
		if len(table.shape) != 2 || n.int("axis", 0) != 0 {
			return fmt.Errorf("Gather on a constant table needs a 2-D table and axis 0 (an embedding)")
		}
		_, ids, err := c.batchFirst(n, 1)
		if err != nil {
			return err
		}
		l := &ir.Embedding{InputDim: table.shape[0], OutputDim: table.shape[1]}
		params := map[string]*ir.Tensor{"W": tensorOf(table.shape, table.float32s())}
		return c.addOut(n, 0, n.label, l, []string{ids}, params)
	}
	d, err := c.dynIn(n, 0)
	if err != nil {
		return err
	}
	idx, err := c.constIn(n, 1, "indices")
	if err != nil {
		return err
	}
	ax, err := c.irAxis(d, n.int("axis", 0), "Gather")
	if err != nil {
		return err
	}
	oax, _ := normAxis(n.int("axis", 0), len(d.shape))
	dim := d.shape[oax]
	ids := idx.ints()
	if len(ids) == 0 || len(idx.shape) > 1 {
		return fmt.Errorf("Gather with indices of shape %v on a computed value is not supported", idx.shape)
	}
	for k := range ids {
		if ids[k] < 0 && dim > 0 {
			ids[k] += int64(dim)
		}
		if k > 0 && ids[k] != ids[k-1]+1 {
			return fmt.Errorf("Gather with non-contiguous indices %v is not supported", idx.ints())
		}
	}
	x, err := c.mat(d)
	if err != nil {
		return err
	}
	if len(idx.shape) == 0 && ax == 0 && len(c.irShapes[x]) == 2 && dim > 0 && ids[0] == int64(dim-1) {
		// out[:, -1] of a sequence: the last time step.
		v, err := c.add(n.label, &ir.LastTimeStep{}, []string{x}, nil)
		if err != nil {
			return err
		}
		c.vals[n.out(0)] = c.like(v, 0)
		return nil
	}
	l := &ir.Slice{Axes: []int{ax}, Starts: []int{int(ids[0])}, Ends: []int{int(ids[len(ids)-1]) + 1}}
	v, err := c.add(n.label, l, []string{x}, nil)
	if err != nil {
		return err
	}
	shape := append([]int{}, d.shape...)
	if len(idx.shape) == 0 {
		shape = append(shape[:oax], shape[oax+1:]...)
	} else {
		shape[oax] = len(ids)
	}
	batch := d.batch
	if oax < d.batch && len(idx.shape) == 0 {
		batch--
	}
	c.vals[n.out(0)] = &dyn{v: v, shape: shape, batch: batch}
	return nil
}

func (c *converter) instanceNorm(n *node) error {
	d, x, err := c.batchFirst(n, 0)
	if err != nil {
		return err
	}
	if len(d.shape) < 3 {
		return fmt.Errorf("InstanceNormalization needs an input of rank >= 3, got %v", d.shape)
	}
	ch := d.shape[1]
	params := map[string]*ir.Tensor{}
	for k, name := range []string{"gamma", "beta"} {
		v, err := c.constIn(n, k+1, name)
		if err != nil {
			return err
		}
		if v.size() != ch {
			return fmt.Errorf("%s has %d values for %d channels", name, v.size(), ch)
		}
		params[name] = tensorOf([]int{ch}, v.float32s())
	}
	return c.addOut(n, 0, n.label, &ir.InstanceNorm{Epsilon: n.float("epsilon", 1e-5)}, []string{x}, params)
}
