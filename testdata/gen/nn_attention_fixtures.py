#!/usr/bin/env python3
"""Writes testdata/nn/attention.json: forward fixtures for the engine's
MultiHeadAttention computed with torch.nn.MultiheadAttention in float64
(self-attention, cross-attention with a separate key, key padding mask,
causal mask, kdim/vdim different from the embedding, no bias).

Parameters are stored in the engine's layout: Wq/Wk/Wv [in, heads*dim],
Wo [heads*dim, out], biases flat. A mask is (batch, key steps), 1 = keep.
Run from the repository root: /usr/bin/python3 testdata/gen/nn_attention_fixtures.py
"""
import json
import os

import torch

torch.manual_seed(7)
DT = torch.float64
OUT = os.path.join(os.path.dirname(__file__), "..", "nn", "attention.json")


def rnd(*shape):
    t = torch.rand(*shape, dtype=DT) * 2 - 1
    return torch.round(t * 4096) / 4096


def enc(t):
    return {"shape": list(t.shape), "data": [float(f"{v:.8g}") for v in t.reshape(-1).tolist()]}


cases = []


def case(name, e, heads, tq, tv, batch=2, kdim=None, vdim=None, bias=True, mask=None, causal=False, cross=False):
    m = torch.nn.MultiheadAttention(e, heads, bias=bias, batch_first=True, kdim=kdim, vdim=vdim).to(DT)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(rnd(*p.shape) * 0.5)
    q = rnd(batch, tq, e)
    if cross or kdim or vdim:
        k = rnd(batch, tv, kdim or e)
        v = rnd(batch, tv, vdim or e)
    else:
        k = v = q
    kpm = None
    if mask is not None:
        kpm = torch.tensor(mask, dtype=torch.bool).logical_not()  # torch: True = ignore
    am = None
    if causal:
        am = torch.triu(torch.ones(tq, tv, dtype=torch.bool), diagonal=1)
    with torch.no_grad():
        y, _ = m(q, k, v, key_padding_mask=kpm, attn_mask=am, need_weights=False)
    hd = e // heads
    if m._qkv_same_embed_dim:
        wq, wk, wv = m.in_proj_weight.chunk(3)
    else:
        wq, wk, wv = m.q_proj_weight, m.k_proj_weight, m.v_proj_weight
    params = {"Wq": wq.t(), "Wk": wk.t(), "Wv": wv.t(), "Wo": m.out_proj.weight.t()}
    if bias:
        bq, bk, bv = m.in_proj_bias.chunk(3)
        params.update({"bq": bq, "bk": bk, "bv": bv, "bo": m.out_proj.bias})
    c = {"name": name, "heads": heads, "key_dim": hd, "causal": causal, "no_bias": not bias,
         "query": enc(q), "output": enc(y), "params": {n: enc(t.contiguous()) for n, t in params.items()}}
    if k is not q:
        c["value"] = enc(v)
        c["key"] = enc(k)
    if mask is not None:
        c["mask"] = enc(torch.tensor(mask, dtype=DT))
    cases.append(c)


case("self", 8, 2, 5, 5)
case("self_4heads_batch3", 12, 4, 3, 3, batch=3)
case("cross_kv_dims", 8, 2, 4, 6, kdim=5, vdim=3)
case("key_padding", 8, 2, 5, 5, mask=[[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
case("causal", 6, 3, 4, 4, causal=True)
case("causal_padding_nobias", 8, 4, 4, 4, bias=False, causal=True, mask=[[1, 1, 1, 0], [1, 1, 1, 1]])

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump({"generator": "testdata/gen/nn_attention_fixtures.py", "torch": torch.__version__, "cases": cases}, f)
print("wrote", OUT, len(cases), "cases")
