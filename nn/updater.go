package nn

import (
	"math"

	"github.com/retarget-dev/retarget/ir"
)

// Updater defaults where a TrainConfig leaves zero (Keras values).
func withDefaults(c *ir.TrainConfig) ir.TrainConfig {
	d := *c
	if d.Updater == "" {
		d.Updater = ir.UpdSGD
	}
	if d.LearningRate == 0 {
		switch d.Updater {
		case ir.UpdAdam, ir.UpdAdamW, ir.UpdRMSProp:
			d.LearningRate = 1e-3
		case ir.UpdAdaDelta:
			d.LearningRate = 1
		default:
			d.LearningRate = 0.01
		}
	}
	if d.Momentum == 0 && (d.Updater == ir.UpdMomentum || d.Updater == ir.UpdNesterov) {
		d.Momentum = 0.9
	}
	if d.Beta1 == 0 {
		d.Beta1 = 0.9
	}
	if d.Beta2 == 0 {
		d.Beta2 = 0.999
	}
	if d.Epsilon == 0 {
		d.Epsilon = 1e-7
		if d.Updater == ir.UpdAdam || d.Updater == ir.UpdAdamW {
			d.Epsilon = 1e-8
		}
	}
	if d.Rho == 0 {
		d.Rho = 0.9
		if d.Updater == ir.UpdAdaDelta {
			d.Rho = 0.95
		}
	}
	return d
}

// LearningRate is the scheduled rate of a config at an updater step.
func LearningRate(c *ir.TrainConfig, step int64) float64 {
	d := withDefaults(c)
	lr, s := d.LearningRate, d.Schedule
	every := float64(max(s.Every, 1))
	switch s.Kind {
	case "step":
		lr *= math.Pow(s.Gamma, math.Floor(float64(step)/every))
	case "exponential":
		lr *= math.Pow(s.Gamma, float64(step)/every)
	case "cosine":
		if s.Steps > 0 {
			t := math.Min(float64(step), float64(s.Steps)) / float64(s.Steps)
			lr = s.MinLR + 0.5*(lr-s.MinLR)*(1+math.Cos(math.Pi*t))
		}
	}
	return lr
}

// regularised reports whether a role takes L1/L2 and weight decay.
func regularised(r ir.ParamRole) bool {
	return r == ir.RoleWeight || r == ir.RoleRecurrent || r == ir.RoleEmbedding
}

// Update applies one updater step to every trainable, unfrozen vertex with
// the gradients of the latest Backward, then advances Graph.Step. Updater
// state lives in Vertex.State ("<param>/<slot>"), so a graph saved and
// reloaded resumes bit-identically. An inference network has nothing to
// update: Update does nothing there (not even advance the step).
func (n *Net[F]) Update() {
	if n.opts.Inference {
		return
	}
	step := n.Graph.Step
	for _, nd := range n.nodes {
		if !nd.train {
			continue
		}
		allocGrads(nd.params)
		c := withDefaults(nd.cfg)
		lr := LearningRate(nd.cfg, step) * n.LRScale()
		// gradient clipping by the vertex's L2 norm (DL4J ClipL2PerLayer)
		normScale := 1.0
		if c.ClipNorm > 0 {
			var ss float64
			for _, s := range nd.specs {
				if g := nd.params.Grads[s.Name]; g != nil {
					for _, v := range g.Data {
						ss += float64(v) * float64(v)
					}
				}
			}
			if norm := math.Sqrt(ss); norm > c.ClipNorm {
				normScale = c.ClipNorm / norm
			}
		}
		for _, s := range nd.specs {
			g := nd.params.Grads[s.Name]
			if g == nil {
				continue
			}
			w := nd.params.Values[s.Name]
			reg := regularised(s.Role)
			n.updateParam(nd, s.Name, w.Shape, &c, lr, step, normScale, reg, w.Data, g.Data)
		}
	}
	n.Graph.Step++
}

