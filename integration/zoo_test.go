package integration_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/retarget"
	"github.com/retarget-dev/retarget/zoo"
)

// arch is a zoo model and the edits a transfer-learning user makes on it.
type arch struct {
	name       string
	build      func() (*ir.Graph, error)
	features   string // end of the feature extractor (frozen)
	classifier string
	// widen: convs widened in preserve mode; check verifies the sizes the
	// widen reached (other merge branches, consumers).
	widen []string
	check func(t *testing.T, g *ir.Graph)
	// insertAfter is a relu/relu6 an identity conv goes after.
	insertAfter string
	// removeBlock removes a block (keep connections + Add); zeroBranch
	// makes the source compute what the graph without the block computes.
	removeBlock func(b *retarget.Builder) *retarget.Builder
	zeroBranch  func(g *ir.Graph)
	short       bool // cheap enough for -short
}

const extra = 4

func identityConv() *ir.Conv {
	return &ir.Conv{Rank: 2, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: ir.Act(ir.ActReLU)}
}

func identityAct() *ir.ActivationLayer {
	return &ir.ActivationLayer{Activation: ir.Act(ir.ActIdentity)}
}

// zeroBN makes a BatchNorm output zero (gamma and beta 0).
func zeroBN(g *ir.Graph, name string) {
	v := g.Vertex(name)
	clear(v.Params["gamma"].Data)
	clear(v.Params["beta"].Data)
}

// filters is a conv's filter count; a vertex removed by the edits reads
// as the size it would have (want), so checks skip it.
func filters(g *ir.Graph, name string, want int) int {
	if v := g.Vertex(name); v != nil {
		return v.Layer.(*ir.Conv).Filters
	}
	return want
}

// inChannels is the input size of a conv's (or dense's) weights, as filters.
func inChannels(g *ir.Graph, name string, want int) int {
	if v := g.Vertex(name); v != nil {
		if _, ok := v.Layer.(*ir.Dense); ok {
			return v.Params["W"].Shape[0]
		}
		return v.Params["W"].Shape[1]
	}
	return want
}

