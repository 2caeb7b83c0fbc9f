#!/usr/bin/env python3
"""Writes testdata/keras/conv3d/: a Keras 2 HDF5 Sequential model
of volumetric layers (Conv3D, BatchNormalization, MaxPooling3D,
Conv3DTranspose, AveragePooling3D, GlobalAveragePooling3D, Dense) over
channels-last NDHWC input, laid out as Keras 2.2 saves it (model_config
with every config key Keras writes, model_weights with layer_names and
weight_names, kernels [kd, kh, kw, in, out], transposed kernels [kd, kh,
kw, out, in]), with random weights, an input and the predictions computed
by PyTorch from the file alone (testdata/gen/keras_h5_torch.py). Keras is
not needed.

Usage (repository root): /usr/bin/python3 testdata/gen/keras_conv3d_fixture.py
"""
import json
import os
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import keras_h5_torch  # noqa: E402

OUT = os.path.join(HERE, "..", "keras", "conv3d")
rng = np.random.default_rng(3)

init = {"class_name": "VarianceScaling", "config": {"distribution": "uniform", "scale": 1.0, "seed": None, "mode": "fan_avg"}}
zeros = {"class_name": "Zeros", "config": {}}
ones = {"class_name": "Ones", "config": {}}


def conv_cfg(name, cls, filters, k, s, pad, act, **extra):
    c = {"name": name, "trainable": True, "dtype": "float32", "filters": filters, "kernel_size": k, "strides": s,
         "padding": pad, "data_format": "channels_last", "dilation_rate": [1, 1, 1], "activation": act,
         "use_bias": True, "kernel_initializer": init, "bias_initializer": zeros, "kernel_regularizer": None,
         "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None, "bias_constraint": None}
    c.update(extra)
    return {"class_name": cls, "config": c}


def pool_cfg(name, cls, k, s, pad):
    return {"class_name": cls, "config": {"name": name, "trainable": True, "dtype": "float32", "pool_size": k,
                                          "padding": pad, "strides": s, "data_format": "channels_last"}}


def w(*shape):
    return rng.uniform(-0.5, 0.5, shape).astype(np.float32)


def main():
    os.makedirs(OUT, exist_ok=True)
    layers = [
        conv_cfg("conv3d_1", "Conv3D", 4, [3, 3, 2], [1, 1, 1], "same", "relu", batch_input_shape=[None, 4, 6, 5, 2]),
        {"class_name": "BatchNormalization", "config": {
            "name": "batch_normalization_1", "trainable": True, "dtype": "float32", "axis": -1, "momentum": 0.99,
            "epsilon": 0.001, "center": True, "scale": True, "beta_initializer": zeros, "gamma_initializer": ones,
            "moving_mean_initializer": zeros, "moving_variance_initializer": ones, "beta_regularizer": None,
            "gamma_regularizer": None, "beta_constraint": None, "gamma_constraint": None}},
        pool_cfg("max_pooling3d_1", "MaxPooling3D", [2, 2, 2], [2, 2, 1], "valid"),
        conv_cfg("conv3d_transpose_1", "Conv3DTranspose", 3, [2, 3, 2], [2, 1, 2], "valid", "tanh", output_padding=None),
        pool_cfg("average_pooling3d_1", "AveragePooling3D", [2, 2, 2], [1, 1, 1], "valid"),
        {"class_name": "GlobalAveragePooling3D", "config": {"name": "global_average_pooling3d_1", "trainable": True,
                                                             "dtype": "float32", "data_format": "channels_last"}},
        {"class_name": "Dense", "config": {"name": "dense_1", "trainable": True, "dtype": "float32", "units": 3,
                                           "activation": "softmax", "use_bias": True, "kernel_initializer": init,
                                           "bias_initializer": zeros, "kernel_regularizer": None,
                                           "bias_regularizer": None, "activity_regularizer": None,
                                           "kernel_constraint": None, "bias_constraint": None}},
    ]
    weights = {
        "conv3d_1": [("kernel", w(3, 3, 2, 2, 4)), ("bias", w(4))],
        "batch_normalization_1": [("gamma", w(4) + 1), ("beta", w(4)), ("moving_mean", w(4)),
                                  ("moving_variance", w(4) + 1)],
        "conv3d_transpose_1": [("kernel", w(2, 3, 2, 3, 4)), ("bias", w(3))],
        "dense_1": [("kernel", w(3, 3)), ("bias", w(3))],
    }
    path = os.path.join(OUT, "model.h5")
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"2.2.4"
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {"name": "sequential_1", "layers": layers}}).encode()
        mw = f.create_group("model_weights")
        names = [l["config"]["name"] for l in layers]
        mw.attrs["layer_names"] = np.array([n.encode() for n in names])
        mw.attrs["backend"] = b"tensorflow"
        mw.attrs["keras_version"] = b"2.2.4"
        for n in names:
            g = mw.create_group(n)
            ws = weights.get(n, [])
            g.attrs["weight_names"] = np.array([("%s/%s:0" % (n, k)).encode() for k, _ in ws])
            for k, v in ws:
                g.create_dataset("%s/%s:0" % (n, k), data=v)
    x = rng.standard_normal((2, 4, 6, 5, 2)).astype(np.float32)
    np.save(os.path.join(OUT, "input.npy"), x)
    keras_h5_torch.main(path, os.path.join(OUT, "input.npy"), os.path.join(OUT, "predictions.npy"))


if __name__ == "__main__":
    main()
