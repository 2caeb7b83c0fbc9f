#!/usr/bin/env python3
"""Write testdata/onnx/onnxpb_fixture.onnx for internal/onnxpb tests.

The model is built with the reference `onnx` Python package and touches as
many ONNX protobuf fields as the installed onnx version knows, with distinctive
values, so that the Go test (internal/onnxpb/onnxpb_test.go) catches a wrong
field number or type in internal/onnxpb/onnx.proto. If you change a value
here, change the matching check in the Go test.

Usage (from the repository root): python3 testdata/gen/onnxpb_fixture.py
Written with onnx 1.12 (Debian python3-onnx); output is deterministic.

Tensor EXT points at an external file, onnxpb_fixture.bin, that is not
shipped: read the fixture with onnx.load(path, load_external_data=False).
(onnx.checker.check_model(path) passes once a 4160-byte file of that name
sits next to the model.)
"""

import os
import struct
import sys

import onnx
from onnx import TensorProto, TypeProto, helper

DOMAIN = "com.retarget.test"


def f32(*vals):
    return struct.pack("<%df" % len(vals), *vals)


def entry(key, value):
    e = onnx.StringStringEntryProto()
    e.key = key
    e.value = value
    return e


def subgraph(name, doc):
    """A one-node Identity graph, used for GRAPH/GRAPHS attributes."""
    node = helper.make_node("Identity", ["sx"], ["sy"], name=name + "_id")
    return helper.make_graph(
        [node],
        name,
        [helper.make_tensor_value_info("sx", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("sy", TensorProto.FLOAT, [1])],
        doc_string=doc,
    )


def build():
    # --- initializers, one per typed data field -------------------------
    w = helper.make_tensor(
        "W", TensorProto.FLOAT, [2, 3, 1, 1],
        f32(1.0, 2.0, 3.0, 4.0, 5.0, 6.0), raw=True)
    w.doc_string = "conv weight"
    b = helper.make_tensor("B", TensorProto.FLOAT, [2], [0.5, -0.5])
    i64 = helper.make_tensor("I64", TensorProto.INT64, [3], [-1, 0, 1 << 40])
    dbl = helper.make_tensor("D", TensorProto.DOUBLE, [2], [3.25, -1e300])
    u64 = helper.make_tensor("U", TensorProto.UINT64, [2], [7, (1 << 64) - 1])
    strs = helper.make_tensor("S", TensorProto.STRING, [2], [b"hello", b"w\xc3\xb6rld"])
    # FLOAT16 goes into int32_data as raw bit patterns (0x3c00 == 1.0).
    h = TensorProto()
    h.name = "H"
    h.data_type = TensorProto.FLOAT16
    h.dims.extend([2])
    h.int32_data.extend([0x3C00, 0xC000])
    bf = helper.make_tensor(
        "BF", TensorProto.BFLOAT16, [2], b"\x80\x3f\x00\x40", raw=True)
    # Elements 2..3 of a 4-element tensor stored in chunks.
    seg = TensorProto()
    seg.name = "SEG"
    seg.data_type = TensorProto.INT32
    seg.dims.extend([4])
    seg.int32_data.extend([10, 20])
    seg.segment.begin = 2
    seg.segment.end = 4

    sp_values = helper.make_tensor("SP", TensorProto.FLOAT, [2], [9.0, 8.0])
    sp_indices = helper.make_tensor("SP_idx", TensorProto.INT64, [2], [1, 5])
    sparse_init = helper.make_sparse_tensor(sp_values, sp_indices, [2, 3])

    # Tensor whose bytes live in an external file (not shipped; only the
    # protobuf fields matter here).
    ext = TensorProto()
    ext.name = "EXT"
    ext.data_type = TensorProto.FLOAT
    ext.dims.extend([4, 4])
    ext.data_location = TensorProto.EXTERNAL
    ext.external_data.extend([
        entry("location", "onnxpb_fixture.bin"),
        entry("offset", "4096"),
        entry("length", "64"),
    ])

    # --- graph inputs/outputs and value_info ----------------------------
    x = helper.make_tensor_value_info(
        "X", TensorProto.FLOAT, ["N", 3, 4, 4], doc_string="input image")
    x.type.denotation = "TENSOR"
    x.type.tensor_type.shape.dim[0].denotation = "DATA_BATCH"
    x.type.tensor_type.shape.dim[1].denotation = "DATA_CHANNEL"
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 2, 4, 4])
    z = helper.make_tensor_value_info("Z", TensorProto.FLOAT, ["Q"])
    f_out = helper.make_tensor_value_info("F", TensorProto.FLOAT, ["N", 2, 4, 4])
    vi_seq = helper.make_tensor_sequence_value_info("seq_v", TensorProto.INT64, [5])
    map_tp = TypeProto()
    map_tp.map_type.key_type = TensorProto.STRING
    map_tp.map_type.value_type.CopyFrom(
        helper.make_tensor_type_proto(TensorProto.DOUBLE, []))
    vi_map = helper.make_value_info("map_v", map_tp, doc_string="a map")
    vi_opt = helper.make_value_info(
        "opt_v",
        helper.make_optional_type_proto(
            helper.make_tensor_type_proto(TensorProto.INT32, [7])))
    vi_sparse = helper.make_sparse_tensor_value_info(
        "sparse_v", TensorProto.FLOAT, [2, "K"])
    unk = helper.make_tensor_value_info("C", TensorProto.FLOAT, None)
    unk.type.tensor_type.shape.dim.add()  # a dimension with neither field set

    # --- an attribute of every AttributeType ----------------------------
    attr_tensor = helper.make_tensor("attr_t", TensorProto.INT32, [2], [3, 4])
    tp_seq = helper.make_sequence_type_proto(
        helper.make_tensor_type_proto(TensorProto.UINT8, [2]))
    tp_f8 = TypeProto()
    tp_f8.tensor_type.elem_type = 17  # FLOAT8E4M3FN, newer than this onnx
    tp_opaque = TypeProto()
    tp_opaque.opaque_type.domain = DOMAIN
    tp_opaque.opaque_type.name = "Blob"
    attrs = [
        helper.make_attribute("a_float", 1.5, doc_string="a float attribute"),
        helper.make_attribute("a_int", -7),
        helper.make_attribute("a_string", "text"),
        helper.make_attribute("a_tensor", attr_tensor),
        helper.make_attribute("a_graph", subgraph("g_one", "subgraph doc")),
        helper.make_attribute(
            "a_sparse", helper.make_sparse_tensor(
                helper.make_tensor("sv", TensorProto.FLOAT, [1], [2.5]),
                helper.make_tensor("si", TensorProto.INT64, [1], [3]),
                [4])),
        helper.make_attribute(
            "a_tp", helper.make_tensor_type_proto(TensorProto.FLOAT, [2, "M"])),
        helper.make_attribute("a_floats", [0.25, 0.5]),
        helper.make_attribute("a_ints", [1, -2, 3]),
        helper.make_attribute("a_strings", [b"x", b"yz"]),
        helper.make_attribute("a_tensors", [attr_tensor, ext]),
        helper.make_attribute(
            "a_graphs", [subgraph("g_a", "a"), subgraph("g_b", "b")]),
        helper.make_attribute(
            "a_sparses", [sparse_init, sparse_init]),
        helper.make_attribute("a_tps", [tp_seq, tp_f8, tp_opaque]),
    ]
    all_attrs = helper.make_node(
        "AllAttrs", ["C"], ["Z"], name="all_attrs", domain=DOMAIN,
        doc_string="node with every attribute type")
    all_attrs.attribute.extend(attrs)

    conv = helper.make_node(
        "Conv", ["X", "W", "B"], ["C"], name="conv",
        kernel_shape=[1, 1], pads=[0, 0, 0, 0], strides=[1, 1],
        doc_string="1x1 conv")
    relu = helper.make_node("Relu", ["C"], ["Y"], name="relu")
    call = helper.make_node(
        "ScaledRelu", ["C"], ["F"], name="call_fn", domain=DOMAIN, alpha=0.75)

    graph = helper.make_graph(
        [conv, relu, all_attrs, call],
        "fixture_graph",
        [x],
        [y, z, f_out],
        initializer=[w, b, i64, dbl, u64, strs, h, bf, seg],
        doc_string="graph doc",
        value_info=[vi_seq, vi_map, vi_opt, vi_sparse, unk],
        sparse_initializer=[sparse_init],
    )
    qa = graph.quantization_annotation.add()
    qa.tensor_name = "W"
    qa.quant_parameter_tensor_names.extend([
        entry("SCALE_TENSOR", "W_scale"),
        entry("ZERO_POINT_TENSOR", "W_zp"),
    ])

    # --- a model-local function using ref_attr_name ---------------------
    alpha_ref = onnx.AttributeProto()
    alpha_ref.name = "value_float"
    alpha_ref.ref_attr_name = "alpha"
    alpha_ref.type = onnx.AttributeProto.FLOAT
    const = helper.make_node("Constant", [], ["a"], name="alpha_const")
    const.attribute.append(alpha_ref)
    fn = helper.make_function(
        DOMAIN, "ScaledRelu", ["x"], ["y"],
        [const,
         helper.make_node("Relu", ["x"], ["r"]),
         helper.make_node("Mul", ["r", "a"], ["y"])],
        [helper.make_opsetid("", 13)],
        attributes=["alpha"],
        doc_string="relu(x) * alpha")

    # --- training info ----------------------------------------------------
    init_g = helper.make_graph(
        [helper.make_node("Constant", [], ["W_init"],
                          value=helper.make_tensor("c", TensorProto.FLOAT, [1], [0.0]))],
        "init_graph", [],
        [helper.make_tensor_value_info("W_init", TensorProto.FLOAT, [1])])
    algo_g = helper.make_graph(
        [helper.make_node("Identity", ["B"], ["B_new"])],
        "algo_graph", [],
        [helper.make_tensor_value_info("B_new", TensorProto.FLOAT, [2])])
    ti = helper.make_training_info(
        algo_g, [("B", "B_new")], init_g, [("W", "W_init")])

    model = helper.make_model(
        graph,
        ir_version=8,
        opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(DOMAIN, 1)],
        producer_name="onnxpb-fixture",
        producer_version="1.2.3",
        domain="dev.retarget",
        model_version=42,
        doc_string="fixture for internal/onnxpb",
        functions=[fn],
    )
    helper.set_model_props(model, {"author": "retarget", "purpose": "fixture"})
    model.training_info.append(ti)
    return model


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        root, "testdata", "onnx", "onnxpb_fixture.onnx")
    model = build()
    data = model.SerializeToString()
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "wb") as fh:
        fh.write(data)
    print("wrote %s (%d bytes, onnx %s)" % (out, len(data), onnx.__version__))


if __name__ == "__main__":
    main()
