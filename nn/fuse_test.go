package nn

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// TestInferenceFusionIsExact runs conv → BatchNorm → activation chains
// (im2col, batched im2col, pointwise and depthwise convolutions, with and
// without bias and a convolution activation), residual conv → BatchNorm
// → Add → activation blocks and BatchNorm-less chains as exporters write
// them fused and unfused: inference outputs must be
// identical, and training must not fuse.
func TestInferenceFusionIsExact(t *testing.T) {
	bn := func() ir.Layer { return &ir.BatchNorm{Epsilon: 1e-3, Momentum: 0.9} }
	relu6 := &ir.ActivationLayer{Activation: ir.Act(ir.ActReLU6)}
	graphs := map[string]func() *ir.Graph{
		"resblock":    speedResBlock,
		"mobileblock": speedMobileBlock,
		"bias_act_chain": func() *ir.Graph {
			return Sequential("chain", []int{3, 9, 8},
				&ir.Conv{Rank: 2, Filters: 4, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: ir.Act(ir.ActTanh)},
				bn(), relu6,
				&ir.Conv{Rank: 2, Filters: 4, Groups: 4, Kernel: []int{3, 3}, Strides: []int{2, 2}}, bn(),
				&ir.Conv{Rank: 2, Filters: 2, Kernel: []int{1, 1}}, bn(), &ir.ActivationLayer{Activation: ir.Act(ir.ActSigmoid)})
		},
	}
	graphs["downsample"] = func() *ir.Graph {
		// the shortcut's convolution runs after the main branch's BatchNorm:
		// the Add fuses into the shortcut (its second input), not the main branch
		g := &ir.Graph{Name: "downsample", Inputs: []ir.Input{{Name: "input", Shape: []int{3, 9, 8}}}}
		add := func(name string, l ir.Layer, in ...string) {
			g.Vertices = append(g.Vertices, &ir.Vertex{Name: name, Layer: l, Inputs: in})
		}
		add("conva", &ir.Conv{Rank: 2, Filters: 6, Kernel: []int{3, 3}, Strides: []int{2, 2}, Padding: ir.PadSame}, "input")
		add("bna", bn(), "conva")
		add("convd", &ir.Conv{Rank: 2, Filters: 6, Kernel: []int{1, 1}, Strides: []int{2, 2}}, "input")
		add("bnd", bn(), "convd")
		add("sum", &ir.Merge{Op: ir.MergeAdd}, "bna", "bnd")
		add("out", relu6, "sum")
		g.Outputs = []ir.GraphOutput{{Name: "out", Vertex: "out"}}
		return g
	}
	graphs["exported"] = func() *ir.Graph {
		// as torch exports a ResNet: BatchNorm folded into biased convolutions,
		// conv → ReLU and conv → Add → ReLU
		g := &ir.Graph{Name: "exported", Inputs: []ir.Input{{Name: "input", Shape: []int{6, 9, 8}}}}
		add := func(name string, l ir.Layer, in ...string) {
			g.Vertices = append(g.Vertices, &ir.Vertex{Name: name, Layer: l, Inputs: in})
		}
		relu := func() ir.Layer { return &ir.ActivationLayer{Activation: ir.Act(ir.ActReLU)} }
		add("conv1", &ir.Conv{Rank: 2, Filters: 6, Kernel: []int{3, 3}, Padding: ir.PadSame}, "input")
		add("relu1", relu(), "conv1")
		add("conv2", &ir.Conv{Rank: 2, Filters: 6, Kernel: []int{3, 3}, Padding: ir.PadSame}, "relu1")
		add("sum", &ir.Merge{Op: ir.MergeAdd}, "input", "conv2")
		add("out", relu(), "sum")
		g.Outputs = []ir.GraphOutput{{Name: "out", Vertex: "out"}}
		return g
	}
	graphs["exported_clamps"] = func() *ir.Graph {
		// clampPost's chains on planes that leave a tail past the vectors
		// (9×7): a Clip convolution whose ReLU does not fuse into one pass,
		// an Add without bias before a Clip, an Add after a ReLU convolution
		// with no activation after it, a Clip vertex after a convolution
		g := &ir.Graph{Name: "exported_clamps", Inputs: []ir.Input{{Name: "input", Shape: []int{6, 9, 7}}}}
		add := func(name string, l ir.Layer, in ...string) {
			g.Vertices = append(g.Vertices, &ir.Vertex{Name: name, Layer: l, Inputs: in})
		}
		clip := ir.Activation{Kind: ir.ActClip, Alpha: -0.5, Beta: 0.7}
		add("conv1", &ir.Conv{Rank: 2, Filters: 6, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: clip}, "input")
		add("relu1", &ir.ActivationLayer{Activation: ir.Act(ir.ActReLU)}, "conv1")
		add("conv2", &ir.Conv{Rank: 2, Filters: 6, Kernel: []int{3, 3}, Padding: ir.PadSame, NoBias: true}, "relu1")
		add("sum", &ir.Merge{Op: ir.MergeAdd}, "input", "conv2")
		add("clip", &ir.ActivationLayer{Activation: ir.Activation{Kind: ir.ActClip, Alpha: -0.3, Beta: 0.4}}, "sum")
		add("conv3", &ir.Conv{Rank: 2, Filters: 6, Kernel: []int{1, 1}, Activation: ir.Act(ir.ActReLU)}, "clip")
		add("sum3", &ir.Merge{Op: ir.MergeAdd}, "conv3", "clip")
		add("conv4", &ir.Conv{Rank: 2, Filters: 5, Kernel: []int{3, 3}, Padding: ir.PadSame}, "sum3")
		add("out", &ir.ActivationLayer{Activation: ir.Activation{Kind: ir.ActClip, Alpha: -0.2, Beta: 0.3}}, "conv4")
		g.Outputs = []ir.GraphOutput{{Name: "out", Vertex: "out"}}
		return g
	}
	// the vertices each graph must fuse
	wantFused := map[string][]string{
		"resblock":   {"bn1", "relu1", "bn2", "sum", "out"},
		"downsample": {"bna", "bnd", "sum", "out"},
		"exported":   {"relu1", "sum", "out"},
		// conv2 is relu1's consumer, not an Add's input made before it
		"exported_clamps": {"relu1", "sum", "clip", "sum3", "out"},
	}
	// the convolutions whose fused epilogue runs in one pass (clampPost)
	wantOnePass := map[string]map[string]bool{
		"exported":        {"conv1": true, "conv2": true},
		"exported_clamps": {"conv1": false, "conv2": true, "conv3": true, "conv4": true},
	}
	// the graphs without a 3×3 stride-1 convolution (Winograd's)
	noWinograd := map[string]bool{"downsample": true, "mobileblock": true}
	defer func(on bool) { useSIMD = on }(useSIMD)
	simdAvail := useSIMD
	for name, mk := range graphs {
		for _, simd := range []bool{false, true} {
			// wino: the 3×3 stride-1 convolutions run through Winograd, the
			// fused epilogue (a residual Add's included) after its output stage
			for _, wino := range []bool{false, true} {
				if wino && noWinograd[name] {
					continue
				}
				useSIMD = simd && simdAvail
				t.Run(fmt.Sprintf("%s/simd=%v/winograd=%v", name, useSIMD, wino), func(t *testing.T) {
					if wino {
						lowerWinogradThresholds(t)
					}
					g := mk()
					coreInit(t, g, 7)
					rng := rand.New(rand.NewSource(3))
					randomBatchNorms(g, rng)
					shape := append([]int{3}, g.Inputs[0].Shape...)
					x := []*Mat[float32]{MatFromTensor[float32](RandTensor(rng, -2, 2, shape...))}
					fused, err := CompileWith[float32](g, Options{})
					if err != nil {
						t.Fatal(err)
					}
					plain, err := CompileWith[float32](g, Options{NoFusion: true})
					if err != nil {
						t.Fatal(err)
					}
					nFused := 0
					for _, nd := range fused.nodes {
						if nd.fused {
							nFused++
						}
					}
					if nFused == 0 {
						t.Fatal("nothing was fused")
					}
					for _, v := range wantFused[name] {
						if !fused.byName[v].fused {
							t.Fatalf("%s is not fused", v)
						}
					}
					if onePass := wantOnePass[name]; onePass != nil {
						for _, nd := range fused.nodes {
							c, ok := any(nd.op).(*convOp[float32])
							if !ok || c.fused == nil {
								continue
							}
							if got := c.clampPost(c.params.Values["b"], nil) != nil; got != onePass[nd.v.Name] {
								t.Errorf("%s: one-pass epilogue %v, want %v", nd.v.Name, got, onePass[nd.v.Name])
							}
						}
					}
					a, err := fused.Forward(x, false)
					if err != nil {
						t.Fatal(err)
					}
					ya := append([]float32(nil), a[0].Data...)
					if wino {
						nWino := 0
						for _, nd := range fused.nodes {
							if c, ok := any(nd.op).(*convOp[float32]); ok && c.core.isWinograd() {
								nWino++
							}
						}
						if nWino == 0 {
							t.Fatal("no convolution took Winograd")
						}
					}
					b, err := plain.Forward(x, false)
					if err != nil {
						t.Fatal(err)
					}
					for i := range ya {
						if ya[i] != b[0].Data[i] {
							t.Fatalf("fused output [%d] = %v, unfused %v", i, ya[i], b[0].Data[i])
						}
					}
				})
			}
		}
	}
}

