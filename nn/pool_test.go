package nn

import (
	"fmt"
	"math"
	"math/rand"
	"runtime"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

func TestGradPool(t *testing.T) {
	cases := []ir.Pool{
		{Rank: 2, Op: ir.PoolMax, Kernel: []int{2, 2}},
		{Rank: 2, Op: ir.PoolMax, Kernel: []int{3, 3}, Strides: []int{2, 2}, Padding: ir.PadSame},
		{Rank: 2, Op: ir.PoolMax, Kernel: []int{3, 2}, Strides: []int{2, 2}, CeilMode: true},
		{Rank: 2, Op: ir.PoolAvg, Kernel: []int{2, 2}},
		{Rank: 2, Op: ir.PoolAvg, Kernel: []int{3, 3}, Strides: []int{2, 2}, Padding: ir.PadSame},
		{Rank: 2, Op: ir.PoolAvg, Kernel: []int{3, 3}, Strides: []int{2, 2}, Padding: ir.PadExplicit, Pads: []int{1, 1, 1, 1}, CountIncludePad: true},
		{Rank: 2, Op: ir.PoolAvg, Kernel: []int{3, 3}, Strides: []int{2, 2}, Padding: ir.PadExplicit, Pads: []int{1, 0, 1, 0}, CeilMode: true, CountIncludePad: true},
		{Rank: 2, Op: ir.PoolAvg, Kernel: []int{2, 3}, Strides: []int{2, 2}, CeilMode: true},
		{Rank: 1, Op: ir.PoolMax, Kernel: []int{2}},
		{Rank: 1, Op: ir.PoolAvg, Kernel: []int{3}, Strides: []int{2}, Padding: ir.PadSame},
		{Rank: 1, Op: ir.PoolAvg, Kernel: []int{2}, Strides: []int{2}, CeilMode: true},
	}
	for i, c := range cases {
		c := c
		in := []int{2, 7, 6}
		if c.Rank == 1 {
			in = []int{2, 7}
		}
		t.Run(fmt.Sprintf("%s_%d", c.Kind(), i), func(t *testing.T) {
			coreCheckLayer(t, fmt.Sprintf("pool_%d", i), in, &c, -1, 1)
		})
	}
	for _, c := range []ir.GlobalPool{{Rank: 2, Op: ir.PoolMax}, {Rank: 2, Op: ir.PoolAvg, KeepDims: true}, {Rank: 1, Op: ir.PoolAvg}, {Rank: 1, Op: ir.PoolMax, KeepDims: true}} {
		c := c
		in := []int{3, 4, 5}
		if c.Rank == 1 {
			in = []int{3, 5}
		}
		t.Run(c.Kind(), func(t *testing.T) { coreCheckLayer(t, c.Kind(), in, &c, -1, 1) })
	}
}

// Average pooling over time with a sequence mask: the mean of the real
// steps (an all-padding example gives zeros and no gradient).
func TestGradGlobalAvgPoolMasked(t *testing.T) {
	g := &ir.Graph{Name: "masked_pool", Inputs: []ir.Input{{Name: "x", Shape: []int{3, 5}}},
		Vertices: []*ir.Vertex{{Name: "p", Layer: &ir.GlobalPool{Rank: 1, Op: ir.PoolAvg}, Inputs: []string{"x"}}},
		Outputs:  []ir.GraphOutput{{Name: "p", Vertex: "p"}}}
	rng := rand.New(rand.NewSource(2))
	x := RandTensor(rng, -1, 1, 3, 3, 5)
	m := ir.FromData([]float32{1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0}, 3, 5)
	GradCheck(t, g, []*ir.Tensor{x}, nil, GradCheckOptions{InputMask: m})
	net, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	net.SetInputMask(m.Data)
	out, err := net.Forward([]*Mat[float32]{MatFromTensor[float32](x)}, false)
	if err != nil {
		t.Fatal(err)
	}
	for c := 0; c < 3; c++ {
		want := (x.Data[c*5] + x.Data[c*5+1]) / 2
		if got := out[0].Data[c]; math.Abs(float64(got-want)) > 1e-6 {
			t.Fatalf("channel %d of example 0: %v, want the mean of its two real steps %v", c, got, want)
		}
		if got := out[0].Data[6+c]; got != 0 {
			t.Fatalf("an all-padding example pools to %v, want 0", got)
		}
	}
}

// TestGlobalPoolPlanesInParallel: on a batch big enough to split its planes
// across goroutines, global max and average pooling give each plane's
// maximum and mean, and spread the gradient to its argmax or evenly.
func TestGlobalPoolPlanesInParallel(t *testing.T) {
	const n, c, per = 8, 64, 16 * 16
	if runtime.GOMAXPROCS(0) > 1 && forParts(n*c, per) < 2 {
		t.Fatal("the planes would run on one goroutine")
	}
	rng := rand.New(rand.NewSource(5))
	x := MatFromTensor[float32](RandTensor(rng, -1, 1, n, c, 16, 16))
	d := MatFromTensor[float32](RandTensor(rng, -1, 1, n, c))
	for _, isMax := range []bool{false, true} {
		op := &globalPoolOp[float32]{max: isMax}
		y := op.Forward(&Pass[float32]{Train: true}, []*Mat[float32]{x})
		dx := op.Backward(&Pass[float32]{Train: true}, d)[0]
		for pl := 0; pl < n*c; pl++ {
			src, g := x.Data[pl*per:][:per], dx.Data[pl*per:][:per]
			want, arg := 0.0, 0
			for k, v := range src {
				if isMax && v > src[arg] {
					arg = k
				}
				want += float64(v)
			}
			want /= per
			if isMax {
				want = float64(src[arg])
			}
			if math.Abs(float64(y.Data[pl])-want) > 1e-6 {
				t.Fatalf("max=%v plane %d pools to %v, want %v", isMax, pl, y.Data[pl], want)
			}
			for k, v := range g {
				w := d.Data[pl] / per
				if isMax {
					w = 0
					if k == arg {
						w = d.Data[pl]
					}
				}
				if v != w {
					t.Fatalf("max=%v plane %d gradient[%d] = %v, want %v", isMax, pl, k, v, w)
				}
			}
		}
	}
}
