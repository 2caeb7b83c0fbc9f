#!/usr/bin/env python3
"""Forward fixtures for the recurrent and sequence ops of package nn.

Expected outputs come from a float64 numpy implementation of the Keras
equations (SimpleRNN, LSTM with i,f,c,o gates and the Graves peephole
variant, GRU with z,r,h gates in both reset modes, go_backwards, sequence
masks, Bidirectional merges). Where PyTorch has the same layer (LSTM, GRU
reset-after, SimpleRNN tanh, bidirectional concat, Embedding) the script
first checks the numpy reference against torch with converted weights
(torch GRU gates are r,z,n), and the torch output is what is stored.

Usage: python3 testdata/gen/nn_rnn_fixtures.py   (from the module root)
Writes testdata/nn/rnn_recurrent.json and testdata/nn/rnn_sequence.json.
"""
import json
import os

import numpy as np

try:
    import torch
except ImportError:  # the numpy reference alone still writes fixtures
    torch = None

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "nn")
rng = np.random.default_rng(20240611)


def f32(a):
    """Random data rounded to float32 so the Go float32 path sees the same values."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def rand(*shape, scale=0.6):
    return f32(rng.uniform(-scale, scale, size=shape))


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


ACTS = {
    "tanh": np.tanh,
    "sigmoid": sigmoid,
    "hard_sigmoid": lambda x: np.clip(0.2 * x + 0.5, 0, 1),
    "relu": lambda x: np.maximum(x, 0),
    "softsign": lambda x: x / (1 + np.abs(x)),
}


# ---- numpy reference: Keras equations ----

def cell_step(kind, cfg, p, x, h, c):
    """One step for a batch; returns (h, c)."""
    act = ACTS[cfg.get("activation", {"kind": "tanh"})["kind"]]
    rec = ACTS[cfg.get("recurrent_activation", {"kind": "sigmoid"})["kind"]]
    U = cfg["units"]
    W, R = p["W"], p["R"]
    b = p.get("b")
    if kind == "SimpleRNN":
        z = x @ W + h @ R + (b if b is not None else 0)
        return act(z), None
    if kind == "LSTM":
        z = x @ W + h @ R + (b if b is not None else 0)
        zi, zf, zc, zo = (z[:, k * U:(k + 1) * U] for k in range(4))
        if cfg.get("peephole"):
            P = p["P"]
            zi = zi + P[:U] * c
            zf = zf + P[U:2 * U] * c
        i, f, g = rec(zi), rec(zf), act(zc)
        c2 = f * c + i * g
        if cfg.get("peephole"):
            zo = zo + p["P"][2 * U:] * c2
        o = rec(zo)
        return o * act(c2), c2
    if kind == "GRU":
        xw = x @ W
        if cfg.get("reset_after"):
            bi = b[0] if b is not None else 0
            br = b[1] if b is not None else 0
            xw = xw + bi
            hr = h @ R + br
            z = rec(xw[:, :U] + hr[:, :U])
            r = rec(xw[:, U:2 * U] + hr[:, U:2 * U])
            hh = act(xw[:, 2 * U:] + r * hr[:, 2 * U:])
        else:
            xw = xw + (b if b is not None else 0)
            z = rec(xw[:, :U] + h @ R[:, :U])
            r = rec(xw[:, U:2 * U] + h @ R[:, U:2 * U])
            hh = act(xw[:, 2 * U:] + (r * h) @ R[:, 2 * U:])
        return z * h + (1 - z) * hh, None
    raise ValueError(kind)


def run_rnn(kind, cfg, p, x, mask, flip=False):
    N, T, _ = x.shape
    U = cfg["units"]
    back = bool(cfg.get("go_backwards")) != flip
    h = np.zeros((N, U))
    c = np.zeros((N, U))
    outs = np.zeros((N, T, U))
    for s in range(T):
        t = T - 1 - s if back else s
        h2, c2 = cell_step(kind, cfg, p, x[:, t], h, c)
        keep = np.ones((N, 1)) if mask is None else mask[:, t:t + 1]
        h = keep * h2 + (1 - keep) * h
        if c2 is not None:
            c = keep * c2 + (1 - keep) * c
        outs[:, s] = keep * h
    return outs if cfg.get("return_sequences") else h


def run_bidi(kind, cfg, merge, p, x, mask):
    pf = {k[3:]: v for k, v in p.items() if k.startswith("fw/")}
    pb = {k[3:]: v for k, v in p.items() if k.startswith("bw/")}
    yf = run_rnn(kind, cfg, pf, x, mask)
    yb = run_rnn(kind, cfg, pb, x, mask, flip=True)
    if cfg.get("return_sequences"):
        yb = yb[:, ::-1]
    return {"concat": lambda: np.concatenate([yf, yb], -1), "sum": lambda: yf + yb,
            "mul": lambda: yf * yb, "ave": lambda: (yf + yb) / 2}[merge]()


def make_params(kind, cfg, F):
    U = cfg["units"]
    G = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}[kind]
    p = {"W": rand(F, G * U), "R": rand(U, G * U)}
    if not cfg.get("no_bias"):
        p["b"] = rand(2, G * U) if kind == "GRU" and cfg.get("reset_after") else rand(G * U)
    if kind == "LSTM" and cfg.get("peephole"):
        p["P"] = rand(3 * U)
    return p


# ---- torch cross-checks ----

def torch_rnn(kind, cfg, p, x, bidi_params=None):
    """The same layer through torch.nn, or None when torch has no equivalent."""
    if torch is None or cfg.get("peephole") or cfg.get("no_bias"):
        return None
    if cfg.get("go_backwards"):
        if bidi_params is not None:
            return None
        # Keras go_backwards is the layer run on the time-reversed input.
        return torch_rnn(kind, {**cfg, "go_backwards": False}, p, x[:, ::-1].copy())
    act = cfg.get("activation", {"kind": "tanh"})["kind"]
    rec = cfg.get("recurrent_activation", {"kind": "sigmoid"})["kind"]
    if act != "tanh" or (kind != "SimpleRNN" and rec != "sigmoid"):
        return None
    if kind == "GRU" and not cfg.get("reset_after"):
        return None
    U = cfg["units"]
    F = x.shape[2]
    bidi = bidi_params is not None
    mod = {"SimpleRNN": torch.nn.RNN, "LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}[kind](
        F, U, batch_first=True, bidirectional=bidi).double()
    dirs = [("", p)] if not bidi else [("", bidi_params[0]), ("_reverse", bidi_params[1])]
    with torch.no_grad():
        for sfx, q in dirs:
            W, R, b = q["W"], q["R"], q["b"]
            if kind == "GRU":  # Keras z,r,h -> torch r,z,n
                perm = lambda m: np.concatenate([m[..., U:2 * U], m[..., :U], m[..., 2 * U:]], -1)
                W, R, b = perm(W), perm(R), perm(b)
                bi, bh = b[0], b[1]
            else:
                bi, bh = b, np.zeros_like(b)
            getattr(mod, "weight_ih_l0" + sfx).copy_(torch.from_numpy(W.T.copy()))
            getattr(mod, "weight_hh_l0" + sfx).copy_(torch.from_numpy(R.T.copy()))
            getattr(mod, "bias_ih_l0" + sfx).copy_(torch.from_numpy(bi.copy()))
            getattr(mod, "bias_hh_l0" + sfx).copy_(torch.from_numpy(bh.copy()))
        y, hn = mod(torch.from_numpy(x))
        if kind == "LSTM":
            hn = hn[0]
    if cfg.get("return_sequences"):
        return y.numpy()
    if bidi:
        return np.concatenate([hn[0].numpy(), hn[1].numpy()], -1)
    return hn[0].numpy()


# ---- cases ----

N, T, F = 3, 5, 3
MASK = np.array([[1, 1, 1, 0, 0], [0, 0, 1, 1, 1], [1, 1, 1, 1, 1]], dtype=np.float64)

TANH, SIG, HSIG = {"kind": "tanh"}, {"kind": "sigmoid"}, {"kind": "hard_sigmoid"}


def rnn_cases():
    cases = []
    seq = lambda **kw: {"units": 3, "activation": TANH, "return_sequences": True, **kw}
    last = lambda **kw: {"units": 3, "activation": TANH, **kw}
    specs = [
        ("SimpleRNN", "simple_seq", seq()),
        ("SimpleRNN", "simple_last_relu", last(activation={"kind": "relu"})),
        ("SimpleRNN", "simple_back", seq(go_backwards=True)),
        ("LSTM", "lstm_seq", seq(recurrent_activation=SIG)),
        ("LSTM", "lstm_last", last(recurrent_activation=SIG)),
        ("LSTM", "lstm_back_seq", seq(recurrent_activation=SIG, go_backwards=True)),
        ("LSTM", "lstm_peephole", seq(recurrent_activation=SIG, peephole=True)),
        ("LSTM", "lstm_hardsig_nobias", last(recurrent_activation=HSIG, no_bias=True)),
        ("GRU", "gru_after_seq", seq(recurrent_activation=SIG, reset_after=True)),
        ("GRU", "gru_after_last", last(recurrent_activation=SIG, reset_after=True)),
        ("GRU", "gru_before_seq", seq(recurrent_activation=SIG, reset_after=False)),
        ("GRU", "gru_before_back_last", last(recurrent_activation=HSIG, reset_after=False, go_backwards=True)),
        ("GRU", "gru_after_nobias", seq(recurrent_activation=SIG, reset_after=True, no_bias=True)),
    ]
    checked = 0
    for kind, name, cfg in specs:
        for masked in (False, True):
            if masked and name not in ("simple_back", "lstm_seq", "lstm_last", "lstm_peephole",
                                       "gru_after_seq", "gru_before_back_last"):
                continue
            x = rand(N, T, F, scale=1.0)
            p = make_params(kind, cfg, F)
            mask = MASK if masked else None
            y = run_rnn(kind, cfg, p, x, mask)
            source = "numpy"
            if not masked:
                yt = torch_rnn(kind, cfg, p, x)
                if yt is not None:
                    assert np.allclose(y, yt, atol=1e-12), (name, np.abs(y - yt).max())
                    y, source = yt, "torch"
                    checked += 1
            cases.append(case(name + ("_masked" if masked else ""), kind, cfg, p, x, mask, y, source))
    for merge in ("concat", "sum", "mul", "ave"):
        for kind, cfg in (("LSTM", seq(recurrent_activation=SIG)), ("GRU", last(recurrent_activation=SIG, reset_after=True))):
            for masked in (False, True):
                if masked and merge in ("sum", "mul"):
                    continue
                x = rand(N, T, F, scale=1.0)
                pf, pb = make_params(kind, cfg, F), make_params(kind, cfg, F)
                p = {**{"fw/" + k: v for k, v in pf.items()}, **{"bw/" + k: v for k, v in pb.items()}}
                mask = MASK if masked else None
                y = run_bidi(kind, cfg, merge, p, x, mask)
                source = "numpy"
                if merge == "concat" and not masked:
                    yt = torch_rnn(kind, cfg, pf, x, bidi_params=(pf, pb))
                    if yt is not None:
                        assert np.allclose(y, yt, atol=1e-12), ("bidi", kind, np.abs(y - yt).max())
                        y, source = yt, "torch"
                        checked += 1
                name = "bidi_%s_%s%s" % (merge, kind.lower(), "_masked" if masked else "")
                layer = {"kind": "Bidirectional", "config": {"layer": {"kind": kind, "config": cfg}, "merge": merge}}
                cases.append(case(name, None, None, p, x, mask, y, source, layer=layer))
    print("recurrent cases: %d, checked against torch: %d" % (len(cases), checked))
    return cases


def sequence_cases():
    cases = []
    # Embedding: torch.nn.Embedding lookup.
    table = rand(6, 4)
    idx = np.array([[0, 5, 2, 2], [3, 1, 0, 4]], dtype=np.float64)
    y = table[idx.astype(int)]
    if torch is not None:
        emb = torch.nn.Embedding(6, 4).double()
        with torch.no_grad():
            emb.weight.copy_(torch.from_numpy(table))
            yt = emb(torch.from_numpy(idx.astype(np.int64))).numpy()
        assert np.array_equal(y, yt)
        y = yt
    cases.append(case("embedding", None, None, {"W": table}, idx, None, y, "torch" if torch else "numpy",
                      layer={"kind": "Embedding", "config": {"input_dim": 6, "output_dim": 4}}))
    # Masking then LastTimeStep: steps equal to the mask value are padding.
    x = rand(N, T, F, scale=1.0)
    x[0, 3:] = -1
    x[1, :2] = -1
    x[2, 4] = -1
    x[2, 2, 0] = -1  # one feature equal to the value does not mask a step
    mask = (~np.all(x == -1, axis=-1)).astype(np.float64)
    cases.append(case("masking", None, None, {}, x, None, x * mask[:, :, None], "numpy",
                      layer={"kind": "Masking", "config": {"value": -1}}, out_mask=mask))
    last = np.stack([x[n, max(t for t in range(T) if mask[n, t])] for n in range(N)])
    cases.append(case("last_time_step_masked", None, None, {}, x, mask, last, "numpy",
                      layer={"kind": "LastTimeStep", "config": {}}))
    cases.append(case("last_time_step", None, None, {}, x, None, x[:, -1], "numpy",
                      layer={"kind": "LastTimeStep", "config": {}}))
    v = rand(2, 3)
    cases.append(case("repeat_vector", None, None, {}, v, None, np.repeat(v[:, None], 4, axis=1), "numpy",
                      layer={"kind": "RepeatVector", "config": {"n": 4}}))
    return cases


def enc(a):
    a = np.asarray(a, dtype=np.float64)
    return {"shape": list(a.shape), "data": [float("%.10g" % v) for v in a.ravel()]}


def case(name, kind, cfg, p, x, mask, y, source, layer=None, out_mask=None):
    c = {"name": name, "source": source,
         "layer": layer if layer is not None else {"kind": kind, "config": cfg},
         "params": {k: enc(v) for k, v in sorted(p.items())},
         "x": enc(x), "y": enc(y)}
    if mask is not None:
        c["mask"] = enc(mask)
    if out_mask is not None:
        c["out_mask"] = enc(out_mask)
    return c


def main():
    os.makedirs(OUT, exist_ok=True)
    for fname, cases in (("rnn_recurrent.json", rnn_cases()), ("rnn_sequence.json", sequence_cases())):
        with open(os.path.join(OUT, fname), "w") as f:
            json.dump({"generator": "testdata/gen/nn_rnn_fixtures.py", "cases": cases}, f, separators=(",", ":"))
            f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
