#!/usr/bin/env python3
"""Writes Keras 3 `.keras` archives by hand (Keras 3 itself is not
installable here) with known weights, and the outputs numpy computes for
fixed inputs, for the Keras importer's tests.

Each archive is a zip of config.json (Keras 3 serialisation: module,
class_name, config, registered_name; functional inbound nodes as
{"args": [keras tensors], "kwargs": {}}), metadata.json and
model.weights.h5 (layers/<name>/vars/<i>; an LSTM's weights under
layers/<name>/cell/vars/<i>).  NAME_io.h5 holds inputs/<input name> and
predictions/<output name>.

Usage: python3 testdata/gen/keras3_fixture.py [outdir]   (default testdata/keras)
"""
import json, os, sys, zipfile, io
import numpy as np
import h5py

rng = np.random.default_rng(1234)
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "keras")
POLICY = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}


def layer(cls, name, cfg, inbound=None, build=None):
    c = {"name": name, "trainable": True, "dtype": POLICY}
    c.update(cfg)
    e = {"module": "keras.layers", "class_name": cls, "config": c, "registered_name": None}
    if build is not None:
        e["build_config"] = {"input_shape": build}
    if inbound is not None:
        e["name"] = name
        e["inbound_nodes"] = inbound
    return e


def ktensor(shape, src):
    return {"class_name": "__keras_tensor__", "config": {"shape": shape, "dtype": "float32", "keras_history": [src, 0, 0]}}


def node(*args):
    return [{"args": list(args), "kwargs": {}}]


def input_layer(name, shape, functional):
    e = {"module": "keras.layers", "class_name": "InputLayer",
         "config": {"batch_shape": [None] + list(shape), "dtype": "float32", "sparse": False, "name": name},
         "registered_name": None}
    if functional:
        e["name"] = name
        e["inbound_nodes"] = []
    return e