// TestBiasClampAddMatchesPasses: biasClampAdd with each clamping
// activation's bounds gives the bits of the passes it replaces, past the
// bounds, at signed zeros and infinities, on and off the vector loop.
func TestBiasClampAddMatchesPasses(t *testing.T) {
	defer func(on bool) { useSIMD = on }(useSIMD)
	simdAvail := useSIMD
	vals := []float32{-10, -0.5, float32(math.Copysign(0, -1)), 0, 0.5, 5.9, 6.5, 10, float32(math.Inf(1)), float32(math.Inf(-1))}
	acts := []activation[float32]{{kind: ir.ActIdentity}, {kind: ir.ActReLU}, {kind: ir.ActReLU6}, {kind: ir.ActClip, alpha: -0.3, beta: 0.4}}
	for _, simd := range []bool{false, true} {
		useSIMD = simd && simdAvail
		for _, a := range acts {
			for _, b := range []float32{float32(math.Copysign(0, -1)), 0.25} {
				x := make([]float32, 21) // two vectors and a tail
				skip := make([]float32, len(x))
				for i := range x {
					x[i], skip[i] = vals[i%len(vals)], vals[(i*3+1)%len(vals)]
				}
				want := append([]float32(nil), x...)
				affineRange(want, want, 1, b)
				a.forwardRange(want, want)
				addTo(want, skip)
				a.forwardRange(want, want)
				lo, hi, ok := a.clampBounds()
				if !ok {
					t.Fatalf("%s: not a clamp", a.kind)
				}
				got := append([]float32(nil), x...)
				biasClampAdd(got, skip, b, lo, hi, lo, hi)
				wantNoSkip := append([]float32(nil), x...)
				affineRange(wantNoSkip, wantNoSkip, 1, b)
				a.forwardRange(wantNoSkip, wantNoSkip)
				noSkip := append([]float32(nil), x...)
				biasClampAdd(noSkip, nil, b, lo, hi, 0, 0)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Errorf("%s, b %v, simd %v: [%d] (x %v, skip %v) = %v, want %v", a.kind, b, useSIMD, i, x[i], skip[i], got[i], want[i])
					}
					if math.Float32bits(noSkip[i]) != math.Float32bits(wantNoSkip[i]) {
						t.Errorf("%s, b %v, simd %v, no skip: [%d] (x %v) = %v, want %v", a.kind, b, useSIMD, i, x[i], noSkip[i], wantNoSkip[i])
					}
				}
			}
		}
	}
}

