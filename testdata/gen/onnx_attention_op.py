#!/usr/bin/env python3
"""Write fixtures for ONNX's own Attention operator (opset 23) in
testdata/onnx/, in the format of onnx_fixtures.py (NAME.onnx + NAME.json).
No exporter here writes the op yet, so the graphs are built with
onnx.helper the way exporters lay them out (projections as MatMul with
initializers around one Attention node); the expected outputs come from a
numpy implementation of the operator's specification (and the Go test also
runs each file in ONNX Runtime):

  attention_op23_mha        3-D Q/K/V, 4 heads, default scale
  attention_op23_gqa_mask   3-D, 4 query heads sharing 2 key/value heads,
                            boolean mask input (False = padding key)
  attention_op23_causal4d   4-D Q/K/V (Reshape/Transpose in the graph),
                            is_causal, explicit scale, softcap

Usage (repository root): /usr/bin/python3 testdata/gen/onnx_attention_op.py [OUTDIR]
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_fixtures import OUT, write_json  # noqa: E402

OPSET = 23
rng = np.random.default_rng(23)


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def attention(q, k, v, qh, kvh, mask=None, causal=False, scale=None, softcap=0.0):
    """The specification's computation on 4-D [B, heads, S, d] tensors."""
    d = q.shape[-1]
    if scale is None:
        scale = 1 / np.sqrt(d)
    g = qh // kvh
    k = np.repeat(k, g, axis=1)
    v = np.repeat(v, g, axis=1)
    s = q @ k.transpose(0, 1, 3, 2) * scale
    if softcap > 0:
        s = softcap * np.tanh(s / softcap)
    if causal:
        qs, ks = s.shape[-2:]
        s = s + np.where(np.tril(np.ones((qs, ks), bool)), 0, -np.inf)
    if mask is not None:
        s = s + (np.where(mask, 0, -np.inf) if mask.dtype == bool else mask)
    return softmax(s) @ v


def to4d(x, heads):
    b, s, hid = x.shape
    return x.reshape(b, s, heads, hid // heads).transpose(0, 2, 1, 3)


def from4d(y):
    b, h, s, d = y.shape
    return y.transpose(0, 2, 1, 3).reshape(b, s, h * d)


def init(name, a):
    return numpy_helper.from_array(a.astype(np.float32), name)


def save(name, nodes, inputs, outputs, inits, feeds, expected, out_dir):
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="retarget-testdata")
    model.ir_version = 10
    onnx.save(model, os.path.join(out_dir, name + ".onnx"))
    write_json(name, feeds, expected, OPSET, out_dir, atol=1e-5)


def projections(hidden, widths):
    ws = {n: rng.normal(0, 0.3, (hidden, w)).astype(np.float32) for n, w in widths.items()}
    nodes = [helper.make_node("MatMul", ["x", "W" + n], [n], name="proj_" + n) for n in widths]
    return ws, nodes


def mha(out_dir):
    B, S, H, heads = 2, 6, 16, 4
    x = rng.normal(size=(B, S, H)).astype(np.float32)
    ws, nodes = projections(H, {"q": H, "k": H, "v": H})
    wo = rng.normal(0, 0.3, (H, H)).astype(np.float32)
    nodes += [helper.make_node("Attention", ["q", "k", "v"], ["ctx"], name="attn", q_num_heads=heads, kv_num_heads=heads),
              helper.make_node("MatMul", ["ctx", "Wo"], ["y"], name="out_proj")]
    q, k, v = (to4d(x @ ws[n], heads) for n in "qkv")
    y = from4d(attention(q, k, v, heads, heads)) @ wo
    save("attention_op23_mha", nodes,
         [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", S, H])],
         [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", S, H])],
         [init("W" + n, w) for n, w in ws.items()] + [init("Wo", wo)],
         [("x", x)], [("y", y)], out_dir)


def gqa_mask(out_dir):
    B, S, H, qh, kvh, d = 3, 5, 12, 4, 2, 3
    x = rng.normal(size=(B, S, H)).astype(np.float32)
    ws, nodes = projections(H, {"q": qh * d, "k": kvh * d, "v": kvh * d})
    # ONNX Runtime wants the query axis spelled out (it does not broadcast it)
    mask = np.ones((B, 1, S, S), bool)
    mask[0, ..., 3:] = False  # example 0 has two padding steps, example 2 one
    mask[2, ..., 4:] = False
    nodes += [helper.make_node("Attention", ["q", "k", "v", "mask"], ["y"], name="attn", q_num_heads=qh, kv_num_heads=kvh)]
    q, k, v = to4d(x @ ws["q"], qh), to4d(x @ ws["k"], kvh), to4d(x @ ws["v"], kvh)
    y = from4d(attention(q, k, v, qh, kvh, mask=mask))
    save("attention_op23_gqa_mask", nodes,
         [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", S, H]),
          helper.make_tensor_value_info("mask", TensorProto.BOOL, ["N", 1, S, S])],
         [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", S, qh * d])],
         [init("W" + n, w) for n, w in ws.items()],
         [("x", x), ("mask", mask.astype(np.float32))], [("y", y)], out_dir)


def causal4d(out_dir):
    B, S, H, heads = 2, 7, 8, 2
    d = H // heads
    x = rng.normal(size=(B, S, H)).astype(np.float32)
    ws, nodes = projections(H, {"q": H, "k": H, "v": H})
    shape = np.array([0, 0, heads, d], np.int64)
    for n in "qkv":
        nodes += [helper.make_node("Reshape", [n, "heads_shape"], [n + "_r"], name=n + "_split"),
                  helper.make_node("Transpose", [n + "_r"], [n + "4"], name=n + "_heads", perm=[0, 2, 1, 3])]
    nodes += [helper.make_node("Attention", ["q4", "k4", "v4"], ["ctx4"], name="attn", is_causal=1, scale=0.4, softcap=2.5),
              helper.make_node("Transpose", ["ctx4"], ["ctx_t"], name="merge_t", perm=[0, 2, 1, 3]),
              helper.make_node("Reshape", ["ctx_t", "merged_shape"], ["y"], name="merge")]
    q, k, v = (to4d(x @ ws[n], heads) for n in "qkv")
    y = from4d(attention(q, k, v, heads, heads, causal=True, scale=0.4, softcap=2.5))
    save("attention_op23_causal4d", nodes,
         [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", S, H])],
         [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", S, H])],
         [init("W" + n, w) for n, w in ws.items()] +
         [numpy_helper.from_array(shape, "heads_shape"), numpy_helper.from_array(np.array([0, 0, H], np.int64), "merged_shape")],
         [("x", x)], [("y", y)], out_dir)


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else OUT
    for f in (mha, gqa_mask, causal4d):
        f(out)