def write(name, config, weights, inputs, outputs):
    """weights: {h5 group path: [arrays]}"""
    os.makedirs(OUT, exist_ok=True)
    wbuf = io.BytesIO()
    with h5py.File(wbuf, "w") as f:
        f.create_group("layers")
        for path, arrs in weights.items():
            g = f.require_group(path).require_group("vars")
            for i, a in enumerate(arrs):
                g.create_dataset(str(i), data=np.asarray(a, dtype=np.float32))
        f.create_group("optimizer").create_group("vars")
        f.create_group("vars")
    meta = {"keras_version": "3.3.3", "date_saved": "2024-05-01@12:00:00"}
    with zipfile.ZipFile(os.path.join(OUT, name + ".keras"), "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("metadata.json", json.dumps(meta))
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", wbuf.getvalue())
    with h5py.File(os.path.join(OUT, name + "_io.h5"), "w") as f:
        for k, v in inputs.items():
            f.create_dataset("inputs/" + k, data=v.astype(np.float32))
        for k, v in outputs.items():
            f.create_dataset("predictions/" + k, data=v.astype(np.float32))


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def w(*shape):
    return rng.standard_normal(shape).astype(np.float32) * 0.5


def mlp():
    W1, b1, W2, b2 = w(6, 8), w(8), w(8, 3), w(3)
    cfg = {"module": "keras", "class_name": "Sequential", "config": {
        "name": "sequential", "trainable": True, "dtype": POLICY, "layers": [
            input_layer("input_layer", [6], False),
            layer("Dense", "dense", {"units": 8, "activation": "relu", "use_bias": True}, build=[None, 6]),
            layer("Dropout", "dropout", {"rate": 0.3, "seed": None, "noise_shape": None}),
            layer("Dense", "dense_1", {"units": 3, "activation": "softmax", "use_bias": True}, build=[None, 8]),
        ], "build_input_shape": [None, 6]}, "registered_name": None, "build_config": {"input_shape": [None, 6]},
        "compile_config": {"optimizer": {"module": "keras.optimizers", "class_name": "Adam", "config": {"name": "adam", "learning_rate": 0.01}, "registered_name": None},
                           "loss": "categorical_crossentropy", "metrics": None}}
    x = rng.standard_normal((4, 6)).astype(np.float32)
    y = softmax(np.maximum(x @ W1 + b1, 0) @ W2 + b2)
    write("k3_mlp", cfg, {"layers/dense": [W1, b1], "layers/dense_1": [W2, b2], "layers/dropout": []},
          {"input_layer": x}, {"dense_1": y})


def conv2d_same(x, k, b):
    n, h, wd, c = x.shape
    kh, kw, _, o = k.shape
    ph, pw = (kh - 1) // 2, (kw - 1) // 2
    xp = np.pad(x, ((0, 0), (ph, kh - 1 - ph), (pw, kw - 1 - pw), (0, 0)))
    out = np.zeros((n, h, wd, o), np.float64)
    for i in range(h):
        for j in range(wd):
            out[:, i, j, :] = np.tensordot(xp[:, i:i + kh, j:j + kw, :], k, axes=([1, 2, 3], [0, 1, 2]))
    return out + b


def cnn():
    """Functional: two convolution branches added, max pool, batch norm,
    flatten (channels last), softmax dense."""
    ka, ba, kb, bb = w(3, 3, 3, 4), w(4), w(1, 1, 3, 4), w(4)
    gamma, beta, mean, var = w(4) + 1, w(4), w(4), np.abs(w(4)) + 0.5
    Wd, bd = w(4 * 4 * 4, 5), w(5)
    shp = [None, 8, 8, 3]
    layers = [
        input_layer("image", [8, 8, 3], True),
        layer("Conv2D", "conv_a", {"filters": 4, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same",
                                   "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1,
                                   "activation": "relu", "use_bias": True}, node(ktensor(shp, "image")), shp),
        layer("Conv2D", "conv_b", {"filters": 4, "kernel_size": [1, 1], "strides": [1, 1], "padding": "valid",
                                   "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1,
                                   "activation": "linear", "use_bias": True}, node(ktensor(shp, "image")), shp),
        layer("Add", "add", {}, node([ktensor([None, 8, 8, 4], "conv_a"), ktensor([None, 8, 8, 4], "conv_b")])),
        layer("MaxPooling2D", "pool", {"pool_size": [2, 2], "strides": [2, 2], "padding": "valid",
                                       "data_format": "channels_last"}, node(ktensor([None, 8, 8, 4], "add"))),
        layer("BatchNormalization", "bn", {"axis": -1, "momentum": 0.99, "epsilon": 0.001, "center": True,
                                           "scale": True}, node(ktensor([None, 4, 4, 4], "pool"))),
        layer("Flatten", "flatten", {"data_format": "channels_last"}, node(ktensor([None, 4, 4, 4], "bn"))),
        layer("Dense", "probs", {"units": 5, "activation": "softmax", "use_bias": True}, node(ktensor([None, 64], "flatten"))),
    ]
    cfg = {"module": "keras.src.models.functional", "class_name": "Functional", "config": {
        "name": "cnn", "trainable": True, "layers": layers,
        "input_layers": [["image", 0, 0]], "output_layers": [["probs", 0, 0]]}, "registered_name": "Functional"}
    x = rng.standard_normal((3, 8, 8, 3)).astype(np.float32)
    a = np.maximum(conv2d_same(x, ka, ba), 0)
    b = np.tensordot(x, kb[0, 0], axes=([3], [0])) + bb
    s = a + b
    p = s.reshape(3, 4, 2, 4, 2, 4).max(axis=(2, 4))
    n = gamma * (p - mean) / np.sqrt(var + 0.001) + beta
    y = softmax(n.reshape(3, -1) @ Wd + bd)
    write("k3_cnn", cfg, {"layers/conv_a": [ka, ba], "layers/conv_b": [kb, bb], "layers/add": [], "layers/pool": [],
                          "layers/bn": [gamma, beta, mean, var], "layers/flatten": [], "layers/probs": [Wd, bd]},
          {"image": x}, {"probs": y})


def lstm():
    T, F, U = 5, 4, 6
    K, R, B = w(F, 4 * U), w(U, 4 * U), w(4 * U)
    Wd, bd = w(U, 2), w(2)
    cfg = {"module": "keras", "class_name": "Sequential", "config": {
        "name": "seq_lstm", "trainable": True, "dtype": POLICY, "layers": [
            input_layer("tokens", [T, F], False),
            layer("LSTM", "lstm", {"units": U, "activation": "tanh", "recurrent_activation": "sigmoid",
                                   "use_bias": True, "return_sequences": False, "return_state": False,
                                   "go_backwards": False, "stateful": False, "unroll": False,
                                   "unit_forget_bias": True, "dropout": 0.0, "recurrent_dropout": 0.0, "seed": None},
                  build=[None, T, F]),
            layer("Dense", "out", {"units": 2, "activation": "linear", "use_bias": True}, build=[None, U]),
        ]}, "registered_name": None,
        "compile_config": {"loss": "mean_squared_error", "optimizer": "rmsprop"}}
    x = rng.standard_normal((3, T, F)).astype(np.float32)
    h = np.zeros((3, U))
    c = np.zeros((3, U))
    for t in range(T):
        z = x[:, t] @ K + h @ R + B
        i, f, g, o = sigmoid(z[:, :U]), sigmoid(z[:, U:2 * U]), np.tanh(z[:, 2 * U:3 * U]), sigmoid(z[:, 3 * U:])
        c = f * c + i * g
        h = o * np.tanh(c)
    y = h @ Wd + bd
    write("k3_lstm", cfg, {"layers/lstm/cell": [K, R, B], "layers/out": [Wd, bd]}, {"tokens": x}, {"out": y})


def mha_ref(q, v, k, Wq, bq, Wk, bk, Wv, bv, Wo, bo):
    """Keras MultiHeadAttention: einsum projections, scaled dot product over
    the time axis, output EinsumDense."""
    Q = np.einsum("btc,chd->bthd", q, Wq) + bq
    K = np.einsum("btc,chd->bthd", k, Wk) + bk
    V = np.einsum("btc,chd->bthd", v, Wv) + bv
    Q = Q / np.sqrt(Wq.shape[-1])
    s = np.einsum("bshd,bthd->bhts", K, Q)
    p = softmax(s)
    o = np.einsum("bhts,bshd->bthd", p, V)
    return np.einsum("bthd,hdo->bto", o, Wo) + bo


def transformer():
    """Functional, two inputs: self-attention (mha(x, x)) with a residual
    and LayerNormalization, then cross-attention with the value passed as a
    keyword (mha_2(n, value=y)), average pooling, softmax dense."""
    T, E, S, Ey = 5, 8, 6, 7
    sa = [w(E, 2, 3), w(2, 3), w(E, 2, 3), w(2, 3), w(E, 2, 4), w(2, 4), w(2, 4, E), w(E)]
    ca = [w(E, 3, 2), w(3, 2), w(Ey, 3, 2), w(3, 2), w(Ey, 3, 2), w(3, 2), w(3, 2, 6), w(6)]
    gamma, beta = w(E) + 1, w(E)
    Wd, bd = w(6, 3), w(3)
    mha_cfg = lambda h, k, vd: {"num_heads": h, "key_dim": k, "value_dim": vd, "dropout": 0.1, "use_bias": True,
                                "output_shape": None, "attention_axes": None}
    layers = [
        input_layer("x", [T, E], True),
        input_layer("y", [S, Ey], True),
        layer("MultiHeadAttention", "mha", mha_cfg(2, 3, 4),
              node(ktensor([None, T, E], "x"), ktensor([None, T, E], "x"))),
        layer("Add", "res", {}, node([ktensor([None, T, E], "x"), ktensor([None, T, E], "mha")])),
        layer("LayerNormalization", "ln", {"axis": [-1], "epsilon": 1e-3, "center": True, "scale": True},
              node(ktensor([None, T, E], "res"))),
        layer("MultiHeadAttention", "mha_2", dict(mha_cfg(3, 2, None), output_shape=6),
              [{"args": [ktensor([None, T, E], "ln")], "kwargs": {"value": ktensor([None, S, Ey], "y")}}]),
        layer("GlobalAveragePooling1D", "pool", {"data_format": "channels_last", "keepdims": False},
              node(ktensor([None, T, 6], "mha_2"))),
        layer("Dense", "probs", {"units": 3, "activation": "softmax", "use_bias": True},
              node(ktensor([None, 6], "pool"))),
    ]
    cfg = {"module": "keras.src.models.functional", "class_name": "Functional", "config": {
        "name": "transformer", "trainable": True, "layers": layers,
        "input_layers": [["x", 0, 0], ["y", 0, 0]], "output_layers": [["probs", 0, 0]]}, "registered_name": "Functional"}
    x = rng.standard_normal((3, T, E)).astype(np.float32)
    y = rng.standard_normal((3, S, Ey)).astype(np.float32)
    a = mha_ref(x, x, x, *sa)
    r = x + a
    mu, var = r.mean(-1, keepdims=True), r.var(-1, keepdims=True)
    n = gamma * (r - mu) / np.sqrt(var + 1e-3) + beta
    c = mha_ref(n, y, y, *ca)
    probs = softmax(c.mean(axis=1) @ Wd + bd)
    parts = lambda p: {"query_dense": p[0:2], "key_dense": p[2:4], "value_dense": p[4:6], "output_dense": p[6:8]}
    weights = {"layers/mha/" + k: v for k, v in parts(sa).items()}
    weights.update({"layers/mha_2/" + k: v for k, v in parts(ca).items()})
    weights.update({"layers/res": [], "layers/ln": [gamma, beta], "layers/pool": [], "layers/probs": [Wd, bd]})
    write("k3_transformer", cfg, weights, {"x": x, "y": y}, {"probs": probs})


def lstm_state():
    """Functional: LSTM(return_sequences, return_state) gives [seq, h, c];
    a Dense on h and the average of seq are concatenated into the output
    (c is left unused, as the importer cannot build it)."""
    T, F, U = 6, 3, 4
    K, R, B = w(F, 4 * U), w(U, 4 * U), w(4 * U)
    Wh, bh = w(U, 2), w(2)
    Wd, bd = w(U + 2, 3), w(3)
    layers = [
        input_layer("seq", [T, F], True),
        layer("LSTM", "lstm", {"units": U, "activation": "tanh", "recurrent_activation": "sigmoid",
                               "use_bias": True, "return_sequences": True, "return_state": True,
                               "go_backwards": False, "stateful": False, "unroll": False,
                               "unit_forget_bias": True, "dropout": 0.0, "recurrent_dropout": 0.0, "seed": None},
              node(ktensor([None, T, F], "seq"))),
        layer("Dense", "from_h", {"units": 2, "activation": "tanh", "use_bias": True},
              [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [None, U], "dtype": "float32",
                                                                        "keras_history": ["lstm", 0, 1]}}], "kwargs": {}}]),
        layer("GlobalAveragePooling1D", "pool", {"data_format": "channels_last", "keepdims": False},
              node(ktensor([None, T, U], "lstm"))),
        layer("Concatenate", "cat", {"axis": -1}, node([ktensor([None, U], "pool"), ktensor([None, 2], "from_h")])),
        layer("Dense", "out", {"units": 3, "activation": "linear", "use_bias": True}, node(ktensor([None, U + 2], "cat"))),
    ]
    cfg = {"module": "keras.src.models.functional", "class_name": "Functional", "config": {
        "name": "lstm_state", "trainable": True, "layers": layers,
        "input_layers": [["seq", 0, 0]], "output_layers": [["out", 0, 0]]}, "registered_name": "Functional",
        "compile_config": {"loss": "mean_squared_error", "optimizer": "adam"}}
    x = rng.standard_normal((3, T, F)).astype(np.float32)
    h = np.zeros((3, U))
    c = np.zeros((3, U))
    hs = []
    for t in range(T):
        z = x[:, t] @ K + h @ R + B
        i, f, g, o = sigmoid(z[:, :U]), sigmoid(z[:, U:2 * U]), np.tanh(z[:, 2 * U:3 * U]), sigmoid(z[:, 3 * U:])
        c = f * c + i * g
        h = o * np.tanh(c)
        hs.append(h)
    seq = np.stack(hs, axis=1)
    y = np.concatenate([seq.mean(axis=1), np.tanh(h @ Wh + bh)], axis=-1) @ Wd + bd
    write("k3_lstm_state", cfg, {"layers/lstm/cell": [K, R, B], "layers/from_h": [Wh, bh], "layers/pool": [],
                                 "layers/cat": [], "layers/out": [Wd, bd]}, {"seq": x}, {"out": y})