var archs = []arch{{
	name: "resnet50",
	build: func() (*ir.Graph, error) {
		return zoo.ResNet50(zoo.Options{IncludeTop: true, InputShape: []int{32, 32, 3}, Classes: 5, Seed: 3})
	},
	features: "avg_pool", classifier: "predictions",
	// a conv feeding a residual Add (the shortcut branch and every later
	// block's Add of the stage must follow) and one feeding BN+ReLU
	widen: []string{"conv2_block1_3_conv", "conv4_block2_1_conv"},
	check: func(t *testing.T, g *ir.Graph) {
		const want = 256 + extra
		for _, n := range []string{"conv2_block1_3_conv", "conv2_block1_0_conv", "conv2_block2_3_conv", "conv2_block3_3_conv"} {
			if f := filters(g, n, want); f != want {
				t.Errorf("%s has %d filters, want %d", n, f, want)
			}
		}
		for _, n := range []string{"conv2_block2_1_conv", "conv2_block3_1_conv", "conv3_block1_0_conv", "conv3_block1_1_conv"} {
			if c := inChannels(g, n, want); c != want {
				t.Errorf("%s reads %d channels, want %d", n, c, want)
			}
		}
		if f, c := filters(g, "conv4_block2_1_conv", want), inChannels(g, "conv4_block2_2_conv", want); f != want || c != want {
			t.Errorf("conv4_block2_1_conv widen: %d filters, consumer reads %d", f, c)
		}
	},
	insertAfter: "conv3_block1_1_relu",
	removeBlock: func(b *retarget.Builder) *retarget.Builder {
		return b.Remove("conv2_block3_1_conv", false).Remove("conv2_block3_add", true).
			Add("conv2_block3_add", identityAct(), "conv2_block2_out")
	},
	zeroBranch: func(g *ir.Graph) { zeroBN(g, "conv2_block3_3_bn") },
}, {
	name: "mobilenetv2",
	build: func() (*ir.Graph, error) {
		return zoo.MobileNetV2(zoo.Options{IncludeTop: true, InputShape: []int{32, 32, 3}, Alpha: 0.35, Classes: 5, Seed: 3})
	},
	features: "global_average_pooling2d", classifier: "predictions",
	// expand convs feed BN + ReLU6 + a depthwise conv; block_1_project
	// feeds block_2_add
	widen: []string{"block_1_expand", "block_5_expand", "block_1_project"},
	check: func(t *testing.T, g *ir.Graph) {
		dw := g.Vertex("block_1_depthwise").Layer.(*ir.Conv)
		if c := inChannels(g, "block_1_project", 0); dw.Groups != 48+extra || dw.Filters != 48+extra || c != 48+extra {
			t.Errorf("block_1 depthwise: groups %d filters %d; project reads %d", dw.Groups, dw.Filters, c)
		}
		const want = 8 + extra
		if f1, f2, c := filters(g, "block_1_project", want), filters(g, "block_2_project", want), inChannels(g, "block_3_expand", want); f1 != want || f2 != want || c != want {
			t.Errorf("block_1_project widen: %d/%d filters, block_3_expand reads %d", f1, f2, c)
		}
	},
	insertAfter: "block_3_expand_relu",
	removeBlock: func(b *retarget.Builder) *retarget.Builder {
		return b.Remove("block_2_expand", false).Remove("block_2_add", true).
			Add("block_2_add", identityAct(), "block_1_project_BN")
	},
	zeroBranch: func(g *ir.Graph) { zeroBN(g, "block_2_project_BN") },
	short:      true,
}, {
	name: "vgg16",
	build: func() (*ir.Graph, error) {
		return zoo.VGG16(zoo.Options{IncludeTop: true, InputShape: []int{32, 32, 3}, Classes: 5, Seed: 3})
	},
	features: "fc2", classifier: "predictions",
	widen: []string{"block4_conv2", "fc1"},
	check: func(t *testing.T, g *ir.Graph) {
		if c, d := inChannels(g, "block4_conv3", 0), inChannels(g, "fc2", 0); c != 512+extra || d != 4096+extra {
			t.Errorf("widen consumers: block4_conv3 reads %d, fc2 reads %d", c, d)
		}
	},
	insertAfter: "block3_conv3",
	// block5_conv3 removed and replaced by a fresh conv of the same size
	removeBlock: func(b *retarget.Builder) *retarget.Builder {
		return b.Remove("block5_conv3", true).
			Add("block5_conv3", &ir.Conv{Rank: 2, Filters: 512, Kernel: []int{3, 3}, Padding: ir.PadSame, Activation: ir.Act(ir.ActReLU)}, "block5_conv2")
	},
}}

// source builds an architecture and makes it look trained.
func source(t *testing.T, a arch) (*ir.Graph, *ir.Tensor) {
	t.Helper()
	g, err := a.build()
	if err != nil {
		t.Fatal(err)
	}
	c, h, w := g.Inputs[0].Shape[0], g.Inputs[0].Shape[1], g.Inputs[0].Shape[2]
	calib, _ := images(1, 16, 5, c, h, w)
	pretend(t, g, calib, 2)
	x, _ := images(7, 4, 5, c, h, w)
	return g, x
}

func TestZooArchitectures(t *testing.T) {
	for _, a := range archs {
		t.Run(a.name, func(t *testing.T) {
			if testing.Short() && !a.short {
				t.Skip("-short: large model")
			}
			src, x := source(t, a)
			keep := src.Clone()
			t.Run("widen", func(t *testing.T) { testWiden(t, a, src, x) })
			t.Run("insert_identity", func(t *testing.T) {
				g, notes := build(t, retarget.New(src).Insert("inserted", identityConv(), a.insertAfter, ir.InitIdentity))
				if len(notes) > 0 {
					t.Errorf("notes: %v", notes)
				}
				if filters(g, "inserted", 0) != inChannels(g, "inserted", -1) {
					t.Errorf("inserted conv is not square: W %v", g.Vertex("inserted").Params["W"].Shape)
				}
				preserved(t, "insert after "+a.insertAfter, src, g, x, a.features)
			})
			t.Run("remove_block", func(t *testing.T) {
				g, notes := build(t, a.removeBlock(retarget.New(src)))
				t.Logf("%d vertices (source %d); notes: %v", len(g.Vertices), len(src.Vertices), notes)
				if a.zeroBranch == nil {
					if d := maxDiff(predict(t, src, x), predict(t, g, x)); d == 0 {
						t.Error("a re-initialised layer left predictions unchanged")
					}
					return
				}
				ref := src.Clone()
				a.zeroBranch(ref)
				preserved(t, "block removed vs its branch zeroed", ref, g, x, a.features)
			})
			t.Run("transfer", func(t *testing.T) { testTransfer(t, a, src, x) })
			if err := sameParams(src, keep); err != nil {
				t.Errorf("the source graph changed: %v", err)
			}
		})
	}
}

