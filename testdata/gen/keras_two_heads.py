#!/usr/bin/env python3
"""Write a Keras 2 functional model with two inputs and two outputs (a
regression head and a 3-class softmax head, loss_weights in its
training_config) as tf.keras writes it, with weights and data from numpy,
and the losses a numpy reference computes for in-order minibatch SGD on it.

Usage: /usr/bin/python3 testdata/gen/keras_two_heads.py   (from the module root)
Writes testdata/keras/two_heads/: model.h5, xa.npy, xb.npy, yreg.npy,
ycls.npy, expected.json.
"""
import json
import os

import h5py
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "keras", "two_heads")
N, BATCH, EPOCHS, LR = 32, 8, 4, 0.1
WEIGHTS = {"reg": 0.5, "cls": 2.0}

rng = np.random.default_rng(14)
f32 = np.float32
W1 = rng.uniform(-0.6, 0.6, (5, 4)).astype(f32)   # Dense "shared" on concat(a, b)
b1 = rng.uniform(-0.1, 0.1, 4).astype(f32)
W2 = rng.uniform(-0.6, 0.6, (4, 1)).astype(f32)   # Dense "reg", linear
b2 = rng.uniform(-0.1, 0.1, 1).astype(f32)
W3 = rng.uniform(-0.6, 0.6, (4, 3)).astype(f32)   # Dense "cls", softmax
b3 = rng.uniform(-0.1, 0.1, 3).astype(f32)
xa = rng.normal(size=(N, 3)).astype(f32)
xb = rng.normal(size=(N, 2)).astype(f32)
yreg = (xa[:, :1] - 0.5 * xb[:, 1:2]).astype(f32)
ycls = (np.argmax(np.concatenate([xa[:, 1:3], xb[:, :1]], axis=1), axis=1)).astype(np.int64)


def dense(name, units, act):
    return {"class_name": "Dense", "name": name, "config": {"name": name, "trainable": True, "units": units,
            "activation": act, "use_bias": True, "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
            "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": None,
            "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None, "bias_constraint": None}}


def inbound(*names):
    return [[[n, 0, 0, {}] for n in names]]


layers = [
    {"class_name": "InputLayer", "name": "a", "config": {"batch_input_shape": [None, 3], "dtype": "float32", "sparse": False, "name": "a"}, "inbound_nodes": []},
    {"class_name": "InputLayer", "name": "b", "config": {"batch_input_shape": [None, 2], "dtype": "float32", "sparse": False, "name": "b"}, "inbound_nodes": []},
    {"class_name": "Concatenate", "name": "concat", "config": {"name": "concat", "trainable": True, "axis": -1}, "inbound_nodes": inbound("a", "b")},
    dict(dense("shared", 4, "tanh"), inbound_nodes=inbound("concat")),
    dict(dense("reg", 1, "linear"), inbound_nodes=inbound("shared")),
    dict(dense("cls", 3, "softmax"), inbound_nodes=inbound("shared")),
]
model_config = {"class_name": "Functional", "config": {"name": "two_heads", "layers": layers,
                "input_layers": [["a", 0, 0], ["b", 0, 0]], "output_layers": [["reg", 0, 0], ["cls", 0, 0]]}}
training_config = {"loss": {"reg": "mse", "cls": "categorical_crossentropy"}, "metrics": [], "weighted_metrics": None,
                   "loss_weights": WEIGHTS, "sample_weight_mode": None,
                   "optimizer_config": {"class_name": "SGD", "config": {"name": "SGD", "learning_rate": LR, "momentum": 0.0, "nesterov": False, "decay": 0.0}}}

os.makedirs(OUT, exist_ok=True)
with h5py.File(os.path.join(OUT, "model.h5"), "w") as f:
    f.attrs["model_config"] = json.dumps(model_config)
    f.attrs["training_config"] = json.dumps(training_config)
    f.attrs["keras_version"] = "2.4.0"
    f.attrs["backend"] = "tensorflow"
    mw = f.create_group("model_weights")
    mw.attrs["layer_names"] = np.array([b"a", b"b", b"concat", b"shared", b"reg", b"cls"])
    mw.attrs["backend"] = "tensorflow"
    mw.attrs["keras_version"] = "2.4.0"
    for name, ws in [("a", []), ("b", []), ("concat", []), ("shared", [W1, b1]), ("reg", [W2, b2]), ("cls", [W3, b3])]:
        g = mw.create_group(name)
        names = [("%s/kernel:0" % name).encode(), ("%s/bias:0" % name).encode()][:len(ws)]
        g.attrs["weight_names"] = np.array(names) if names else np.array([], dtype="float64")
        if ws:
            sub = g.create_group(name)
            sub.create_dataset("kernel:0", data=ws[0])
            sub.create_dataset("bias:0", data=ws[1])
for n, a in [("xa", xa), ("xb", xb), ("yreg", yreg), ("ycls", ycls)]:
    np.save(os.path.join(OUT, n + ".npy"), a)

# numpy reference, float64 from the float32 values: in-order minibatches,
# plain SGD, loss = 0.5 * mse(reg) + 2 * categorical crossentropy(cls)
P = [p.astype(np.float64) for p in (W1, b1, W2, b2, W3, b3)]
X = np.concatenate([xa, xb], axis=1).astype(np.float64)
Y = np.eye(3)[ycls]
R = yreg.astype(np.float64)
wr, wc = WEIGHTS["reg"], WEIGHTS["cls"]


def forward(P, x):
    W1, b1, W2, b2, W3, b3 = P
    h = np.tanh(x @ W1 + b1)
    r = h @ W2 + b2
    z = h @ W3 + b3
    s = np.exp(z - z.max(axis=1, keepdims=True))
    return h, r, s / s.sum(axis=1, keepdims=True)


def losses(P, x, y, t):
    _, r, s = forward(P, x)
    return np.mean(np.mean((r - t) ** 2, axis=1)), np.mean(-np.sum(y * np.log(s), axis=1))


history = {"loss": [], "reg_loss": [], "cls_loss": []}
for epoch in range(EPOCHS):
    tot, lr_, lc_ = [], [], []
    for lo in range(0, N, BATCH):
        x, y, t = X[lo:lo + BATCH], Y[lo:lo + BATCH], R[lo:lo + BATCH]
        m = len(x)
        W1, b1, W2, b2, W3, b3 = P
        h, r, s = forward(P, x)
        lreg, lcls = losses(P, x, y, t)
        tot.append(wr * lreg + wc * lcls)
        lr_.append(lreg)
        lc_.append(lcls)
        dr = wr * 2 * (r - t) / m
        dz = wc * (s - y) / m
        dh = dr @ W2.T + dz @ W3.T
        d1 = dh * (1 - h ** 2)
        grads = [x.T @ d1, d1.sum(0), h.T @ dr, dr.sum(0), h.T @ dz, dz.sum(0)]
        P = [p - LR * g for p, g in zip(P, grads)]
    history["loss"].append(float(np.mean(tot)))
    history["reg_loss"].append(float(np.mean(lr_)))
    history["cls_loss"].append(float(np.mean(lc_)))
lreg, lcls = losses(P, X, Y, R)
expected = {"batch_size": BATCH, "epochs": EPOCHS, "learning_rate": LR, "loss_weights": WEIGHTS,
            "history": history, "final_loss": float(wr * lreg + wc * lcls),
            "final_reg_loss": float(lreg), "final_cls_loss": float(lcls)}
with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1)
    f.write("\n")
print(json.dumps(expected["history"]))