def attention_ref(q, v, k, mode, scale=None, cw=1.0, causal=False, qmask=None, vmask=None):
    """keras.layers.Attention / AdditiveAttention: scores over the last two
    axes, -1e9 on hidden keys, softmax, weights · value, padded queries 0."""
    if mode == "dot":
        s = q @ np.swapaxes(k, -1, -2)
        if scale is not None:
            s = s * scale
    elif mode == "concat":
        s = cw * np.tanh((1.0 if scale is None else scale) * (q[..., :, None, :] + k[..., None, :, :])).sum(-1)
    else:
        s = ((1.0 if scale is None else scale) * np.tanh(q[..., :, None, :] + k[..., None, :, :])).sum(-1)
    keep = np.ones(s.shape, bool)
    if vmask is not None:
        keep &= vmask[:, None, :].astype(bool)
    if causal:
        keep &= np.tril(np.ones(s.shape[-2:], bool))
    s = s - 1e9 * (~keep)
    out = softmax(s) @ v
    if qmask is not None:
        out = out * qmask[..., None]
    return out


def attention():
    """Functional, two inputs: Attention (dot, scaled), Attention (concat,
    scaled) with a separate key, AdditiveAttention (scaled), and a causal
    AdditiveAttention without scale (use_causal_mask at call time);
    concatenated, averaged over time, softmax dense."""
    Tq, Tv, E = 4, 5, 6
    Wk, bk = w(E, E), w(E)
    s_dot, s_cat, cw = np.float32(0.7), np.float32(0.8), np.float32(1.3)
    s_add = w(E)
    Wd, bd = w(4 * E, 3), w(3)
    q3, v3 = [None, Tq, E], [None, Tv, E]
    call = lambda args, **kw: [{"args": [args], "kwargs": kw}]
    layers = [
        input_layer("q", [Tq, E], True),
        input_layer("v", [Tv, E], True),
        layer("Attention", "att_dot", {"use_scale": True, "score_mode": "dot", "dropout": 0.1, "seed": None},
              call([ktensor(q3, "q"), ktensor(v3, "v")])),
        layer("Dense", "key", {"units": E, "activation": "linear", "use_bias": True}, node(ktensor(v3, "v"))),
        layer("Attention", "att_concat", {"use_scale": True, "score_mode": "concat", "dropout": 0.0, "seed": None},
              call([ktensor(q3, "q"), ktensor(v3, "v"), ktensor(v3, "key")])),
        layer("AdditiveAttention", "att_add", {"use_scale": True, "dropout": 0.0},
              call([ktensor(q3, "q"), ktensor(v3, "v")])),
        layer("AdditiveAttention", "att_causal", {"use_scale": False, "dropout": 0.0},
              call([ktensor(q3, "q"), ktensor(q3, "q")], use_causal_mask=True)),
        layer("Concatenate", "cat", {"axis": -1}, node([ktensor(q3, "att_dot"), ktensor(q3, "att_concat"),
                                                        ktensor(q3, "att_add"), ktensor(q3, "att_causal")])),
        layer("GlobalAveragePooling1D", "pool", {"data_format": "channels_last", "keepdims": False},
              node(ktensor([None, Tq, 4 * E], "cat"))),
        layer("Dense", "probs", {"units": 3, "activation": "softmax", "use_bias": True}, node(ktensor([None, 4 * E], "pool"))),
    ]
    cfg = {"module": "keras.src.models.functional", "class_name": "Functional", "config": {
        "name": "attention", "trainable": True, "layers": layers,
        "input_layers": [["q", 0, 0], ["v", 0, 0]], "output_layers": [["probs", 0, 0]]}, "registered_name": "Functional"}
    q = rng.standard_normal((3, Tq, E)).astype(np.float32)
    v = rng.standard_normal((3, Tv, E)).astype(np.float32)
    kd = v @ Wk + bk
    a = attention_ref(q, v, v, "dot", s_dot)
    b = attention_ref(q, v, kd, "concat", s_cat, cw)
    c = attention_ref(q, v, v, "additive", s_add)
    d = attention_ref(q, q, q, "additive", None, causal=True)
    probs = softmax(np.concatenate([a, b, c, d], -1).mean(axis=1) @ Wd + bd)
    write("k3_attention", cfg, {"layers/att_dot": [s_dot], "layers/key": [Wk, bk], "layers/att_concat": [s_cat, cw],
                                "layers/att_add": [s_add], "layers/att_causal": [], "layers/cat": [], "layers/pool": [],
                                "layers/probs": [Wd, bd]}, {"q": q, "v": v}, {"probs": probs})


