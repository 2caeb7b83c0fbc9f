package nn

import (
	"math"
	"math/rand"
	"runtime"
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// TestLSTMExpScaled32 checks the AVX2 loop (where the CPU has it) and the
// portable one against math.Exp, the special values at the front so that
// both loops see them.
func TestLSTMExpScaled32(t *testing.T) {
	nan := float32(math.NaN())
	x := []float32{nan, 0, float32(math.Inf(1)), float32(math.Inf(-1)), nan, 1e-30, -1e-30, 88.5}
	for v := -120.0; v <= 120; v += 0.01 {
		x = append(x, float32(v))
	}
	saved := useSIMD
	defer func() { useSIMD = saved }()
	for _, simd := range []bool{false, true} {
		if simd && !saved {
			continue
		}
		useSIMD = simd
		for _, s := range []float32{-1, 2} {
			y := make([]float32, len(x))
			expScaled32(y, x, s)
			for i, v := range x {
				if v != v {
					if y[i] == y[i] {
						t.Fatalf("simd %v: e^(%g·NaN) = %g, want NaN", simd, s, y[i])
					}
					continue
				}
				want := math.Exp(math.Max(math.Min(float64(s*v), 88), -87))
				if d := math.Abs(float64(y[i]) - want); !(d <= 3e-7*want) {
					t.Fatalf("simd %v: e^(%g·%g) = %g, want %g", simd, s, v, y[i], want)
				}
			}
		}
	}
}

// TestLSTMFloat32MatchesFloat64 runs the float32 fast path of the standard
// cell (the whole-sequence path's AVX2 gates and packed products, units
// split over the workers) against the float64 path, which the gradient
// checks cover, on the same weights and data: outputs, dLoss/dx and every
// parameter gradient.
func TestLSTMFloat32MatchesFloat64(t *testing.T) {
	for _, l := range []*ir.LSTM{
		{Units: 128, Activation: rnnTanh, RecurrentActivation: rnnSig, ReturnSequences: true},
		{Units: 128, Activation: rnnTanh, RecurrentActivation: rnnSig, GoBackwards: true},
	} {
		const n, steps, feat = 16, 6, 8
		in := [][]int{{steps, feat}}
		rng := rand.New(rand.NewSource(3))
		p32 := &Params[float32]{Values: map[string]*Mat[float32]{}, Grads: map[string]*Mat[float32]{}}
		p64 := &Params[float64]{Values: map[string]*Mat[float64]{}, Grads: map[string]*Mat[float64]{}}
		for _, s := range l.Params(in) {
			m32, m64 := NewMat[float32](s.Shape...), NewMat[float64](s.Shape...)
			for i := range m32.Data {
				m32.Data[i] = float32(rng.Float64()*0.4 - 0.2)
				m64.Data[i] = float64(m32.Data[i])
			}
			p32.Values[s.Name], p64.Values[s.Name] = m32, m64
			p32.Grads[s.Name], p64.Grads[s.Name] = NewMat[float32](s.Shape...), NewMat[float64](s.Shape...)
		}
		out, err := l.OutputShape(in)
		if err != nil {
			t.Fatal(err)
		}
		v := &ir.Vertex{Name: "lstm", Layer: l}
		op32, err := newRecurrent[float32](v, in, out, p32)
		if err != nil {
			t.Fatal(err)
		}
		op64, err := newRecurrent[float64](v, in, out, p64)
		if err != nil {
			t.Fatal(err)
		}
		x32, x64 := NewMat[float32](n, steps, feat), NewMat[float64](n, steps, feat)
		for i := range x32.Data {
			x32.Data[i] = float32(rng.Float64()*4 - 2)
			x64.Data[i] = float64(x32.Data[i])
		}
		for pass := range 2 { // the second pass reuses the packed buffers
			y32 := op32.Forward(&Pass[float32]{Train: true}, []*Mat[float32]{x32})
			y64 := op64.Forward(&Pass[float64]{Train: true}, []*Mat[float64]{x64})
			d32, d64 := NewMat[float32](y32.Shape...), NewMat[float64](y64.Shape...)
			for i := range d32.Data {
				d32.Data[i] = float32(rng.Float64()*2 - 1)
				d64.Data[i] = float64(d32.Data[i])
			}
			dx32 := op32.Backward(&Pass[float32]{Train: true}, d32)[0]
			dx64 := op64.Backward(&Pass[float64]{Train: true}, d64)[0]
			near := func(what string, got []float32, want []float64) {
				t.Helper()
				for i := range want {
					if d := math.Abs(float64(got[i]) - want[i]); !(d <= 1e-5*math.Max(1, math.Abs(want[i]))) {
						t.Fatalf("pass %d %s[%d] = %g, float64 gives %g", pass, what, i, got[i], want[i])
					}
				}
			}
			near("y", y32.Data, y64.Data)
			near("dx", dx32.Data, dx64.Data)
			for name, g := range p64.Grads {
				near("grad "+name, p32.Grads[name].Data, g.Data)
			}
		}
	}
}

// TestLSTMSeqMatchesSteps runs the standard cell's whole-sequence path
// (rnn_lstm_seq.go) against the per-step path on the same weights and data,
// with three parts of uneven size (GOMAXPROCS 3; the per-step path splits
// its rows too), with and without a mask:
// outputs, dLoss/dx and every parameter gradient, twice (the second pass
// reuses the buffers). The gradient checks see the whole-sequence path in
// one part only (their layers are small). Both run in float32 and sum in
// different orders (the bias gradient over batch and steps): 1e-4.
func TestLSTMSeqMatchesSteps(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	defer func() { lstmWholeSeq = true }()
	const n, steps, feat = 64, 7, 9
	mask := make([]float32, n*steps) // padding at the end, at the start, none
	for row := range n {
		for ti := range steps {
			if (row%3 != 0 || ti < steps-row%4) && (row%3 != 1 || ti >= row%5) {
				mask[row*steps+ti] = 1
			}
		}
	}
	for ci, l := range []*ir.LSTM{
		{Units: 256, Activation: rnnTanh, RecurrentActivation: rnnSig, ReturnSequences: true},
		{Units: 256, Activation: rnnTanh, RecurrentActivation: rnnSig, GoBackwards: true},
		{Units: 256, Activation: rnnTanh, RecurrentActivation: rnnSig, NoBias: true, GoBackwards: true, ReturnSequences: true},
		{Units: 256, Activation: rnnTanh, RecurrentActivation: rnnSig}, // without dLoss/dx
	} {
		skipDx := ci == 3
		for _, mask := range [][]float32{nil, mask} {
			in := [][]int{{steps, feat}}
			out, err := l.OutputShape(in)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewSource(5))
			var ps [2]*Params[float32]
			var ops [2]Op[float32]
			for k := range ps {
				ps[k] = &Params[float32]{Values: map[string]*Mat[float32]{}, Grads: map[string]*Mat[float32]{}}
			}
			for _, s := range l.Params(in) {
				m := NewMat[float32](s.Shape...)
				for i := range m.Data {
					m.Data[i] = float32(rng.Float64()*0.4 - 0.2)
				}
				for _, p := range ps {
					p.Values[s.Name] = &Mat[float32]{Shape: m.Shape, Data: append([]float32(nil), m.Data...)}
					p.Grads[s.Name] = NewMat[float32](s.Shape...)
				}
			}
			for k, p := range ps {
				if ops[k], err = newRecurrent[float32](&ir.Vertex{Name: "lstm", Layer: l}, in, out, p); err != nil {
					t.Fatal(err)
				}
				ops[k].(*recurrentOp[float32]).SkipInputGrads([]bool{!skipDx})
			}
			x := NewMat[float32](n, steps, feat)
			for i := range x.Data {
				x.Data[i] = float32(rng.Float64()*4 - 2)
			}
			for pass := range 2 {
				var y, yr, dx, dxr *Mat[float32]
				for k, whole := range []bool{true, false} {
					lstmWholeSeq = whole
					y1 := ops[k].Forward(&Pass[float32]{Train: true, Mask: mask}, []*Mat[float32]{x})
					if got := ops[k].(*recurrentOp[float32]).seq.whole != nil; got != whole {
						t.Fatalf("ran whole: %v, want %v", got, whole)
					}
					if k == 0 {
						y = y1
						continue
					}
					yr = y1
				}
				d := NewMat[float32](y.Shape...)
				for i := range d.Data {
					d.Data[i] = float32(rng.Float64()*2 - 1)
				}
				lstmWholeSeq = true
				dx = ops[0].Backward(&Pass[float32]{Train: true}, d)[0]
				lstmWholeSeq = false
				dxr = ops[1].Backward(&Pass[float32]{Train: true}, d)[0]
				near := func(what string, got, want []float32) {
					t.Helper()
					for i := range want {
						if d := math.Abs(float64(got[i] - want[i])); !(d <= 1e-4*math.Max(1, math.Abs(float64(want[i])))) {
							t.Fatalf("%+v mask %v pass %d %s[%d] = %g, per step %g", *l, mask != nil, pass, what, i, got[i], want[i])
						}
					}
				}
				near("y", y.Data, yr.Data)
				if !skipDx {
					near("dx", dx.Data, dxr.Data)
				}
				for name, g := range ps[1].Grads {
					near("grad "+name, ps[0].Grads[name].Data, g.Data)
				}
			}
		}
	}
}

