#!/usr/bin/env python3
"""Inputs and the outputs tf.keras 2.11 computes for the real Keras file
../shared/fixtures/keras-real/weights/keras-attention.h5 (Dense → Attention
on rank-2 tensors → Concatenate → Dense → Dense), from its stored weights
with numpy: Keras's Attention on [batch, features] tensors attends across
the batch (scores = h·hᵀ of shape [batch, batch]). Keras predicts in
batches of 32; the 8 examples here are one batch.

Usage: python3 testdata/gen/keras_real_attention.py [fixture] [out]
(default ../shared/fixtures/keras-real/weights/keras-attention.h5,
testdata/keras/real/keras_attention_io.h5)
"""
import os, sys
import numpy as np
import h5py

here = os.path.dirname(os.path.abspath(__file__))
src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "shared", "fixtures", "keras-real", "weights", "keras-attention.h5")
out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "..", "keras", "real", "keras_attention_io.h5")

with h5py.File(src, "r") as f:
    g = f["model_weights"]
    W = lambda n: (g[n][n]["kernel:0"][()].astype(np.float64), g[n][n]["bias:0"][()].astype(np.float64))
    (K0, b0), (K1, b1), (K2, b2) = W("dense"), W("dense_1"), W("outputs")

rng = np.random.default_rng(11)
x = rng.standard_normal((8, 22)).astype(np.float32)
relu = lambda z: np.maximum(z, 0)
h = relu(x @ K0 + b0)
s = h @ h.T  # use_scale False, score_mode dot
p = np.exp(s - s.max(-1, keepdims=True))
p /= p.sum(-1, keepdims=True)
att = p @ h
y = relu(relu(np.concatenate([h, att], -1) @ K1 + b1) @ K2 + b2)
os.makedirs(os.path.dirname(out), exist_ok=True)
with h5py.File(out, "w") as f:
    f.create_dataset("inputs/inputs", data=x)
    f.create_dataset("predictions/outputs", data=y.astype(np.float32))
print("wrote", out, "outputs", y.ravel())