// TestPredictVerticesSeesUnfusedValues: asking for a value that fusion
// overwrites (a BatchNorm before its fused activation or residual Add, the
// Add before its activation) runs the pass unfused, so it is the vertex's
// own value; the chain's last value is the same either way.
func TestPredictVerticesSeesUnfusedValues(t *testing.T) {
	g := speedResBlock()
	coreInit(t, g, 9)
	rng := rand.New(rand.NewSource(4))
	randomBatchNorms(g, rng)
	x := RandTensor(rng, -2, 2, 2, 64, 28, 28)
	fused, err := CompileWith[float32](g, Options{Inference: true})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := CompileWith[float32](g, Options{Inference: true, NoFusion: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, vs := range [][]string{{"bn1"}, {"bn2"}, {"sum"}, {"conv2", "out"}, {"out"}} {
		got, err := fused.PredictVertices(vs, x)
		if err != nil {
			t.Fatal(err)
		}
		want, err := plain.PredictVertices(vs, x)
		if err != nil {
			t.Fatal(err)
		}
		for k := range want {
			for i, w := range want[k].Data {
				if got[k].Data[i] != w {
					t.Fatalf("%v: %s[%d] = %v fused, %v unfused", vs, vs[k], i, got[k].Data[i], w)
				}
			}
		}
	}
	if _, err := fused.Predict(x); err != nil || !fused.byName["sum"].fused {
		t.Fatalf("the fusion is gone after an unfused pass (%v)", err)
	}
}

// randomBatchNorms gives g's BatchNorms non-trivial running statistics and
// affine parameters.
func randomBatchNorms(g *ir.Graph, rng *rand.Rand) {
	for _, v := range g.Vertices {
		if _, ok := v.Layer.(*ir.BatchNorm); ok {
			for i := range v.Params["mean"].Data {
				v.Params["mean"].Data[i] = float32(rng.Float64() - 0.5)
				v.Params["var"].Data[i] = float32(rng.Float64() + 0.5)
				v.Params["gamma"].Data[i] = float32(rng.Float64() + 0.5)
				v.Params["beta"].Data[i] = float32(rng.Float64() - 0.5)
			}
		}
	}
}