def padded_ids(lengths, T, vocab):
    ids = np.zeros((len(lengths), T), np.float32)
    for i, n in enumerate(lengths):
        ids[i, :n] = rng.integers(1, vocab, n)
    return ids


def masked_attention():
    """Functional: token ids (0 = padding) through Embedding(mask_zero) plus
    a position Embedding of a second input (the mask is the tokens', as
    Keras's Add merges masks), then MultiHeadAttention and Attention, each
    averaged over the real steps (GlobalAveragePooling1D honours the mask),
    and the attention output flattened (Flatten drops the mask, so padded
    query steps count: Keras makes them average every value), concatenated,
    softmax dense."""
    T, V, E = 6, 10, 8
    emb, pos = w(V, E), w(T, E)
    mha = [w(E, 2, 4), w(2, 4), w(E, 2, 4), w(2, 4), w(E, 2, 4), w(2, 4), w(2, 4, E), w(E)]
    Wd, bd = w(2 * E + 3, 3), w(3)
    Wf, bf = w(T * E, 3), w(3)
    s3 = [None, T, E]
    layers = [
        input_layer("ids", [T], True),
        input_layer("positions", [T], True),
        layer("Embedding", "tokens", {"input_dim": V, "output_dim": E, "mask_zero": True}, node(ktensor([None, T], "ids"))),
        layer("Embedding", "position", {"input_dim": T, "output_dim": E, "mask_zero": False}, node(ktensor([None, T], "positions"))),
        layer("Add", "embed", {}, node([ktensor(s3, "tokens"), ktensor(s3, "position")])),
        layer("MultiHeadAttention", "mha", {"num_heads": 2, "key_dim": 4, "value_dim": None, "dropout": 0.0,
                                            "use_bias": True, "output_shape": None, "attention_axes": None},
              node(ktensor(s3, "embed"), ktensor(s3, "embed"))),
        layer("Attention", "att", {"use_scale": False, "score_mode": "dot", "dropout": 0.0, "seed": None},
              node([ktensor(s3, "embed"), ktensor(s3, "embed")])),
        layer("GlobalAveragePooling1D", "pool_mha", {"data_format": "channels_last", "keepdims": False}, node(ktensor(s3, "mha"))),
        layer("GlobalAveragePooling1D", "pool_att", {"data_format": "channels_last", "keepdims": False}, node(ktensor(s3, "att"))),
        layer("Flatten", "flat", {"data_format": "channels_last"}, node(ktensor(s3, "mha"))),
        layer("Dense", "from_flat", {"units": 3, "activation": "tanh", "use_bias": True}, node(ktensor([None, T * E], "flat"))),
        layer("Concatenate", "cat", {"axis": -1}, node([ktensor([None, E], "pool_mha"), ktensor([None, E], "pool_att"),
                                                        ktensor([None, 3], "from_flat")])),
        layer("Dense", "probs", {"units": 3, "activation": "softmax", "use_bias": True}, node(ktensor([None, 2 * E + 3], "cat"))),
    ]
    cfg = {"module": "keras.src.models.functional", "class_name": "Functional", "config": {
        "name": "masked_attention", "trainable": True, "layers": layers,
        "input_layers": [["ids", 0, 0], ["positions", 0, 0]], "output_layers": [["probs", 0, 0]]}, "registered_name": "Functional"}
    ids = padded_ids([6, 4, 2, 5], T, V)
    positions = np.tile(np.arange(T, dtype=np.float32), (4, 1))
    m = (ids != 0).astype(np.float32)
    x = emb[ids.astype(int)] + pos[positions.astype(int)]
    # MultiHeadAttention with Keras's mask q_mask[:, :, None] & v_mask[:, None, :]
    Wq, bq, Wk, bk, Wv, bv, Wo, bo = mha
    Q = np.einsum("btc,chd->bthd", x, Wq) + bq
    K = np.einsum("btc,chd->bthd", x, Wk) + bk
    Vv = np.einsum("btc,chd->bthd", x, Wv) + bv
    sc = np.einsum("bshd,bthd->bhts", K, Q / np.sqrt(4))
    keep = (m[:, :, None] * m[:, None, :])[:, None]
    # Keras's Softmax adds (1 - mask)·(-1e9) in float32: a padded query
    # step's scores all round to -1e9, so it averages every value
    sc = (sc.astype(np.float32) + np.float32(-1e9) * (1 - keep).astype(np.float32)).astype(np.float64)
    p = softmax(sc)
    a = np.einsum("bthd,hdo->bto", np.einsum("bhts,bshd->bthd", p, Vv), Wo) + bo
    b = attention_ref(x, x, x, "dot", qmask=m, vmask=m)
    mean = lambda y: (y * m[..., None]).sum(1) / m.sum(1, keepdims=True)
    # Flatten drops the mask: the padded steps' values count
    f = np.tanh(a.reshape(len(a), -1) @ Wf + bf)
    probs = softmax(np.concatenate([mean(a), mean(b), f], -1) @ Wd + bd)
    parts = {"query_dense": mha[0:2], "key_dense": mha[2:4], "value_dense": mha[4:6], "output_dense": mha[6:8]}
    weights = {"layers/mha/" + k: v for k, v in parts.items()}
    weights.update({"layers/tokens": [emb], "layers/position": [pos], "layers/embed": [], "layers/att": [],
                    "layers/pool_mha": [], "layers/pool_att": [], "layers/cat": [], "layers/probs": [Wd, bd],
                    "layers/flat": [], "layers/from_flat": [Wf, bf]})
    write("k3_masked_attention", cfg, weights, {"ids": ids, "positions": positions}, {"probs": probs})


