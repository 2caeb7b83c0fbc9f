#!/usr/bin/env python3
"""Runs a Keras 2 HDF5 model (a chain of layers, channels_last) with PyTorch,
reading only the file: model_config and model_weights, as Keras would. It
is an independent reader of what exporters/keras writes for volumetric
layers, used by tests where Keras itself is not installed.

usage: keras_h5_torch.py MODEL.h5 INPUT.npy OUTPUT.npy
The input is channels last (N, D, H, W, C) or (N, H, W, C) or (N, W, C).
"""
import json
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F


def weights(f, name):
    g = f["model_weights"][name]
    return {w.decode().split("/")[-1].split(":")[0]: torch.tensor(np.array(g[w.decode()]), dtype=torch.float64)
            for w in g.attrs["weight_names"]}


def tf_same(n, k, s, d=1):
    out = (n + s - 1) // s
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


def act(name, x):
    return {"linear": lambda v: v, "relu": F.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
            "softmax": lambda v: torch.softmax(v, -1)}[name](x)


def to_cf(x):  # channels last -> first
    return x.permute(0, x.dim() - 1, *range(1, x.dim() - 1))


def to_cl(x):
    return x.permute(0, *range(2, x.dim()), 1)


def pad_same(x, k, s, d):
    pads = []
    for i in reversed(range(len(k))):
        b, e = tf_same(x.shape[2 + i], k[i], s[i], d[i])
        pads += [b, e]
    return F.pad(x, pads)


def main(path, inp, outp):
    f = h5py.File(path, "r")
    cfg = json.loads(f.attrs["model_config"])
    x = torch.tensor(np.load(inp), dtype=torch.float64)
    for l in cfg["config"]["layers"]:
        cls, c = l["class_name"], l["config"]
        name = l.get("name", c.get("name"))
        if cls == "InputLayer":
            continue
        n = x.dim() - 2
        if cls in ("Conv1D", "Conv2D", "Conv3D"):
            w = weights(f, name)
            k, s, d = c["kernel_size"], c["strides"], c["dilation_rate"]
            W = w["kernel"].permute(n + 1, n, *range(n))
            xc = to_cf(x)
            if c["padding"] == "same":
                xc = pad_same(xc, k, s, d)
            conv = [F.conv1d, F.conv2d, F.conv3d][n - 1]
            y = conv(xc, W, w.get("bias"), stride=s, dilation=d, groups=c.get("groups", 1))
            x = act(c["activation"], to_cl(y))
        elif cls in ("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"):
            w = weights(f, name)
            assert c["padding"] == "valid", "the check handles valid padding only"
            W = w["kernel"].permute(n + 1, n, *range(n))
            op = c.get("output_padding") or [0] * n
            convt = [F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d][n - 1]
            y = convt(to_cf(x), W, w.get("bias"), stride=c["strides"], output_padding=op, dilation=c["dilation_rate"])
            x = act(c["activation"], to_cl(y))
        elif cls in ("ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D"):
            p = c["padding"]
            if n == 1:
                p = [p]
            pads = []
            for b, e in reversed(p):
                pads += [b, e]
            x = to_cl(F.pad(to_cf(x), pads))
        elif cls in ("MaxPooling3D", "AveragePooling3D"):
            assert c["padding"] == "valid", "the check handles valid padding only"
            fn = F.max_pool3d if cls.startswith("Max") else F.avg_pool3d
            x = to_cl(fn(to_cf(x), c["pool_size"], c["strides"]))
        elif cls == "BatchNormalization":
            w = weights(f, name)
            y = (x - w["moving_mean"]) / torch.sqrt(w["moving_variance"] + c["epsilon"])
            x = y * w.get("gamma", 1) + w.get("beta", 0)
        elif cls in ("GlobalAveragePooling3D", "GlobalMaxPooling3D"):
            axes = tuple(range(1, x.dim() - 1))
            x = x.mean(axes) if "Average" in cls else x.amax(axes)
        elif cls == "Dense":
            w = weights(f, name)
            x = act(c["activation"], x @ w["kernel"] + w.get("bias", 0))
        else:
            raise SystemExit("unsupported class " + cls)
    np.save(outp, x.numpy().astype(np.float32))


if __name__ == "__main__":
    main(*sys.argv[1:])