func testWiden(t *testing.T, a arch, src *ir.Graph, x *ir.Tensor) {
	b := retarget.New(src)
	for _, w := range a.widen {
		b.Widen(w, extra, retarget.WidenPreserve)
	}
	g, notes := build(t, b)
	if len(notes) > 0 {
		t.Errorf("preserve notes: %v", notes)
	}
	a.check(t, g)
	preserved(t, "preserve widen", src, g, x, a.features)
	for _, w := range a.widen {
		g, notes := build(t, retarget.New(src).Widen(w, extra, retarget.WidenNet2Net))
		if len(notes) > 0 {
			t.Errorf("net2net notes: %v", notes)
		}
		preservedTol(t, "net2net widen "+w, src, g, x, 1e-4, a.features)
	}
	g, _ = build(t, retarget.New(src).Widen(a.widen[0], extra, retarget.WidenRandom))
	if d := relDiff(values(t, src, x, a.features)[0], values(t, g, x, a.features)[0]); d < 1e-6 {
		t.Errorf("random widen of %s left the features unchanged (%.3g)", a.widen[0], d)
	}
}

// testTransfer is the whole workflow: every edit at once, frozen feature
// extractor, new class count, a few fit steps, then export and re-import.
func testTransfer(t *testing.T, a arch, src *ir.Graph, x *ir.Tensor) {
	g := transferGraph(t, a, src, x)
	c, h, w := g.Inputs[0].Shape[0], g.Inputs[0].Shape[1], g.Inputs[0].Shape[2]
	tx, ty := images(11, 16, classes, c, h, w)
	first, last := fitFew(t, g, tx, ty, 16, 5)
	t.Logf("fit: loss %.4f -> %.4f", first, last)
	g.Name = a.name + "_retargeted"
	roundTrip(t, g, x, nil)
}

const classes = 3

// transferGraph applies every edit at once and checks the result before
// training: sizes, frozen flags, features equal to the reference's.
func transferGraph(t *testing.T, a arch, src *ir.Graph, x *ir.Tensor) *ir.Graph {
	t.Helper()
	b := retarget.New(src).
		FineTune(ir.TrainConfig{Updater: ir.UpdAdam, LearningRate: 3e-3, Seed: 4}).
		FreezeThrough(a.features).
		ReplaceNOut(a.classifier, classes, ir.InitXavierUniform, "").
		Insert("inserted", identityConv(), a.insertAfter, ir.InitIdentity)
	for _, w := range a.widen {
		b.Widen(w, extra, retarget.WidenPreserve)
	}
	b = a.removeBlock(b)
	g, notes := build(t, b)
	t.Logf("notes: %v", notes)
	a.check(t, g)
	if g.Vertex(a.classifier).Layer.(ir.Sized).OutUnits() != classes {
		t.Fatalf("classifier has %d units", g.Vertex(a.classifier).Layer.(ir.Sized).OutUnits())
	}
	for n := range retarget.Ancestors(g, a.features) {
		if !g.Vertex(n).Frozen {
			t.Errorf("%s is not frozen", n)
		}
	}
	if g.Vertex(a.classifier).Frozen {
		t.Error("the classifier is frozen")
	}
	// the frozen features are those of the source with the block removed
	ref := src.Clone()
	if a.zeroBranch != nil {
		a.zeroBranch(ref)
		want, got := values(t, ref, x, a.features)[0], values(t, g, x, a.features)[0]
		if d := relDiff(want, got); d > 1e-5 {
			t.Errorf("features after all edits differ from the reference by %.3g", d)
		}
	}
	return g
}

func sameParams(a, b *ir.Graph) error {
	if len(a.Vertices) != len(b.Vertices) {
		return fmt.Errorf("%d vertices, was %d", len(a.Vertices), len(b.Vertices))
	}
	var diff []string
	for i, v := range a.Vertices {
		w := b.Vertices[i]
		for k, p := range v.Params {
			if !p.Equal(w.Params[k]) {
				diff = append(diff, v.Name+"/"+k)
			}
		}
	}
	if len(diff) > 0 {
		return fmt.Errorf("parameters changed: %s", strings.Join(diff, ", "))
	}
	return nil
}