// TestLSTMGatesSIMD runs the standard cell's gates over one unit, forward
// and backward (the AVX2 loops where the CPU has them, with a tail for the
// portable loops), against the portable loops alone, special values
// included.
func TestLSTMGatesSIMD(t *testing.T) {
	saved := useSIMD
	defer func() { useSIMD = saved }()
	const n = 37
	rng := rand.New(rand.NewSource(9))
	in := make([][]float32, 5) // zi, zf, zg, zo, cp
	for q := range in {
		in[q] = make([]float32, n)
		for k := range in[q] {
			in[q][k] = float32(rng.Float64()*12 - 6)
		}
	}
	in[0][0], in[1][1], in[2][2], in[3][3] = 100, -100, 50, float32(math.Inf(-1))
	run := func(simd bool) [][]float32 {
		useSIMD = simd
		out := make([][]float32, 7) // the gates, cv, ac, h
		for q := range out {
			out[q] = make([]float32, n)
			if q < 4 {
				copy(out[q], in[q])
			}
		}
		lstmUnitForward32(out[0], out[1], out[2], out[3], in[4], out[4], out[5], out[6], 0.3, -0.2, 0.1, 0.05)
		return out
	}
	// backward from the forward's gates, cell and tanh(cell)
	runBack := func(simd bool, fw [][]float32) ([][]float32, [4]float32) {
		useSIMD = simd
		out := make([][]float32, 5) // dLoss/dz of each gate, dLoss/dcPrev
		for q := range out {
			out[q] = make([]float32, n)
			if q < 4 {
				copy(out[q], fw[q])
			}
		}
		copy(out[4], in[1]) // dLoss/dc
		db := lstmUnitBackward32(out[0], out[1], out[2], out[3], fw[5], in[4], in[0], out[4], nil, 0, nil, 0)
		return out, db
	}
	same := func(what string, want, got [][]float32, tol float64) {
		for q := range want {
			for k := range want[q] {
				if d := math.Abs(float64(got[q][k] - want[q][k])); !(d <= tol) {
					t.Fatalf("%s output %d row %d: %g, portable loop %g", what, q, k, got[q][k], want[q][k])
				}
			}
		}
	}
	want, got := run(false), run(saved)
	same("forward", want, got, 1e-6)
	bwant, dbWant := runBack(false, want)
	bgot, dbGot := runBack(saved, want)
	same("backward", bwant, bgot, 1e-6)
	same("bias gradient", [][]float32{dbWant[:]}, [][]float32{dbGot[:]}, 1e-4)
}
