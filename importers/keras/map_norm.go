package keras

import (
	"github.com/retarget-dev/retarget/ir"
)

func init() {
	register(mapBatchNorm, "BatchNormalization")
	register(mapLayerNorm, "LayerNormalization")
}

func mapBatchNorm(c *call) (tensor, error) {
	t, err := c.one()
	if err != nil {
		return tensor{}, err
	}
	cf := c.l.Cfg
	if mode, _ := cf.integer(0, "mode"); mode != 0 {
		return tensor{}, c.errf("Keras 1 batch normalization mode %d is not supported (only mode 0)", mode)
	}
	if t, err = c.plainIfFlat(t); err != nil {
		return tensor{}, err
	}
	axis, err := cf.integer(-1, "axis")
	if err != nil {
		return tensor{}, c.errf("axis: %v (a single axis is supported)", err)
	}
	ax, err := irAxis(t, axis)
	if err != nil {
		return tensor{}, c.errf("%v", err)
	}
	eps, err := cf.num(1e-3, "epsilon")
	if err != nil {
		return tensor{}, c.errf("%v", err)
	}
	mom, err := cf.num(0.99, "momentum")
	if err != nil {
		return tensor{}, c.errf("%v", err)
	}
	scale := cf.boolean(true, "scale")
	center := cf.boolean(true, "center")
	l := &ir.BatchNorm{Epsilon: float32(eps), Momentum: float32(mom), Axis: ax, NoScale: !scale, NoCenter: !center}
	var params map[string]*ir.Tensor
	if c.hasWeights() {
		if params, err = c.batchNormParams(t.shape[ax], scale, center); err != nil {
			return tensor{}, err
		}
	}
	out, err := c.add(l, params, t)
	return keepForm(out, t), err
}

// batchNormParams reads gamma, beta (present unless scale/center is off,
// then filled with 1/0), moving mean and variance of ch channels.
func (c *call) batchNormParams(ch int, scale, center bool) (map[string]*ir.Tensor, error) {
	params := map[string]*ir.Tensor{}
	pos := 0
	get := func(pname string, names ...string) error {
		w, err := c.weight(pos, "", names...)
		if err != nil {
			return err
		}
		pos++
		if err := c.expect(w, ch); err != nil {
			return err
		}
		params[pname] = c.tensorOf(w)
		return nil
	}
	if scale {
		if err := get("gamma", "gamma"); err != nil {
			return nil, err
		}
	} else {
		params["gamma"] = filled(1, ch)
	}
	if center {
		if err := get("beta", "beta"); err != nil {
			return nil, err
		}
	} else {
		params["beta"] = filled(0, ch)
	}
	if err := get("mean", "moving_mean", "running_mean"); err != nil {
		return nil, err
	}
	// Keras 1 calls the running variance running_std
	if err := get("var", "moving_variance", "running_std"); err != nil {
		return nil, err
	}
	return params, nil
}

func mapLayerNorm(c *call) (tensor, error) {
	t, err := c.one()
	if err != nil {
		return tensor{}, err
	}
	if t, err = c.plain(t); err != nil {
		return tensor{}, err
	}
	cf := c.l.Cfg
	if cf.boolean(false, "rms_scaling") {
		return tensor{}, c.errf("rms_scaling is not supported")
	}
	axes, err := cf.ints(0, []int{-1}, "axis")
	if err != nil {
		return tensor{}, c.errf("%v", err)
	}
	r := len(t.shape)
	var norm []int // the normalised IR axes, in Keras's order
	seen := map[int]bool{}
	for _, a := range axes {
		ax, err := irAxis(t, a)
		if err != nil {
			return tensor{}, c.errf("%v", err)
		}
		if !seen[ax] {
			seen[ax] = true
			norm = append(norm, ax)
		}
	}
	eps, err := cf.num(1e-3, "epsilon")
	if err != nil {
		return tensor{}, c.errf("%v", err)
	}
	scale := cf.boolean(true, "scale")
	center := cf.boolean(true, "center")
	// Normalised axes that are not the trailing ones in order (axis=1 of
	// [time, features]) move to the end and back around the LayerNorm;
	// gamma and beta have Keras's shape, the sizes of the axes in order.
	perm := make([]int, 0, r)
	for i := 0; i < r; i++ {
		if !seen[i] {
			perm = append(perm, i)
		}
	}
	perm = append(perm, norm...)
	moved := false
	for i, p := range perm {
		moved = moved || p != i
	}
	x := t
	if moved {
		if x, err = c.aux("to_norm", &ir.Permute{Perm: perm}, t); err != nil {
			return tensor{}, err
		}
	}
	l := &ir.LayerNorm{Epsilon: float32(eps), Axis: -len(norm), NoScale: !scale, NoCenter: !center}
	var params map[string]*ir.Tensor
	if c.hasWeights() {
		if params, err = c.layerNormParams(x.shape[r-len(norm):], scale, center); err != nil {
			return tensor{}, err
		}
	}
	y, err := c.add(l, params, x)
	if err != nil || !moved {
		return y, err
	}
	inv := make([]int, r)
	for i, p := range perm {
		inv[p] = i
	}
	return c.aux("from_norm", &ir.Permute{Perm: inv}, y)
}

// layerNormParams reads gamma and beta of shape ns (1 and 0 when scale or
// center is off).
func (c *call) layerNormParams(ns []int, scale, center bool) (map[string]*ir.Tensor, error) {
	params := map[string]*ir.Tensor{"gamma": filled(1, ns...), "beta": filled(0, ns...)}
	pos := 0
	for _, p := range []struct {
		on   bool
		name string
	}{{scale, "gamma"}, {center, "beta"}} {
		if !p.on {
			continue
		}
		w, err := c.weight(pos, "", p.name)
		if err != nil {
			return nil, err
		}
		pos++
		if err := c.expect(w, ns...); err != nil {
			return nil, err
		}
		params[p.name] = c.tensorOf(w)
	}
	return params, nil
}