def masked_lstm():
    """Sequential: Embedding(mask_zero) → LSTM (padded steps keep the state)
    → Dense, on post- and pre-padded ids."""
    T, V, E, U = 7, 12, 5, 4
    emb = w(V, E)
    K, R, B = w(E, 4 * U), w(U, 4 * U), w(4 * U)
    Wd, bd = w(U, 2), w(2)
    cfg = {"module": "keras", "class_name": "Sequential", "config": {
        "name": "masked_lstm", "trainable": True, "dtype": POLICY, "layers": [
            input_layer("ids", [T], False),
            layer("Embedding", "emb", {"input_dim": V, "output_dim": E, "mask_zero": True}, build=[None, T]),
            layer("LSTM", "lstm", {"units": U, "activation": "tanh", "recurrent_activation": "sigmoid",
                                   "use_bias": True, "return_sequences": False, "return_state": False,
                                   "go_backwards": False, "stateful": False, "unroll": False,
                                   "unit_forget_bias": True, "dropout": 0.0, "recurrent_dropout": 0.0, "seed": None},
                  build=[None, T, E]),
            layer("Dense", "out", {"units": 2, "activation": "linear", "use_bias": True}, build=[None, U]),
        ]}, "registered_name": None,
        "compile_config": {"loss": "mean_squared_error", "optimizer": "rmsprop"}}
    ids = padded_ids([7, 3, 5, 1], T, V)
    ids[3] = np.roll(ids[3], 4)  # pre-padding: real steps after padded ones
    m = ids != 0
    x = emb[ids.astype(int)]
    h = np.zeros((4, U))
    c = np.zeros((4, U))
    for t in range(T):
        z = x[:, t] @ K + h @ R + B
        i, f, g, o = sigmoid(z[:, :U]), sigmoid(z[:, U:2 * U]), np.tanh(z[:, 2 * U:3 * U]), sigmoid(z[:, 3 * U:])
        c2 = f * c + i * g
        h2 = o * np.tanh(c2)
        keep = m[:, t:t + 1]
        h, c = np.where(keep, h2, h), np.where(keep, c2, c)
    y = h @ Wd + bd
    write("k3_masked_lstm", cfg, {"layers/emb": [emb], "layers/lstm/cell": [K, R, B], "layers/out": [Wd, bd]},
          {"ids": ids}, {"out": y})


