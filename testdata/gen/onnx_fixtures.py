#!/usr/bin/env python3
"""Write the ONNX import fixtures in testdata/onnx/ (PyTorch 1.13 exporter,
onnx 1.12 helper for the old-opset model).

Each fixture NAME has NAME.onnx and NAME.json:
  {"inputs":  [{"name", "shape", "data"}], "outputs": [{"name", "shape", "data"}],
   "opset": N, "atol": 1e-4}
with the outputs computed by PyTorch (or, for the helper-built old-opset
model, by onnxruntime through testdata/gen/ort_run.js when node is present).

Usage (repository root): python3 testdata/gen/onnx_fixtures.py [OUTDIR] [--big] [--only=FN,...]
--big also writes torchvision's mobilenet_v2 (random weights), which is too
large to commit; the Go tests call this script with --big into a temp dir.
"""

import json
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "onnx")
torch.manual_seed(0)
np.random.seed(0)


def tolist(a):
    return [float(v) for v in np.asarray(a, dtype=np.float64).ravel()]


def write_json(name, inputs, outputs, opset, out_dir, atol=1e-4):
    doc = {"opset": opset, "atol": atol,
           "inputs": [{"name": n, "shape": list(a.shape), "data": tolist(a)} for n, a in inputs],
           "outputs": [{"name": n, "shape": list(a.shape), "data": tolist(a)} for n, a in outputs]}
    with open(os.path.join(out_dir, name + ".json"), "w") as f:
        json.dump(doc, f, separators=(",", ":"))


def export(name, model, args, in_names, out_names, opset, out_dir, dynamic=True, atol=1e-4, **kw):
    model.eval()
    # Give BatchNorm layers non-trivial statistics.
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            with torch.no_grad():
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
    with torch.no_grad():
        y = model(*args)
    ys = y if isinstance(y, tuple) else (y,)
    dyn = {n: {0: "N"} for n in in_names + out_names} if dynamic else None
    path = os.path.join(out_dir, name + ".onnx")
    torch.onnx.export(model, tuple(args), path, input_names=in_names, output_names=out_names,
                      opset_version=opset, dynamic_axes=dyn, do_constant_folding=True, **kw)
    write_json(name, [(n, a.numpy()) for n, a in zip(in_names, args)],
               [(n, t.numpy()) for n, t in zip(out_names, ys)], opset, out_dir, atol)


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1, groups=2, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = F.relu(self.bn2(self.conv2(x)))
        x = self.drop(x)
        x = x.view(x.size(0), -1)
        return self.fc(x)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(20, 32), nn.Linear(32, 16), nn.Linear(16, 5)

    def forward(self, x):
        return F.softmax(self.fc3(torch.tanh(self.fc2(F.relu(self.fc1(x))))), dim=1)


class CNN9(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 5)
        self.bn = nn.BatchNorm2d(4)
        self.avg = nn.AvgPool2d(2, padding=1, count_include_pad=False)
        self.conv1d = nn.Conv1d(4, 6, 3, dilation=2)
        self.fc = nn.Linear(6 * 2, 3)
        self.prelu = nn.PReLU(4)

    def forward(self, x):
        x = self.avg(self.prelu(self.bn(self.conv(x))))   # [N,4,7,7]
        x = F.leaky_relu(x, 0.1).flatten(2)                 # [N,4,49]
        x = F.elu(self.conv1d(x))                           # [N,6,45]
        x = F.adaptive_avg_pool1d(x, 1) if False else x[:, :, :2]
        x = torch.flatten(x, 1)
        return torch.sigmoid(self.fc(x))


class LSTMLast(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(6, 8, batch_first=True)
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[:, -1, :])


