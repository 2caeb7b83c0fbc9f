package nn

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// takeWeightsGraph has convolutions whose filters fill whole row panels of
// the kernels (28 on AVX-512's 14 rows), leave a partial last one (30, 16,
// 300), span several kc-deep blocks and mc-tall row blocks (144 → 300), go
// through the padded, stride-2 and 1×1 paths, and are fewer than a panel
// (5, except on the 4-row Go kernel).
func takeWeightsGraph(t *testing.T) *ir.Graph {
	conv := func(filters, k, stride int) *ir.Conv {
		return &ir.Conv{Rank: 2, Filters: filters, Kernel: []int{k, k}, Strides: []int{stride, stride}, Padding: ir.PadSame,
			Activation: ir.Act(ir.ActReLU)}
	}
	return coreInit(t, Sequential("take", []int{8, 12, 12},
		conv(30, 3, 1), conv(28, 3, 2), conv(16, 3, 1), conv(144, 1, 1), conv(300, 1, 1), conv(5, 3, 1),
		&ir.GlobalPool{Rank: 2, Op: ir.PoolAvg},
		&ir.Output{Units: 3, Activation: ir.Act(ir.ActSoftmax), Loss: ir.LossMCXENT}), 4)
}

// TestTakeWeights: a network that packs its convolution weights in place
// (Options.TakeWeights) gives bit-identical outputs to one that packs a
// copy every pass, on every GEMM tier, over passes of changing batch size,
// and after the kernel changes under it (the weights are put back in
// row-major order and packed for the new kernel); the graph's weights it
// took are nil.
func TestTakeWeights(t *testing.T) {
	start := GemmKernel()
	defer func() { _ = SetGemmKernel(start) }()
	kernels := GemmKernels()
	rng := rand.New(rand.NewSource(5))
	batches := []*ir.Tensor{RandTensor(rng, -1, 1, 3, 8, 12, 12), RandTensor(rng, -1, 1, 5, 8, 12, 12), RandTensor(rng, -1, 1, 1, 8, 12, 12)}
	for ki, kern := range kernels {
		next := kernels[(ki+1)%len(kernels)]
		t.Run(fmt.Sprintf("%s_then_%s", kern, next), func(t *testing.T) {
			if err := SetGemmKernel(kern); err != nil {
				t.Fatal(err)
			}
			g := takeWeightsGraph(t)
			ref, err := CompileWith[float32](g.Clone(), Options{Inference: true})
			if err != nil {
				t.Fatal(err)
			}
			took, err := CompileWith[float32](g, Options{Inference: true, TakeWeights: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range g.Vertices {
				if _, ok := v.Layer.(*ir.Conv); ok && v.Params["W"].Data != nil {
					t.Errorf("%s: the graph kept the weights the network took", v.Name)
				}
			}
			same := func(stage string) {
				t.Helper()
				for _, x := range batches {
					want, err := ref.Predict(x)
					if err != nil {
						t.Fatal(err)
					}
					got, err := took.Predict(x)
					if err != nil {
						t.Fatal(err)
					}
					for i, v := range got[0].Data {
						if v != want[0].Data[i] {
							t.Fatalf("%s, batch %d: output %d = %v, want %v", stage, x.Shape[0], i, v, want[0].Data[i])
						}
					}
				}
			}
			same(kern)
			inPlace, want := 0, 0
			for _, nd := range took.nodes {
				c, ok := any(nd.op).(*convOp[float32])
				if ok && c.core.filters >= sgemmKernel.mr {
					want++ // a whole row panel
				}
				if ok && c.core.wpk.inPlace {
					inPlace++
					if !c.core.noWinograd {
						t.Errorf("%s: packed in place but may still take Winograd, which reads W row-major", nd.v.Name)
					}
				}
			}
			if _, fast := gemm32.(fastGemm32); !fast {
				want = 0
			}
			if inPlace != want {
				t.Errorf("%d convolutions packed in place, want %d (those with a whole row panel of filters)", inPlace, want)
			}
			if err := SetGemmKernel(next); err != nil {
				t.Fatal(err)
			}
			same(next)
		})
	}
}