def layer_norm_ref(x, axes, gamma, beta, eps):
    """keras.layers.LayerNormalization: moments over axes (of the batched
    tensor), gamma and beta of shape [x.shape[a] for a in axes] broadcast."""
    mu, var = x.mean(axis=tuple(axes), keepdims=True), x.var(axis=tuple(axes), keepdims=True)
    shape = [1] * x.ndim
    for a in axes:
        shape[a] = x.shape[a]
    return (x - mu) / np.sqrt(var + eps) * gamma.reshape(shape) + beta.reshape(shape)


def layernorm():
    """Sequential on [time, features] sequences: LayerNormalization over the
    features (axis -1), over time (axis 1: gamma has one value per step) and
    over both (axis [1, 2]), then Flatten and a dense layer."""
    T, F = 4, 5
    g1, b1, g2, b2, g3, b3 = w(F) + 1, w(F), w(T) + 1, w(T), w(T, F) + 1, w(T, F)
    Wd, bd = w(T * F, 2), w(2)
    cfg = {"module": "keras", "class_name": "Sequential", "config": {
        "name": "layernorm", "trainable": True, "dtype": POLICY, "layers": [
            input_layer("x", [T, F], False),
            layer("LayerNormalization", "ln_features", {"axis": [-1], "epsilon": 1e-3, "center": True, "scale": True}, build=[None, T, F]),
            layer("LayerNormalization", "ln_time", {"axis": [1], "epsilon": 1e-2, "center": True, "scale": True}, build=[None, T, F]),
            layer("LayerNormalization", "ln_both", {"axis": [1, 2], "epsilon": 1e-3, "center": True, "scale": True}, build=[None, T, F]),
            layer("Flatten", "flat", {"data_format": "channels_last"}),
            layer("Dense", "out", {"units": 2, "activation": "linear", "use_bias": True}, build=[None, T * F]),
        ]}, "registered_name": None}
    x = (rng.standard_normal((3, T, F)) * 2 + 1).astype(np.float32)
    y = layer_norm_ref(x, [2], g1, b1, 1e-3)
    y = layer_norm_ref(y, [1], g2, b2, 1e-2)
    y = layer_norm_ref(y, [1, 2], g3, b3, 1e-3)
    out = y.reshape(3, -1) @ Wd + bd
    write("k3_layernorm", cfg, {"layers/ln_features": [g1, b1], "layers/ln_time": [g2, b2], "layers/ln_both": [g3, b3],
                                "layers/flat": [], "layers/out": [Wd, bd]}, {"x": x}, {"out": out})