func (n *Net[F]) updateParam(nd *node[F], name string, shape []int, c *ir.TrainConfig, lr float64, step int64, normScale float64, reg bool, w, g []F) {
	u := &n.upd
	*u = paramUpdate[F]{c: *c, lr: lr, normScale: normScale, w: w, g: g[:len(w)]}
	if reg {
		u.l1, u.l2, u.wd = c.L1, c.L2, c.WeightDecay
	}
	// Without clipping or L1/L2 the gradient is a plain scaled read; the
	// loops test this predictable flag and call adjust only without it (same
	// arithmetic, so the same bits; a method call per element, not inlined in
	// the generic loop, had made the update 2.5× slower).
	u.plain = c.ClipValue <= 0 && u.l1 == 0 && u.l2 == 0
	switch c.Updater {
	case ir.UpdMomentum, ir.UpdNesterov:
		u.s1 = n.stateOf(nd, name, "/v", shape)
	case ir.UpdAdam, ir.UpdAdamW:
		u.s1 = n.stateOf(nd, name, "/m", shape)
		u.s2 = n.stateOf(nd, name, "/v", shape)
		// The bias correction counts this parameter's own updates, not the
		// graph's: a layer re-initialised by an edit restarts its moments,
		// and its correction must restart with them.
		ts := n.stateOf(nd, name, "/t", []int{1})
		ts[0]++
		t := float64(ts[0])
		u.alpha = lr * math.Sqrt(1-math.Pow(c.Beta2, t)) / (1 - math.Pow(c.Beta1, t))
	case ir.UpdRMSProp, ir.UpdAdaGrad:
		u.s1 = n.stateOf(nd, name, "/g2", shape)
	case ir.UpdAdaDelta:
		u.s1 = n.stateOf(nd, name, "/g2", shape)
		u.s2 = n.stateOf(nd, name, "/dx2", shape)
	}
	// Every element's update is independent, so ranges of them run in
	// parallel with the bits of one loop (a 100M-weight layer spent longer
	// in a serial update than in its products).
	parallelRange(len(w), 8, u)
	u.w, u.g, u.s1, u.s2 = nil, nil, nil, nil
}

// paramUpdate is one parameter's updater step, run over ranges of its
// elements; w, g and the updater's state slices s1, s2 are the parameter's.
type paramUpdate[F Float] struct {
	c                    ir.TrainConfig // a copy: a pointer to the caller's would escape
	lr, normScale, alpha float64
	l1, l2, wd           float64
	plain                bool
	w, g, s1, s2         []F
}

// adjust is a gradient after clipping and L1/L2, wi its weight (only
// called when the update is not plain: the loops keep the plain case inline).
func (u *paramUpdate[F]) adjust(gi, wi float64) float64 {
	if c := u.c.ClipValue; c > 0 {
		gi = math.Max(-c, math.Min(c, gi))
	}
	if u.l2 != 0 {
		gi += u.l2 * wi
	}
	if u.l1 != 0 {
		if wi > 0 {
			gi += u.l1
		} else if wi < 0 {
			gi -= u.l1
		}
	}
	return gi
}

