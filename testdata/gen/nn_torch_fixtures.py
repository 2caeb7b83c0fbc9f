#!/usr/bin/env python3
"""Writes testdata/nn/core_*.json: forward fixtures for the nn engine
(dense/output layers, conv, conv transpose, separable conv, pooling,
batch/layer norm, upsampling, activations, merges, element-wise and shape
ops, losses) computed with PyTorch in float64. Layers with several inputs
store "inputs" (a list) instead of "input".

Tensors are stored as {"shape": [...], "data": [...]} in the engine's
layouts (NCHW, conv W [F, C/g, kh, kw], conv-transpose W [C, F/g, kh, kw]).
Run from the repository root: python3 testdata/gen/nn_torch_fixtures.py
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(1234)
DT = torch.float64
OUT = os.path.join(os.path.dirname(__file__), "..", "nn")


def rnd(*shape, lo=-1.0, hi=1.0):
    t = torch.rand(*shape, dtype=DT) * (hi - lo) + lo
    # values exactly representable in float32 and short in JSON
    return torch.round(t * 4096) / 4096


def enc(t):
    return {"shape": list(t.shape), "data": [float(f"{v:.7g}") for v in t.reshape(-1).tolist()]}


def layer(kind, **cfg):
    return {"kind": kind, "config": cfg}


def same_pads(n, k, s, d):
    out = (n + s - 1) // s
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


cases = []


def case(name, lay, x, out, params=None, train=False, after=None):
    """x is one tensor, or a list of tensors for a layer with several inputs."""
    c = {"name": name, "layer": lay, "output": enc(out), "train": train,
         "params": {k: enc(v) for k, v in (params or {}).items()}}
    if isinstance(x, (list, tuple)):
        c["inputs"] = [enc(v) for v in x]
    else:
        c["input"] = enc(x)
    if after:
        c["params_after"] = {k: enc(v) for k, v in after.items()}
    cases.append(c)


def act_torch(kind, z):
    return {"identity": lambda v: v, "relu": F.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}[kind](z)


# --- Conv2D ---------------------------------------------------------------
for i, (c, f, k, s, d, g, pad, bias, act) in enumerate([
    (3, 4, (3, 3), (1, 1), (1, 1), 1, "valid", True, "identity"),
    (4, 6, (3, 3), (2, 2), (1, 1), 2, "same", True, "relu"),
    (4, 4, (3, 3), (1, 1), (2, 2), 4, "same", False, "identity"),  # depthwise, dilated
    (4, 8, (3, 2), (2, 1), (1, 2), 4, "explicit", True, "tanh"),  # depthwise x2
    (2, 3, (2, 3), (2, 3), (1, 1), 1, "same_low", True, "sigmoid"),
]):
    h, w = 7, 8
    x = rnd(2, c, h, w)
    W = rnd(f, c // g, *k)
    b = rnd(f)
    if pad == "valid":
        pads = [0, 0, 0, 0]
    elif pad in ("same", "same_low"):
        ph = same_pads(h, k[0], s[0], d[0])
        pw = same_pads(w, k[1], s[1], d[1])
        if pad == "same_low":
            ph, pw = ph[::-1], pw[::-1]
        pads = [ph[0], pw[0], ph[1], pw[1]]
    else:
        pads = [1, 2, 0, 1]
    xp = F.pad(x, (pads[1], pads[3], pads[0], pads[2]))
    z = F.conv2d(xp, W, b if bias else None, stride=s, dilation=d, groups=g)
    cfg = dict(rank=2, filters=f, kernel=list(k), strides=list(s), dilations=list(d), groups=g,
               padding=pad, no_bias=not bias, activation={"kind": act})
    if pad == "explicit":
        cfg["pads"] = pads
    params = {"W": W}
    if bias:
        params["b"] = b
    case(f"conv2d_{i}", layer("Conv2D", **cfg), x, act_torch(act, z), params)

# --- Conv1D (causal, dilated, strided) ----------------------------------------
for i, (k, s, d, pad) in enumerate([(3, 1, 2, "causal"), (4, 2, 1, "same"), (3, 1, 1, "valid")]):
    x = rnd(2, 3, 9)
    W = rnd(5, 3, k)
    b = rnd(5)
    if pad == "causal":
        pl, pr = (k - 1) * d, 0
    elif pad == "same":
        pl, pr = same_pads(9, k, s, d)
    else:
        pl, pr = 0, 0
    z = F.conv1d(F.pad(x, (pl, pr)), W, b, stride=s, dilation=d)
    case(f"conv1d_{i}", layer("Conv1D", rank=1, filters=5, kernel=[k], strides=[s], dilations=[d], padding=pad,
                              activation={"kind": "identity"}), x, z, {"W": W, "b": b})

# --- ConvTranspose2D ------------------------------------------------------------
for i, (c, f, k, s, p, op, d, g) in enumerate([
    (3, 2, (3, 3), (2, 2), (1, 1), (1, 1), (1, 1), 1),
    (4, 4, (2, 3), (1, 2), (0, 1), (0, 1), (1, 1), 2),
    (2, 3, (3, 3), (1, 1), (0, 0), (0, 0), (2, 1), 1),
]):
    x = rnd(2, c, 4, 5)
    W = rnd(c, f // g, *k)
    b = rnd(f)
    z = F.conv_transpose2d(x, W, b, stride=s, padding=p, output_padding=op, groups=g, dilation=d)
    case(f"convt_{i}", layer("ConvTranspose2D", filters=f, kernel=list(k), strides=list(s), dilations=list(d),
                             groups=g, padding="explicit", pads=[p[0], p[1], p[0], p[1]], output_padding=list(op),
                             activation={"kind": "identity"}), x, z, {"W": W, "b": b})

# --- SeparableConv2D -----------------------------------------------------------
x = rnd(2, 3, 6, 6)
DW = rnd(6, 1, 3, 3)
PW = rnd(4, 6, 1, 1)
b = rnd(4)
z = F.conv2d(F.conv2d(F.pad(x, (1, 1, 1, 1)), DW, groups=3), PW, b)
case("sepconv_0", layer("SeparableConv2D", filters=4, kernel=[3, 3], depth_multiplier=2, padding="same",
                        activation={"kind": "relu"}), x, F.relu(z), {"DW": DW, "PW": PW, "b": b})

# --- Pooling -------------------------------------------------------------------
for i, (op, k, s, p, ceil, cip) in enumerate([
    ("max", (2, 2), (2, 2), (0, 0), False, False),
    ("max", (3, 3), (2, 2), (1, 1), True, False),
    ("avg", (3, 3), (2, 2), (1, 1), False, True),
    ("avg", (3, 3), (2, 2), (1, 1), False, False),
    ("avg", (3, 2), (2, 2), (1, 0), True, True),
    ("avg", (2, 2), (2, 2), (0, 0), True, False),
    ("max", (3, 2), (2, 1), (1, 1), True, False),
]):
    x = rnd(2, 3, 7, 6)
    if op == "max":
        y = F.max_pool2d(x, k, s, p, ceil_mode=ceil)
    else:
        y = F.avg_pool2d(x, k, s, p, ceil_mode=ceil, count_include_pad=cip)
    cfg = dict(rank=2, op=op, kernel=list(k), strides=list(s), padding="explicit", pads=[p[0], p[1], p[0], p[1]],
               ceil_mode=ceil, count_include_pad=cip)
    case(f"pool2d_{i}", layer(("MaxPool2D" if op == "max" else "AvgPool2D"), **cfg), x, y)
x = rnd(2, 3, 9)
case("pool1d_avg", layer("AvgPool1D", rank=1, op="avg", kernel=[3], strides=[2], padding="explicit", pads=[1, 1],
                         ceil_mode=True, count_include_pad=False), x,
     F.avg_pool1d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False))

# --- BatchNorm (inference, and a training step) -----------------------------------
x = rnd(4, 3, 2, 3, lo=-2, hi=3)
gamma, beta, mean, var = rnd(3, lo=0.5, hi=1.5), rnd(3), rnd(3), rnd(3, lo=0.5, hi=2)
y = F.batch_norm(x, mean.clone(), var.clone(), gamma, beta, training=False, eps=1e-3)
case("bn_infer", layer("BatchNorm", epsilon=1e-3, momentum=0.9), x, y,
     {"gamma": gamma, "beta": beta, "mean": mean, "var": var})
rm, rv = mean.clone(), var.clone()
y = F.batch_norm(x, rm, rv, gamma, beta, training=True, momentum=0.1, eps=1e-3)
case("bn_train", layer("BatchNorm", epsilon=1e-3, momentum=0.9), x, y,
     {"gamma": gamma, "beta": beta, "mean": mean, "var": var}, train=True, after={"mean": rm, "var": rv})

# --- LayerNorm ------------------------------------------------------------------------
x = rnd(2, 3, 4, lo=-2, hi=2)
gamma, beta = rnd(3, 4, lo=0.5, hi=1.5), rnd(3, 4)
case("ln_2axes", layer("LayerNorm", epsilon=1e-5, axis=0), x, F.layer_norm(x, (3, 4), gamma, beta, 1e-5),
     {"gamma": gamma, "beta": beta})

# --- UpSampling -------------------------------------------------------------------------
x = rnd(2, 2, 3, 4)
case("up_nearest", layer("UpSampling", rank=2, size=[2, 3], mode="nearest"), x,
     F.interpolate(x, scale_factor=(2, 3), mode="nearest"))
case("up_bilinear", layer("UpSampling", rank=2, size=[2, 3], mode="linear"), x,
     F.interpolate(x, scale_factor=(2, 3), mode="bilinear", align_corners=False))

# --- Activations (Activation layer) -------------------------------------------------------
x = rnd(3, 7, lo=-4, hi=4)
acts = {
    "relu": F.relu(x), "relu6": F.relu6(x), "leaky_relu": F.leaky_relu(x, 0.1), "elu": F.elu(x, 0.7),
    "selu": F.selu(x), "gelu": F.gelu(x), "swish": F.silu(x), "sigmoid": torch.sigmoid(x),
    "hard_sigmoid": torch.clamp(0.2 * x + 0.5, 0, 1), "tanh": torch.tanh(x), "softmax": F.softmax(x, -1),
    "log_softmax": F.log_softmax(x, -1), "softplus": F.softplus(x), "softsign": F.softsign(x),
    "threshold_relu": torch.where(x > 0.5, x, torch.zeros_like(x)), "clip": torch.clamp(x, -1, 2),
    "hard_swish": F.hardswish(x), "gelu_tanh": F.gelu(x, approximate="tanh"), "mish": F.mish(x),
}
extra = {"leaky_relu": {"alpha": 0.1}, "elu": {"alpha": 0.7}, "threshold_relu": {"alpha": 0.5},
         "clip": {"alpha": -1, "beta": 2}, "softmax": {"axis": -1}, "log_softmax": {"axis": -1}}
for k, y in acts.items():
    case(f"act_{k}", layer("Activation", activation=dict(kind=k, **extra.get(k, {}))), x, y)
x3 = rnd(2, 3, 4)
case("act_softmax_axis0", layer("Activation", activation={"kind": "softmax", "axis": 0}), x3, F.softmax(x3, 1))

# --- Losses ---------------------------------------------------------------------------------
losses = []
N, C = 4, 5
z = rnd(N, C, lo=-3, hi=3)
onehot = F.one_hot(torch.tensor([0, 3, 4, 1]), C).to(DT)
sparse = torch.tensor([0, 3, 4, 1], dtype=DT)
p = F.softmax(z, -1)
s = torch.sigmoid(z)
bin_t = (rnd(N, C) > 0).to(DT)
soft_t = F.softmax(rnd(N, C), -1)
reg_t = rnd(N, C, lo=-2, hi=2)
pos_t = rnd(N, C, lo=0, hi=3)


def L(name, loss, act, logits, labels, value, y=None):
    losses.append({"name": name, "loss": loss, "activation": {"kind": act, "axis": -1}, "from_logits": logits,
                   "z": enc(z), "labels": enc(labels), "value": float(value)})


L("mcxent_softmax", "mcxent", "softmax", False, onehot, F.cross_entropy(z, sparse.long()))
L("mcxent_logits", "mcxent", "identity", True, onehot, F.cross_entropy(z, sparse.long()))
L("sparse_softmax", "sparse_mcxent", "softmax", False, sparse, F.cross_entropy(z, sparse.long()))
L("sparse_logits", "sparse_mcxent", "identity", True, sparse, F.cross_entropy(z, sparse.long()))
L("nll_softmax", "nll", "softmax", False, onehot, F.nll_loss(torch.log(p), sparse.long()))
L("xent_sigmoid", "xent", "sigmoid", False, bin_t, F.binary_cross_entropy(s, bin_t))
L("xent_logits", "xent", "identity", True, bin_t, F.binary_cross_entropy_with_logits(z, bin_t))
L("mse", "mse", "identity", False, reg_t, F.mse_loss(z, reg_t))
L("mae_tanh", "mae", "tanh", False, reg_t, F.l1_loss(torch.tanh(z), reg_t))
hinge_t = 2 * bin_t - 1
L("hinge", "hinge", "identity", False, hinge_t, torch.clamp(1 - hinge_t * z, min=0).mean())
L("hinge01", "hinge", "identity", False, bin_t, torch.clamp(1 - hinge_t * z, min=0).mean())
L("squared_hinge", "squared_hinge", "identity", False, hinge_t, (torch.clamp(1 - hinge_t * z, min=0) ** 2).mean())
L("kld_softmax", "kld", "softmax", False, soft_t, F.kl_div(torch.log(p), soft_t, reduction="batchmean"))
L("poisson_softplus", "poisson", "softplus", False, pos_t,
  (F.softplus(z) - pos_t * torch.log(F.softplus(z) + 1e-7)).mean())
L("cosine", "cosine_proximity", "identity", False, reg_t, -F.cosine_similarity(z, reg_t, dim=-1).mean())

# The cases below come after the losses so that adding them left the earlier
# fixtures' random values unchanged.
# --- Dense / Output / RnnOutput (W is [in, units], the Keras layout) ---------------
def dense_case(name, kind, x, units, act, bias=True, **extra):
    Wt = rnd(units, x.shape[-1])  # torch's [out, in]
    b = rnd(units)
    z = F.linear(x, Wt, b if bias else None)
    y = F.softmax(z, -1) if act == "softmax" else act_torch(act, z)
    params = {"W": Wt.t().contiguous()}
    if bias:
        params["b"] = b
    cfg = dict(units=units, activation={"kind": act}, **extra)
    if not bias:
        cfg["no_bias"] = True
    case(name, layer(kind, **cfg), x, y, params)


dense_case("dense_rank2_relu", "Dense", rnd(3, 7), 5, "relu")
dense_case("dense_rank2_nobias_tanh", "Dense", rnd(3, 6), 4, "tanh", bias=False)
dense_case("dense_rank3_sigmoid", "Dense", rnd(2, 4, 6), 3, "sigmoid")
dense_case("dense_rank3_identity", "Dense", rnd(2, 3, 5), 4, "identity")
dense_case("output_softmax", "Output", rnd(4, 6, lo=-2, hi=2), 5, "softmax", loss="mcxent")
dense_case("output_sigmoid", "Output", rnd(3, 5), 2, "sigmoid", loss="xent")
dense_case("output_logits", "Output", rnd(3, 5), 4, "identity", loss="mcxent", from_logits=True)
dense_case("rnnoutput_softmax", "RnnOutput", rnd(2, 4, 5, lo=-2, hi=2), 3, "softmax", loss="mcxent")
dense_case("rnnoutput_tanh_nobias", "RnnOutput", rnd(2, 3, 4), 2, "tanh", bias=False, loss="mse")

# --- Merge (NumPy broadcasting without the batch axis) and Concat -------------------
def merge_torch(op, xs):
    if op == "add":
        return sum(xs[1:], xs[0])
    if op == "average":
        return sum(xs[1:], xs[0]) / len(xs)
    if op == "multiply":
        y = xs[0]
        for v in xs[1:]:
            y = y * v
        return y
    if op == "maximum":
        y = xs[0]
        for v in xs[1:]:
            y = torch.maximum(y, v)
        return y
    if op == "minimum":
        y = xs[0]
        for v in xs[1:]:
            y = torch.minimum(y, v)
        return y
    return {"subtract": torch.sub, "divide": torch.div, "pow": torch.pow}[op](xs[0], xs[1])


def batched(shape, lo=-1.0, hi=1.0):
    return rnd(2, *shape, lo=lo, hi=hi)


def unbatched_bcast(xs):
    # torch aligns from the right including the batch axis; the IR aligns the
    # shapes without batch from the right and keeps the batch axis first
    r = max(v.dim() for v in xs)
    return [v.reshape(v.shape[0], *([1] * (r - v.dim())), *v.shape[1:]) for v in xs]


for op, shapes, lo, hi in [
    ("add", [(3, 4), (3, 4), (3, 4)], -1, 1),
    ("add", [(3, 4), (4,)], -1, 1),
    ("subtract", [(3, 1), (1, 4)], -1, 1),
    ("multiply", [(2, 3, 4), (3, 1), (4,)], -1, 1),
    ("divide", [(3, 4), (3, 1)], 0.5, 2),
    ("average", [(2, 3), (2, 3), (1, 3)], -1, 1),
    ("maximum", [(3, 4), (1, 4), (3, 1)], -1, 1),
    ("minimum", [(2, 3, 4), (2, 1, 4)], -1, 1),
    ("pow", [(3, 4), (4,)], 0.5, 2),
]:
    xs = [batched(s, lo, hi) for s in shapes]
    y = merge_torch(op, unbatched_bcast(xs))
    case(f"merge_{op}_{'_'.join('x'.join(map(str, s)) for s in shapes)}", layer("Merge", op=op), xs, y)

for axis in (0, 1, -1):
    shapes = [[2, 3, 4], [2, 3, 4], [2, 3, 4]]
    for j, s in enumerate(shapes):
        s[axis] += j
    xs = [batched(s) for s in shapes]
    case(f"concat_axis{axis}", layer("Concat", axis=axis), xs, torch.cat(xs, dim=axis + 1 if axis >= 0 else axis))

# --- PReLU (alpha has the input's shape with shared axes set to 1) ---------------------
x = rnd(2, 3, 4, 5)
alpha = rnd(3, 1, 1, lo=0, hi=0.5)
case("prelu_shared_hw", layer("PReLU", shared_axes=[1, 2]), x, F.prelu(x, alpha.reshape(-1)), {"alpha": alpha})
alpha = rnd(1, 4, 5, lo=0, hi=0.5)
case("prelu_shared_c", layer("PReLU", shared_axes=[0]), x, torch.where(x > 0, x, alpha * x), {"alpha": alpha})
x = rnd(3, 4, 6)
alpha = rnd(4, 6, lo=0, hi=0.5)
case("prelu_full", layer("PReLU"), x, torch.where(x > 0, x, alpha * x), {"alpha": alpha})

# --- Rescaling and Unary ------------------------------------------------------------------
x = rnd(2, 3, 4, lo=0, hi=255)
scale = float(torch.tensor(1 / 127.5, dtype=torch.float32))  # the IR stores float32
case("rescaling", layer("Rescaling", scale=scale, offset=-1.0), x, x * scale - 1.0)
xm, xp = rnd(3, 5, lo=-3, hi=3), rnd(3, 5, lo=0.25, hi=3)
xr = torch.where(xm >= 0, xm + 0.5, xm - 0.5)  # away from 0
for op, xx, y, exp in [
    ("sqrt", xp, torch.sqrt(xp), None), ("exp", xm, torch.exp(xm), None), ("log", xp, torch.log(xp), None),
    ("neg", xm, torch.neg(xm), None), ("abs", xm, torch.abs(xm), None), ("erf", xm, torch.erf(xm), None),
    ("reciprocal", xr, torch.reciprocal(xr), None), ("square", xm, torch.square(xm), None),
    ("pow", xp, torch.pow(xp, 2.5), 2.5), ("pow", xm, torch.pow(xm, 3.0), 3.0), ("pow", xp, torch.pow(xp, -0.5), -0.5),
]:
    cfg = dict(op=op)
    name = f"unary_{op}"
    if exp is not None:
        cfg["exponent"] = exp
        name += f"_{exp:g}"
    case(name, layer("Unary", **cfg), xx, y)

# --- Flatten, Reshape, Permute -----------------------------------------------------------
x = rnd(2, 3, 4, 5)
case("flatten", layer("Flatten"), x, torch.flatten(x, 1))
case("reshape_infer", layer("Reshape", shape=[5, -1, 2]), x, x.reshape(2, 5, -1, 2))
case("reshape_rank2", layer("Reshape", shape=[12, 5]), x, x.reshape(2, 12, 5))
case("permute_201", layer("Permute", perm=[2, 0, 1]), x, x.permute(0, 3, 1, 2))
case("permute_021", layer("Permute", perm=[0, 2, 1]), x, x.permute(0, 1, 3, 2))

# --- Pad, Cropping --------------------------------------------------------------------------
x1, x2 = rnd(2, 3, 6), rnd(2, 2, 4, 5)
torch_mode = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}
for mode in ("constant", "reflect", "edge"):
    val = 0.75 if mode == "constant" else 0.0
    kw = {"value": val} if mode == "constant" else {}
    cfg = {"value": val} if mode == "constant" else {}
    case(f"pad1d_{mode}", layer("Pad", rank=1, mode=mode, pads=[2, 3], **cfg), x1,
         F.pad(x1, (2, 3), mode=torch_mode[mode], **kw))
    # IR pads: begins (H, W) then ends (H, W); torch: (W begin, W end, H begin, H end)
    case(f"pad2d_{mode}", layer("Pad", rank=2, mode=mode, pads=[1, 3, 2, 0], **cfg), x2,
         F.pad(x2, (3, 0, 1, 2), mode=torch_mode[mode], **kw))
case("pad1d_on_rank3", layer("Pad", rank=1, mode="reflect", pads=[1, 2]), x2,
     F.pad(x2.reshape(-1, 1, 5), (1, 2), mode="reflect").reshape(2, 2, 4, 8))
case("crop1d", layer("Cropping", rank=1, crops=[1, 2]), x1, x1[:, :, 1:-2])
case("crop2d", layer("Cropping", rank=2, crops=[1, 0, 2, 3]), x2, x2[:, :, 1:-2, 0:-3])

# --- Slice (Python slice semantics equal ONNX's clamping, negative steps included) ----------
x = rnd(2, 4, 5, 6)
for i, (axes, starts, ends, steps) in enumerate([
    ([2], [-1], [-100], [-1]),
    ([1], [4], [0], [-2]),
    ([0, 2], [3, 1], [-100, 100], [-2, 2]),
    ([-1, 1], [-2, -1], [0, -6], [-3, -1]),
    ([0], [1], [-1], None),
]):
    sl = [slice(None)] * 4
    for j, a in enumerate(axes):
        a = a + 3 if a < 0 else a
        sl[a + 1] = slice(starts[j], ends[j], steps[j] if steps else None)
    y = torch.from_numpy(x.numpy()[tuple(sl)].copy())
    cfg = dict(axes=axes, starts=starts, ends=ends)
    if steps:
        cfg["steps"] = steps
    case(f"slice_{i}", layer("Slice", **cfg), x, y)

# --- DepthToSpace / SpaceToDepth (ONNX spec formulas) ----------------------------------------
def d2s(x, bs, mode):
    b, c, h, w = x.shape
    if mode == "DCR":
        t = x.reshape(b, bs, bs, c // bs ** 2, h, w).permute(0, 3, 4, 1, 5, 2)
    else:
        t = x.reshape(b, c // bs ** 2, bs, bs, h, w).permute(0, 1, 4, 2, 5, 3)
    return t.reshape(b, c // bs ** 2, h * bs, w * bs)


def s2d(x, bs):
    b, c, h, w = x.shape
    t = x.reshape(b, c, h // bs, bs, w // bs, bs).permute(0, 3, 5, 1, 2, 4)
    return t.reshape(b, c * bs ** 2, h // bs, w // bs)


x = rnd(2, 8, 2, 3)
assert torch.equal(d2s(x, 2, "CRD"), F.pixel_shuffle(x, 2))  # torch's pixel_shuffle is CRD
case("d2s_dcr", layer("DepthToSpace", block=2, mode="DCR"), x, d2s(x, 2, "DCR"))
case("d2s_crd", layer("DepthToSpace", block=2, mode="CRD"), x, d2s(x, 2, "CRD"))
x = rnd(2, 2, 4, 6)
assert torch.equal(d2s(s2d(x, 2), 2, "DCR"), x)
case("s2d", layer("SpaceToDepth", block=2), x, s2d(x, 2))
x = rnd(1, 3, 6, 3)
case("s2d_block3", layer("SpaceToDepth", block=3), x, s2d(x, 3))

# --- Reduce (axes without batch) ----------------------------------------------------------------
x = rnd(2, 3, 4, 5)
for op, axes, keep in [("mean", [2], False), ("sum", [0, 2], True), ("max", [1], True), ("max", [-1, 0], False),
                       ("mean", [0, 1, 2], False), ("sum", [1], False)]:
    dims = tuple(a + 1 if a >= 0 else a for a in axes)
    fn = {"mean": torch.mean, "sum": torch.sum, "max": torch.amax}[op]
    cfg = dict(op=op, axes=axes)
    if keep:
        cfg["keep_dims"] = True
    case(f"reduce_{op}_{'_'.join(map(str, axes))}{'_keep' if keep else ''}", layer("Reduce", **cfg), x,
         fn(x, dim=dims, keepdim=keep))

# --- MaxPool1D and global pools --------------------------------------------------------------------
x = rnd(2, 3, 9)
case("maxpool1d_pad_ceil", layer("MaxPool1D", rank=1, op="max", kernel=[3], strides=[2], padding="explicit",
                                 pads=[1, 1], ceil_mode=True), x, F.max_pool1d(x, 3, 2, 1, ceil_mode=True))
case("maxpool1d_valid", layer("MaxPool1D", rank=1, op="max", kernel=[2], padding="valid"), x, F.max_pool1d(x, 2))
x1, x2 = rnd(2, 3, 7), rnd(2, 3, 4, 5)
case("gmaxpool1d", layer("GlobalMaxPool1D", rank=1, op="max"), x1, torch.amax(x1, dim=2))
case("gavgpool1d_keep", layer("GlobalAvgPool1D", rank=1, op="avg", keep_dims=True), x1, x1.mean(2, keepdim=True))
case("gmaxpool2d_keep", layer("GlobalMaxPool2D", rank=2, op="max", keep_dims=True), x2,
     F.adaptive_max_pool2d(x2, 1))
case("gavgpool2d", layer("GlobalAvgPool2D", rank=2, op="avg"), x2, F.adaptive_avg_pool2d(x2, 1).flatten(1))

# --- 3-D (NCDHW): Conv3D, ConvTranspose3D, pools, BatchNorm; dilated max pools --------------------
for i, (c, f, k, s, d, g, p, bias) in enumerate([
    (3, 4, (2, 3, 3), (1, 1, 1), (1, 1, 1), 1, (0, 0, 0), True),
    (4, 6, (3, 2, 3), (2, 1, 2), (1, 2, 1), 2, (1, 0, 1), True),
    (4, 4, (2, 2, 2), (1, 2, 1), (2, 1, 1), 4, (1, 1, 0), False),  # depthwise, dilated
]):
    x = rnd(2, c, 5, 6, 5)
    W = rnd(f, c // g, *k)
    b = rnd(f)
    z = F.conv3d(x, W, b if bias else None, stride=s, padding=p, dilation=d, groups=g)
    params = {"W": W}
    if bias:
        params["b"] = b
    case(f"conv3d_{i}", layer("Conv3D", rank=3, filters=f, kernel=list(k), strides=list(s), dilations=list(d),
                              groups=g, padding="explicit", pads=list(p) + list(p), no_bias=not bias,
                              activation={"kind": "identity"}), x, z, params)
for i, (c, f, k, s, p, op, d, g) in enumerate([
    (3, 2, (3, 3, 2), (2, 2, 1), (1, 1, 0), (1, 0, 0), (1, 1, 1), 1),
    (4, 4, (2, 3, 3), (1, 2, 2), (0, 1, 1), (0, 1, 0), (2, 1, 1), 2),
]):
    x = rnd(2, c, 3, 4, 3)
    W = rnd(c, f // g, *k)
    b = rnd(f)
    z = F.conv_transpose3d(x, W, b, stride=s, padding=p, output_padding=op, groups=g, dilation=d)
    case(f"convt3d_{i}", layer("ConvTranspose3D", rank=3, filters=f, kernel=list(k), strides=list(s),
                               dilations=list(d), groups=g, padding="explicit", pads=list(p) + list(p),
                               output_padding=list(op), activation={"kind": "identity"}), x, z, {"W": W, "b": b})
for i, (op, k, s, p, ceil, cip) in enumerate([
    ("max", (2, 2, 2), (2, 2, 2), (0, 0, 0), False, False),
    ("max", (3, 2, 3), (2, 1, 2), (1, 1, 1), True, False),
    ("avg", (3, 3, 3), (2, 2, 2), (1, 1, 1), False, True),
    ("avg", (3, 2, 3), (2, 2, 1), (1, 1, 0), True, False),
]):
    x = rnd(2, 3, 5, 6, 5)
    if op == "max":
        y = F.max_pool3d(x, k, s, p, ceil_mode=ceil)
    else:
        y = F.avg_pool3d(x, k, s, p, ceil_mode=ceil, count_include_pad=cip)
    cfg = dict(rank=3, op=op, kernel=list(k), strides=list(s), padding="explicit", pads=list(p) + list(p),
               ceil_mode=ceil, count_include_pad=cip)
    case(f"pool3d_{i}", layer(("MaxPool3D" if op == "max" else "AvgPool3D"), **cfg), x, y)
x3 = rnd(2, 3, 3, 4, 2)
case("gmaxpool3d", layer("GlobalMaxPool3D", rank=3, op="max"), x3, torch.amax(x3, dim=(2, 3, 4)))
case("gavgpool3d_keep", layer("GlobalAvgPool3D", rank=3, op="avg", keep_dims=True), x3,
     F.adaptive_avg_pool3d(x3, 1))
x = rnd(4, 3, 2, 3, 2, lo=-2, hi=3)
gamma, beta, mean, var = rnd(3, lo=0.5, hi=1.5), rnd(3), rnd(3), rnd(3, lo=0.5, hi=2)
case("bn_5d", layer("BatchNorm", epsilon=1e-3, momentum=0.9), x,
     F.batch_norm(x, mean, var, gamma, beta, training=False, eps=1e-3),
     {"gamma": gamma, "beta": beta, "mean": mean, "var": var})
x = rnd(2, 3, 11)
case("maxpool1d_dilated", layer("MaxPool1D", rank=1, op="max", kernel=[3], strides=[2], dilations=[2],
                                padding="explicit", pads=[1, 1]), x, F.max_pool1d(x, 3, 2, 1, dilation=2))
x = rnd(2, 3, 8, 9)
case("maxpool2d_dilated_ceil", layer("MaxPool2D", rank=2, op="max", kernel=[3, 2], strides=[2, 1],
                                     dilations=[2, 3], padding="explicit", pads=[1, 0, 1, 0], ceil_mode=True), x,
     F.max_pool2d(x, (3, 2), (2, 1), (1, 0), dilation=(2, 3), ceil_mode=True))
x = rnd(1, 2, 6, 5, 7)
case("maxpool3d_dilated", layer("MaxPool3D", rank=3, op="max", kernel=[2, 2, 2], strides=[1, 2, 1],
                                dilations=[2, 1, 3], padding="explicit", pads=[1, 0, 1, 1, 0, 1]), x,
     F.max_pool3d(x, 2, (1, 2, 1), (1, 0, 1), dilation=(2, 1, 3)))

for i, (c, f, k, s, p, op, d, g) in enumerate([(3, 2, 3, 2, 1, 1, 1, 1), (4, 6, 4, 3, 2, 0, 2, 2)]):
    x = rnd(2, c, 7)
    W = rnd(c, f // g, k)
    b = rnd(f)
    z = F.conv_transpose1d(x, W, b, stride=s, padding=p, output_padding=op, groups=g, dilation=d)
    case(f"convt1d_{i}", layer("ConvTranspose1D", rank=1, filters=f, kernel=[k], strides=[s], dilations=[d],
                               groups=g, padding="explicit", pads=[p, p], output_padding=[op],
                               activation={"kind": "identity"}), x, z, {"W": W, "b": b})

os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "core_layers.json"), "w") as f:
    json.dump({"generator": "testdata/gen/nn_torch_fixtures.py", "torch": torch.__version__, "cases": cases}, f,
              separators=(",", ":"))
with open(os.path.join(OUT, "core_losses.json"), "w") as f:
    json.dump({"generator": "testdata/gen/nn_torch_fixtures.py", "torch": torch.__version__, "cases": losses}, f,
              separators=(",", ":"))
print(len(cases), "layer cases,", len(losses), "loss cases")
