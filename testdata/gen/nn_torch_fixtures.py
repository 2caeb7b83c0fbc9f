#!/usr/bin/env python3
"""Writes testdata/nn/core_*.json: forward fixtures for the nn engine
(conv, conv transpose, separable conv, pooling, batch/layer norm,
upsampling, activations, losses) computed with PyTorch in float64.

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
    c = {"name": name, "layer": lay, "input": enc(x), "output": enc(out), "train": train,
         "params": {k: enc(v) for k, v in (params or {}).items()}}
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

os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "core_layers.json"), "w") as f:
    json.dump({"generator": "testdata/gen/nn_torch_fixtures.py", "torch": torch.__version__, "cases": cases}, f,
              separators=(",", ":"))
with open(os.path.join(OUT, "core_losses.json"), "w") as f:
    json.dump({"generator": "testdata/gen/nn_torch_fixtures.py", "torch": torch.__version__, "cases": losses}, f,
              separators=(",", ":"))
print(len(cases), "layer cases,", len(losses), "loss cases")