func (u *paramUpdate[F]) runRange(lo, hi int) {
	c, lr, w, g, ns, plain := &u.c, u.lr, u.w, u.g, u.normScale, u.plain
	eps, rho, alpha, wd := c.Epsilon, c.Rho, u.alpha, u.wd
	w, g = w[lo:hi], g[lo:hi]
	switch c.Updater {
	case ir.UpdMomentum, ir.UpdNesterov:
		vel, mu, nesterov := u.s1[lo:hi], c.Momentum, c.Updater == ir.UpdNesterov
		i0 := 0
		if w32, ok := any(w).([]float32); ok && plain {
			i0 = momentumSIMD(w32, any(g).([]float32), any(vel).([]float32), ns, mu, lr, nesterov)
		}
		for i := i0; i < len(w); i++ {
			gi := float64(g[i]) * ns
			if !plain {
				gi = u.adjust(gi, float64(w[i]))
			}
			v := mu*float64(vel[i]) - lr*gi
			vel[i] = F(v)
			if nesterov {
				w[i] += F(mu*v - lr*gi)
			} else {
				w[i] += F(v)
			}
		}
	case ir.UpdAdam, ir.UpdAdamW:
		m, v, b1, b2 := u.s1[lo:hi], u.s2[lo:hi], c.Beta1, c.Beta2
		decay := c.Updater == ir.UpdAdamW && wd != 0
		i0 := 0
		if w32, ok := any(w).([]float32); ok && plain {
			k := adamConsts{ns: ns, b1: b1, c1: 1 - b1, b2: b2, c2: 1 - b2, alpha: alpha, eps: eps}
			if decay {
				k.lrwd, k.decay = lr*wd, 1
			}
			i0 = adamSIMD(w32, any(g).([]float32), any(m).([]float32), any(v).([]float32), &k)
		}
		for i := i0; i < len(w); i++ {
			gi := float64(g[i]) * ns
			if !plain {
				gi = u.adjust(gi, float64(w[i]))
			}
			mi := b1*float64(m[i]) + (1-b1)*gi
			vi := b2*float64(v[i]) + (1-b2)*gi*gi
			m[i], v[i] = F(mi), F(vi)
			upd := alpha * mi / (math.Sqrt(vi) + eps)
			if decay {
				upd += lr * wd * float64(w[i])
			}
			w[i] -= F(upd)
		}
		if c.Updater == ir.UpdAdamW {
			return
		}
	case ir.UpdRMSProp:
		a := u.s1[lo:hi]
		for i := range w {
			gi := float64(g[i]) * ns
			if !plain {
				gi = u.adjust(gi, float64(w[i]))
			}
			ai := rho*float64(a[i]) + (1-rho)*gi*gi
			a[i] = F(ai)
			w[i] -= F(lr * gi / (math.Sqrt(ai) + eps))
		}
	case ir.UpdAdaGrad:
		a := u.s1[lo:hi]
		for i := range w {
			gi := float64(g[i]) * ns
			if !plain {
				gi = u.adjust(gi, float64(w[i]))
			}
			ai := float64(a[i]) + gi*gi
			a[i] = F(ai)
			w[i] -= F(lr * gi / (math.Sqrt(ai) + eps))
		}
	case ir.UpdAdaDelta:
		a, d := u.s1[lo:hi], u.s2[lo:hi]
		for i := range w {
			gi := float64(g[i]) * ns
			if !plain {
				gi = u.adjust(gi, float64(w[i]))
			}
			ai := rho*float64(a[i]) + (1-rho)*gi*gi
			dx := math.Sqrt(float64(d[i])+eps) / math.Sqrt(ai+eps) * gi
			a[i] = F(ai)
			d[i] = F(rho*float64(d[i]) + (1-rho)*dx*dx)
			w[i] -= F(lr * dx)
		}
	default: // SGD
		i0 := 0
		if w32, ok := any(w).([]float32); ok && plain {
			i0 = sgdSIMD(w32, any(g).([]float32), ns, lr)
		}
		for i := i0; i < len(w); i++ {
			gi := float64(g[i]) * ns
			if !plain {
				gi = u.adjust(gi, float64(w[i]))
			}
			w[i] -= F(lr * gi)
		}
	}
	if wd != 0 {
		// decoupled weight decay for every updater but AdamW (done above)
		for i := range w {
			w[i] -= F(lr * wd * float64(w[i]))
		}
	}
}

// stateKey returns name+suffix, concatenated once per node: a steady-state
// step allocates nothing.
func (nd *node[F]) stateKey(name, suffix string) string {
	k := [2]string{name, suffix}
	if s, ok := nd.stateKeys[k]; ok {
		return s
	}
	if nd.stateKeys == nil {
		nd.stateKeys = map[[2]string]string{}
	}
	s := name + suffix
	nd.stateKeys[k] = s
	return s
}

// stateOf returns updater state, creating it at zero. For a float32 Net it
// aliases Vertex.State; otherwise it is private to the Net.
func (n *Net[F]) stateOf(nd *node[F], name, suffix string, shape []int) []F {
	key := nd.stateKey(name, suffix)
	size := ir.NumElements(shape)
	if _, ok := any([]F(nil)).([]float32); ok {
		if nd.v.State == nil {
			nd.v.State = map[string]*ir.Tensor{}
		}
		t := nd.v.State[key]
		if t == nil || len(t.Data) != size {
			t = ir.NewTensor(shape...)
			nd.v.State[key] = t
		}
		return any(t.Data).([]F)
	}
	if nd.state == nil {
		nd.state = map[string]*Mat[F]{}
	}
	m := nd.state[key]
	if m == nil || len(m.Data) != size {
		m = NewMat[F](shape...)
		nd.state[key] = m
	}
	return m.Data
}