class GRUBi(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(5, 7, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(14, 4)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.fc(out)


class LSTMBiHidden(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(4, 6, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(12, 3)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return F.log_softmax(self.fc(torch.cat([h[-2], h[-1]], dim=1)), dim=1)


class RNNBi(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(3, 5, batch_first=True, bidirectional=True)
        self.gru = nn.GRU(10, 4, batch_first=True)

    def forward(self, x):
        out, _ = self.rnn(x)
        _, h = self.gru(out)
        return h[0]


class EmbedLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(50, 8)
        self.lstm = nn.LSTM(8, 12, batch_first=True)
        self.fc = nn.Linear(12, 5)

    def forward(self, ids):
        out, _ = self.lstm(self.emb(ids))
        return self.fc(out[:, -1])


class Shapes(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, 4, 1)
        self.fc = nn.Linear(4 * 8 * 10, 7)

    def forward(self, x):
        x = self.conv(x)                                   # [N,6,4,5]
        x = F.interpolate(x, scale_factor=2, mode="nearest")  # [N,6,8,10]
        a, b = torch.split(x, [2, 4], dim=1)
        x = torch.cat([b, torch.sigmoid(a)], dim=1)
        x = F.pad(x, (1, 1, 2, 0), mode="reflect")         # [N,6,10,12]
        x = x[:, :, 1:9, 1:11]                              # [N,6,8,10]
        y = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)[:, :, ::2, ::2]
        x = self.conv2(x + y)                               # [N,4,8,10]
        x = x.permute(0, 2, 3, 1).contiguous()              # [N,8,10,4]
        x = x.transpose(1, 3).reshape(x.size(0), -1)        # [N,320]
        x = F.pad(x.view(x.size(0), 4, 80), (0, 0, 1, 1), mode="constant", value=0.5)[:, 1:5, :]
        return self.fc(x.reshape(x.size(0), -1))


class Acts(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(12, 12)

    def forward(self, x):
        a = F.elu(x) + F.selu(x) * F.softplus(x) - F.softsign(x)
        b = F.hardswish(x) + F.gelu(x) + F.hardsigmoid(x) + F.relu6(x * 4)
        c = torch.sqrt(torch.abs(x) + 1) * torch.exp(-x * x) + torch.log(x * x + 1) - x ** 2 / 3
        d = torch.clamp(x, -0.5, 0.7) + x.mean(dim=1, keepdim=True) + x.sum(dim=1, keepdim=True) / 10
        e = torch.maximum(x, torch.tanh(x)) + x.max(dim=1, keepdim=True)[0]
        return F.log_softmax(self.fc(a + b + c + d + e), dim=-1), torch.erf(x)


class FusedActs(nn.Module):
    """Activations PyTorch 1.13 writes as element-wise subgraphs, which the
    importer fuses: GELU (erf and tanh forms), SiLU, Hardswish (HardSigmoid·x
    below opset 14, the HardSwish op from 14) and Mish."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 6)
        self.gelu, self.silu, self.hswish = nn.GELU(), nn.SiLU(), nn.Hardswish()
        self.gelu_tanh, self.mish = nn.GELU(approximate="tanh"), nn.Mish()

    def forward(self, x):
        h = self.fc(x) * 3  # spans the pieces of Hardswish
        return self.gelu(h), self.silu(h), self.hswish(h), self.gelu_tanh(h), self.mish(h)


def fused_acts(out_dir):
    torch.manual_seed(5)
    outs = ["gelu", "silu", "hardswish", "gelu_tanh", "mish"]
    for opset in (13, 17):
        export(f"fused_acts_op{opset}", FusedActs(), [torch.randn(4, 6)], ["x"], outs, opset, out_dir, atol=1e-5)


def old_opset(out_dir):
    """A model in opset 7/8 forms, built with onnx.helper."""
    import onnx
    from onnx import helper, TensorProto, numpy_helper
    rng = np.random.RandomState(1)
    init = lambda n, a: numpy_helper.from_array(np.asarray(a, dtype=np.float32), n)
    W1 = rng.randn(4, 2, 3, 3) * 0.3
    nodes = [
        helper.make_node("Conv", ["x", "W1", "B1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "g", "b", "m", "v"], ["bn"], name="bn1", epsilon=1e-3, spatial=1),
        helper.make_node("PRelu", ["bn", "slope"], ["pr"], name="prelu1"),
        helper.make_node("Upsample", ["pr"], ["up"], name="up1", mode="nearest", scales=[1.0, 1.0, 2.0, 2.0]),
        helper.make_node("Pad", ["up"], ["pd"], name="pad1", mode="edge", pads=[0, 0, 1, 0, 0, 0, 0, 1]),
        helper.make_node("Slice", ["pd"], ["sl"], name="slice1", axes=[2, 3], starts=[1, 0], ends=[9, 8]),
        helper.make_node("AveragePool", ["sl"], ["ap"], name="avg1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Split", ["ap"], ["s1", "s2"], name="split1", axis=1, split=[1, 3]),
        helper.make_node("Clip", ["s2"], ["cl"], name="clip1", min=-0.2, max=0.4),
        helper.make_node("Concat", ["cl", "s1"], ["cc"], name="concat1", axis=1),
        helper.make_node("Flatten", ["cc"], ["fl"], name="flat1", axis=1),
        helper.make_node("Unsqueeze", ["fl"], ["us"], name="unsq1", axes=[2]),
        helper.make_node("Squeeze", ["us"], ["sq"], name="sq1", axes=[2]),
        helper.make_node("Gemm", ["sq", "Wg", "Bg"], ["gm"], name="gemm1", transB=1, alpha=0.5, beta=2.0),
        helper.make_node("Softmax", ["gm"], ["y"], name="softmax1", axis=1),
    ]
    inits = [init("W1", W1), init("B1", rng.randn(4) * 0.1), init("g", rng.rand(4) + 0.5),
             init("b", rng.randn(4) * 0.1), init("m", rng.randn(4) * 0.1), init("v", rng.rand(4) + 0.5),
             init("slope", (rng.rand(4, 1, 1) * 0.3)), init("Wg", rng.randn(6, 64) * 0.2), init("Bg", rng.randn(6) * 0.1)]
    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 4, 4])]
    # IR version 3: initializers are graph inputs too.
    ins += [helper.make_tensor_value_info(t.name, TensorProto.FLOAT, list(t.dims)) for t in inits]
    g = helper.make_graph(nodes, "old_opset", ins,
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 6])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 8)], producer_name="onnx_fixtures.py")
    m.ir_version = 3
    onnx.checker.check_model(m)
    path = os.path.join(out_dir, "old_opset8.onnx")
    onnx.save(m, path)
    x = rng.randn(2, 2, 4, 4).astype(np.float32)
    np.save(os.path.join(out_dir, "old_opset8_x.npy"), x)
    try:
        res = subprocess.run(["node", os.path.join(HERE, "ort_run.js"), path, os.path.join(out_dir, "old_opset8_x.npy")],
                             check=True, capture_output=True, text=True)
        outs = json.loads(res.stdout)["outputs"]
        y = np.array(outs[0]["data"], dtype=np.float32).reshape(outs[0]["shape"])
        write_json("old_opset8", [("x", x)], [("y", y)], 8, out_dir)
    except Exception as e:  # no node/onnxruntime: fixture without expected outputs
        print("old_opset8: no onnxruntime to compute expected outputs:", e, file=sys.stderr)
        write_json("old_opset8", [("x", x)], [], 8, out_dir)
    os.remove(os.path.join(out_dir, "old_opset8_x.npy"))


def external(out_dir):
    import onnx
    sub = os.path.join(out_dir, "external")
    os.makedirs(sub, exist_ok=True)
    model = MLP()
    x = torch.randn(3, 20)
    export("mlp_ext", model, [x], ["x"], ["probs"], 13, sub)
    m = onnx.load(os.path.join(sub, "mlp_ext.onnx"))
    onnx.save_model(m, os.path.join(sub, "mlp_ext.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="mlp_ext.data", size_threshold=0)


def big(out_dir):
    import torchvision
    model = torchvision.models.mobilenet_v2(weights=None, num_classes=10)
    x = torch.randn(1, 3, 32, 32)
    export("mobilenet_v2", model, [x], ["image"], ["logits"], 13, out_dir)


class LNorm(nn.Module):
    """nn.LayerNorm over the last axis and over the last two; PyTorch writes
    LayerNormalization from opset 17 and ReduceMean/Sub/Pow/.../Add below."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 8)
        self.ln = nn.LayerNorm(8)
        self.ln2 = nn.LayerNorm([5, 8], eps=1e-3)
        with torch.no_grad():
            for m in (self.ln, self.ln2):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)

    def forward(self, x):
        return self.ln2(torch.relu(self.ln(self.fc(x))))


def layernorm(out_dir):
    for opset in (13, 17):
        torch.manual_seed(7)
        model = LNorm()
        name = f"layernorm_op{opset}"
        export(name, model, [torch.randn(3, 5, 6)], ["seq"], ["y"], opset, out_dir, atol=1e-5)
        add_json(out_dir, name, trainable=sum(p.numel() for p in model.parameters() if p.requires_grad))


def add_json(out_dir, name, **fields):
    path = os.path.join(out_dir, name + ".json")
    with open(path) as f:
        doc = json.load(f)
    doc.update(fields)
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))


class PReLUs(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.per_channel = nn.PReLU(3, init=0.1)
        self.shared = nn.PReLU(1, init=0.3)
        with torch.no_grad():
            self.per_channel.weight.uniform_(0.05, 0.5)

    def forward(self, x):
        return self.shared(self.per_channel(self.conv(x)))


def prelu_op6(out_dir):
    """PyTorch's export of PReLU rewritten to opset 6 as PyTorch 0.3 wrote
    it (the ONNX backend suite's pytorch-converted PReLU models): slopes of
    shape (C,), which meant channel axis 1 before opset 7 broadcasting."""
    import onnx
    from onnx import helper, numpy_helper
    torch.manual_seed(8)
    name = "prelu_op6"
    export(name, PReLUs(), [torch.randn(2, 2, 4, 5)], ["x"], ["y"], 9, out_dir, atol=1e-5)
    path = os.path.join(out_dir, name + ".onnx")
    m = onnx.load(path)
    prelu_slopes = {n.input[1] for n in m.graph.node if n.op_type == "PRelu"}
    inits = []
    for t in m.graph.initializer:
        a = numpy_helper.to_array(t)
        if t.name in prelu_slopes:
            a = a.reshape(-1)
        inits.append(numpy_helper.from_array(a, t.name))
    del m.graph.initializer[:]
    m.graph.initializer.extend(inits)
    names = {i.name for i in m.graph.input}
    m.graph.input.extend(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                         for t in inits if t.name not in names)
    del m.opset_import[:]
    m.opset_import.extend([helper.make_opsetid("", 6)])
    m.ir_version = 3
    onnx.checker.check_model(m)
    onnx.save(m, path)
    add_json(out_dir, name, opset=6)


class FixedBatch(nn.Module):
    """Constants that span the batch axis of a fixed-batch (2) export: a
    (1,C,H,W) scale and a bias expanded to the batch, which constant
    folding turns into one (2,C,H,W) initializer of equal slices."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.scale = nn.Parameter(torch.rand(1, 4, 5, 5) + 0.5)
        self.bias = nn.Parameter(torch.randn(1, 4, 5, 5) * 0.1)

    def forward(self, x):
        h = self.conv(x) * self.scale
        return h + self.bias.expand(x.size(0), -1, -1, -1)


def fixed_batch(out_dir):
    torch.manual_seed(9)
    export("fixed_batch_op13", FixedBatch(), [torch.randn(2, 3, 5, 5)], ["x"], ["y"], 13, out_dir,
           dynamic=False, atol=1e-5)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    out_dir = args[0] if args else OUT
    os.makedirs(out_dir, exist_ok=True)
    if "--big" in sys.argv:
        big(out_dir)
        return
    only = [a[len("--only="):] for a in sys.argv[1:] if a.startswith("--only=")]
    if only:  # --only=layernorm,prelu_op6: just these generator functions
        for fn in only[0].split(","):
            globals()[fn](out_dir)
        return
    # PRESERVE keeps BatchNormalization and Dropout nodes (EVAL folds them away).
    keep = dict(training=torch.onnx.TrainingMode.PRESERVE)
    export("cnn_op13", CNN(), [torch.randn(2, 3, 16, 16)], ["image"], ["logits"], 13, out_dir, **keep)
    export("cnn_op11", CNN(), [torch.randn(2, 3, 16, 16)], ["image"], ["logits"], 11, out_dir, **keep)
    export("mlp_softmax_op11", MLP(), [torch.randn(4, 20)], ["x"], ["probs"], 11, out_dir)
    export("mlp_static_op17", MLP(), [torch.randn(1, 20)], ["x"], ["probs"], 17, out_dir, dynamic=False)
    export("cnn_op9", CNN9(), [torch.randn(2, 1, 16, 16)], ["x"], ["y"], 9, out_dir)
    export("lstm_op13", LSTMLast(), [torch.randn(2, 5, 6)], ["seq"], ["y"], 13, out_dir)
    export("gru_bi_op17", GRUBi(), [torch.randn(2, 6, 5)], ["seq"], ["y"], 17, out_dir)
    export("lstm_bi_op11", LSTMBiHidden(), [torch.randn(3, 4, 4)], ["seq"], ["y"], 11, out_dir)
    export("rnn_bi_op13", RNNBi(), [torch.randn(2, 5, 3)], ["seq"], ["y"], 13, out_dir)
    export("embed_lstm_op13", EmbedLSTM(), [torch.randint(0, 50, (2, 7))], ["ids"], ["y"], 13, out_dir)
    export("shapes_op13", Shapes(), [torch.randn(2, 3, 4, 5)], ["x"], ["y"], 13, out_dir)
    export("shapes_op11", Shapes(), [torch.randn(2, 3, 4, 5)], ["x"], ["y"], 11, out_dir)
    export("acts_op17", Acts(), [torch.randn(3, 12)], ["x"], ["y", "erf"], 17, out_dir)
    fused_acts(out_dir)
    layernorm(out_dir)
    prelu_op6(out_dir)
    fixed_batch(out_dir)
    old_opset(out_dir)
    external(out_dir)


if __name__ == "__main__":
    main()