def hub_layer(cls, module, name, cfg, inbound):
    c = {"name": name, "trainable": True, "dtype": POLICY}
    c.update(cfg)
    return {"module": module, "class_name": cls, "config": c, "registered_name": "keras_hub>" + cls,
            "name": name, "inbound_nodes": inbound}


def positions():
    """Functional, keras_hub position embeddings: TokenAndPositionEmbedding
    (mask_zero: GlobalAveragePooling1D averages the real steps), and an
    Embedding plus a PositionEmbedding longer than the input (its first
    rows) added; both pooled, concatenated, softmax dense."""
    T, V, E, L = 5, 9, 4, 8
    tok, pos = w(V, E), w(T, E)
    emb, pos2 = w(V, E), w(L, E)
    Wd, bd = w(2 * E, 3), w(3)
    s3 = [None, T, E]
    layers = [
        input_layer("ids", [T], True),
        hub_layer("TokenAndPositionEmbedding", "keras_hub.src.layers.modeling.token_and_position_embedding", "tpe",
                  {"vocabulary_size": V, "sequence_length": T, "embedding_dim": E, "tie_weights": True,
                   "embeddings_initializer": "uniform", "mask_zero": True}, node(ktensor([None, T], "ids"))),
        layer("Embedding", "emb", {"input_dim": V, "output_dim": E, "mask_zero": False}, node(ktensor([None, T], "ids"))),
        hub_layer("PositionEmbedding", "keras_hub.src.layers.modeling.position_embedding", "pe",
                  {"sequence_length": L, "initializer": "glorot_uniform"}, node(ktensor(s3, "emb"))),
        layer("Add", "add", {}, node([ktensor(s3, "emb"), ktensor(s3, "pe")])),
        layer("GlobalAveragePooling1D", "pool_tpe", {"data_format": "channels_last", "keepdims": False}, node(ktensor(s3, "tpe"))),
        layer("GlobalAveragePooling1D", "pool_add", {"data_format": "channels_last", "keepdims": False}, node(ktensor(s3, "add"))),
        layer("Concatenate", "cat", {"axis": -1}, node([ktensor([None, E], "pool_tpe"), ktensor([None, E], "pool_add")])),
        layer("Dense", "probs", {"units": 3, "activation": "softmax", "use_bias": True}, node(ktensor([None, 2 * E], "cat"))),
    ]
    cfg = {"module": "keras.src.models.functional", "class_name": "Functional", "config": {
        "name": "positions", "trainable": True, "layers": layers,
        "input_layers": [["ids", 0, 0]], "output_layers": [["probs", 0, 0]]}, "registered_name": "Functional"}
    ids = padded_ids([5, 3, 1], T, V)
    m = (ids != 0).astype(np.float32)
    i = ids.astype(int)
    a = tok[i] + pos[None]
    b = emb[i] + pos2[None, :T]
    mean_a = (a * m[..., None]).sum(1) / m.sum(1, keepdims=True)
    probs = softmax(np.concatenate([mean_a, b.mean(1)], -1) @ Wd + bd)
    write("k3_positions", cfg, {"layers/tpe/token_embedding": [tok], "layers/tpe/position_embedding": [pos],
                                "layers/emb": [emb], "layers/pe": [pos2], "layers/add": [], "layers/pool_tpe": [],
                                "layers/pool_add": [], "layers/cat": [], "layers/probs": [Wd, bd]},
          {"ids": ids}, {"probs": probs})


if __name__ == "__main__":
    mlp()
    cnn()
    lstm()
    transformer()
    lstm_state()
    attention()
    masked_attention()
    masked_lstm()
    layernorm()
    positions()
    print("wrote", sorted(os.listdir(OUT)))
