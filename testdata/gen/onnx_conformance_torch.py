#!/usr/bin/env python3
"""Writes testdata/onnx/conformance/: one model exported with PyTorch 1.13's
ONNX exporter for every module that ONNX's backend conformance sets
pytorch-converted and pytorch-operator cover (Debian's libonnx-testdata
has those as files; these cases keep the coverage when it is absent), plus
ConvTranspose3d and the losses.

Each case NAME has NAME.onnx and NAME.json in the format of
testdata/gen/onnx_fixtures.py ({"opset", "atol", "inputs", "outputs"}).
The Go test importers/onnx TestConformanceTorchCases runs them with ONNX's
tolerances and lists the ones that fail, with the reason.

Usage (repository root): /usr/bin/python3 testdata/gen/onnx_conformance_torch.py [OUTDIR]
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "onnx", "conformance")
torch.manual_seed(0)


class Fn(nn.Module):
    def __init__(self, f, *mods):
        super().__init__()
        self.f = f
        self.mods = nn.ModuleList(mods)

    def forward(self, *xs):
        return self.f(*xs)


def enc(name, t):
    a = t.detach().numpy().astype(np.float64)
    return {"name": name, "shape": list(a.shape), "data": [float("%.8g" % v) for v in a.ravel()]}


def export(out_dir, name, model, args, opset=13, dynamic=True):
    model.eval()
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
            with torch.no_grad():
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
    args = [a.float() if a.is_floating_point() else a for a in args]
    with torch.no_grad():
        y = model(*args)
    ins = ["x%d" % i for i in range(len(args))]
    outs = ["y"]
    dyn = {n: {0: "N"} for n in ins + outs} if dynamic else None
    torch.onnx.export(model, tuple(args), os.path.join(out_dir, name + ".onnx"), input_names=ins,
                      output_names=outs, opset_version=opset, dynamic_axes=dyn, do_constant_folding=True)
    doc = {"opset": opset, "atol": 1e-7, "inputs": [enc(n, a) for n, a in zip(ins, args)], "outputs": [enc("y", y)]}
    with open(os.path.join(out_dir, name + ".json"), "w") as f:
        json.dump(doc, f, separators=(",", ":"), allow_nan=False)


def r(*shape):
    # multiples of 1/64: exact in float32 and short in JSON
    return torch.round(torch.randn(*shape) * 64) / 64


def converted(out_dir):
    """The modules of pytorch-converted, with its shapes where they are small."""
    e = lambda name, m, *a, **kw: export(out_dir, name, m, list(a), **kw)
    e("AvgPool1d", nn.AvgPool1d(2), r(2, 3, 6))
    e("AvgPool1d_stride", nn.AvgPool1d(2, stride=2), r(2, 3, 6))
    e("AvgPool2d", nn.AvgPool2d(2), r(2, 3, 6, 6))
    e("AvgPool2d_stride", nn.AvgPool2d(2, stride=2), r(2, 3, 6, 6))
    e("AvgPool3d", nn.AvgPool3d(2), r(2, 3, 4, 4, 4))
    e("AvgPool3d_stride", nn.AvgPool3d(2, stride=2), r(2, 3, 5, 5, 5))
    e("AvgPool3d_stride1_pad0", nn.AvgPool3d(3, stride=1, padding=0), r(2, 3, 4, 4, 4))
    e("AvgPool3d_pad_ceil", nn.AvgPool3d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), r(1, 2, 5, 6, 5))
    e("BatchNorm1d_3d_input_eval", nn.BatchNorm1d(5), r(4, 5, 3))
    e("BatchNorm2d_eval", nn.BatchNorm2d(3), r(2, 3, 6, 6))
    e("BatchNorm2d_momentum_eval", nn.BatchNorm2d(3, eps=1e-3, momentum=0.8), r(2, 3, 6, 6))
    e("BatchNorm3d_eval", nn.BatchNorm3d(3), r(2, 3, 4, 4, 4))
    e("BatchNorm3d_momentum_eval", nn.BatchNorm3d(3, eps=1e-3, momentum=0.7), r(2, 3, 4, 4, 4))
    e("ConstantPad2d", nn.ConstantPad2d((2, 1, 3, 4), 3.5), r(2, 3, 4, 4))
    e("Conv1d", nn.Conv1d(4, 5, 3), r(2, 4, 10))
    e("Conv1d_dilated", nn.Conv1d(4, 5, 3, dilation=2), r(2, 4, 10))
    e("Conv1d_groups", nn.Conv1d(4, 6, 3, groups=2), r(2, 4, 6))
    e("Conv1d_pad1", nn.Conv1d(4, 5, 3, padding=1), r(2, 4, 10))
    e("Conv1d_pad1size1", nn.Conv1d(4, 5, 3, padding=1), r(1, 4, 1))
    e("Conv1d_pad2", nn.Conv1d(4, 5, 5, padding=2), r(2, 4, 10))
    e("Conv1d_pad2size1", nn.Conv1d(4, 5, 5, padding=2), r(1, 4, 1))
    e("Conv1d_stride", nn.Conv1d(4, 5, 3, stride=2), r(2, 4, 10))
    e("Conv2d", nn.Conv2d(3, 4, (3, 2)), r(2, 3, 7, 5))
    e("Conv2d_depthwise", nn.Conv2d(4, 4, 3, groups=4), r(2, 4, 6, 6))
    e("Conv2d_depthwise_padded", nn.Conv2d(4, 4, 3, padding=1, groups=4), r(2, 4, 6, 6))
    e("Conv2d_depthwise_strided", nn.Conv2d(4, 4, 3, stride=2, groups=4), r(2, 4, 6, 6))
    e("Conv2d_depthwise_with_multiplier", nn.Conv2d(4, 8, 3, groups=4), r(2, 4, 6, 6))
    e("Conv2d_dilated", nn.Conv2d(3, 4, 3, stride=2, padding=1, dilation=2), r(2, 3, 8, 8))
    e("Conv2d_groups", nn.Conv2d(4, 6, (3, 2), groups=2), r(2, 4, 6, 5))
    e("Conv2d_no_bias", nn.Conv2d(3, 4, (3, 2), bias=False), r(2, 3, 6, 5))
    e("Conv2d_padding", nn.Conv2d(3, 4, 3, stride=2, padding=1), r(2, 3, 6, 6))
    e("Conv2d_strided", nn.Conv2d(3, 4, 3, stride=2), r(2, 3, 6, 6))
    e("Conv3d", nn.Conv3d(3, 4, (2, 3, 4)), r(2, 3, 3, 4, 5))
    e("Conv3d_dilated", nn.Conv3d(3, 4, 2, dilation=2), r(2, 3, 5, 5, 5))
    e("Conv3d_dilated_strided", nn.Conv3d(3, 4, 2, stride=2, dilation=2), r(2, 3, 5, 5, 5))
    e("Conv3d_groups", nn.Conv3d(4, 6, 3, groups=2), r(2, 4, 4, 5, 4))
    e("Conv3d_no_bias", nn.Conv3d(3, 4, (2, 3, 4), bias=False), r(2, 3, 3, 4, 5))
    e("Conv3d_stride", nn.Conv3d(3, 4, 2, stride=2), r(2, 3, 5, 5, 5))
    e("Conv3d_stride_padding", nn.Conv3d(3, 4, 2, stride=2, padding=1), r(2, 3, 5, 5, 5))
    e("ConvTranspose2d", nn.ConvTranspose2d(3, 4, 3, stride=(3, 2), padding=1, output_padding=(1, 1)), r(1, 3, 7, 6))
    e("ConvTranspose2d_no_bias", nn.ConvTranspose2d(3, 4, 3, stride=(2, 3), padding=1, output_padding=(1, 1), bias=False), r(1, 3, 6, 7))
    e("ConvTranspose3d", nn.ConvTranspose3d(3, 4, (2, 3, 3), stride=(2, 1, 2), padding=(0, 1, 1), output_padding=(1, 0, 1)), r(1, 3, 3, 4, 3))
    e("ConvTranspose3d_groups_dilated", nn.ConvTranspose3d(4, 4, 2, groups=2, dilation=(2, 1, 1), bias=False), r(2, 4, 3, 3, 2))
    e("ELU", nn.ELU(2.0), r(3, 2, 5))
    e("Embedding", nn.Embedding(10, 3), torch.randint(0, 10, (1, 4)))
    e("Embedding_sparse", nn.Embedding(10, 3, sparse=True), torch.randint(0, 10, (1, 4)))
    e("GLU", nn.GLU(), r(5, 6))
    e("GLU_dim", nn.GLU(1), r(5, 6, 7))
    e("LeakyReLU", nn.LeakyReLU(), r(3, 2, 5))
    e("LeakyReLU_with_negval", nn.LeakyReLU(0.5), r(3, 2, 5))
    e("Linear", nn.Linear(10, 8), r(4, 10))
    e("Linear_no_bias", nn.Linear(10, 8, bias=False), r(4, 10))
    e("LogSoftmax", nn.LogSoftmax(1), r(10, 20))
    e("MaxPool1d", nn.MaxPool1d(4), r(2, 10, 4))
    e("MaxPool1d_stride", nn.MaxPool1d(4, stride=4), r(2, 10, 4))
    e("MaxPool1d_stride_padding_dilation", nn.MaxPool1d(20, stride=3, padding=10, dilation=3), r(1, 1, 220))
    e("MaxPool2d", nn.MaxPool2d(3, stride=2, padding=1), r(1, 3, 7, 7))
    e("MaxPool2d_stride_padding_dilation", nn.MaxPool2d((6, 8), stride=3, padding=(2, 3), dilation=3), r(1, 1, 30, 32))
    e("MaxPool2d_dilation_ceil", nn.MaxPool2d(3, stride=2, padding=1, dilation=2, ceil_mode=True), r(1, 2, 10, 9))
    e("MaxPool3d", nn.MaxPool3d(2), r(2, 3, 5, 5, 5))
    e("MaxPool3d_stride", nn.MaxPool3d(2, stride=2), r(2, 3, 5, 5, 5))
    e("MaxPool3d_stride_padding", nn.MaxPool3d(2, stride=2, padding=1), r(2, 3, 5, 5, 5))
    e("MaxPool3d_dilation", nn.MaxPool3d(2, stride=1, padding=1, dilation=(2, 1, 2)), r(1, 2, 5, 4, 6))
    e("PReLU_1d", nn.PReLU(), r(2, 3, 4))
    e("PReLU_1d_multiparam", nn.PReLU(3), r(2, 3, 4))
    e("PReLU_2d", nn.PReLU(), r(2, 3, 4, 5))
    e("PReLU_2d_multiparam", nn.PReLU(3), r(2, 3, 4, 5))
    e("PReLU_3d", nn.PReLU(), r(1, 3, 4, 5, 6))
    e("PReLU_3d_multiparam", nn.PReLU(3), r(1, 3, 4, 5, 6))
    e("PixelShuffle", nn.PixelShuffle(3), r(1, 9, 4, 4))
    target = torch.rand(10, 10)
    # PyTorch 1.13 has no ONNX symbolic for poisson_nll_loss: written as the
    # old exporter wrote it (log_input=True), exp(x) - target * x
    e("PoissonNLLLoss_no_reduce", Fn(lambda x: torch.exp(x) - target * x), r(10, 10), dynamic=False)
    e("ReLU", nn.ReLU(), r(2, 3, 4, 5))
    e("ReflectionPad2d", nn.ReflectionPad2d((2, 1, 3, 4)), r(1, 3, 8, 8))
    e("ReplicationPad2d", nn.ReplicationPad2d((2, 1, 3, 4)), r(2, 3, 4, 4))
    e("SELU", nn.SELU(), r(3, 2, 5))
    e("Sigmoid", nn.Sigmoid(), r(2, 3, 4, 5))
    e("Softmax", nn.Softmax(1), r(10, 20))
    e("Softmin", nn.Softmin(1), r(10, 20))
    e("Softplus", nn.Softplus(), r(10, 20))
    e("Softsign", nn.Softsign(), r(3, 2, 5))
    e("Tanh", nn.Tanh(), r(2, 3, 4, 5))
    e("ZeroPad2d", nn.ZeroPad2d((2, 1, 3, 4)), r(2, 3, 4, 4))
    e("log_softmax_dim3", Fn(lambda x: F.log_softmax(x, 3)), r(2, 3, 4, 5))
    e("log_softmax_lastdim", Fn(lambda x: F.log_softmax(x, -1)), r(2, 32))
    e("softmax_functional_dim3", Fn(lambda x: F.softmax(x, 3)), r(2, 3, 4, 5))
    e("softmax_lastdim", Fn(lambda x: F.softmax(x, -1)), r(2, 32))


def losses(out_dir):
    """The element-wise losses (reduction="none"), target as a second input."""
    e = lambda name, f, *a: export(out_dir, name, Fn(f), list(a))
    e("loss_PoissonNLL", lambda x, t: torch.exp(x) - t * x, r(4, 5), torch.rand(4, 5))
    # PyTorch 1.13 exports none of these functions: written out as they compute
    e("loss_MSE", lambda x, t: (x - t) ** 2, r(4, 5), r(4, 5))
    e("loss_L1", lambda x, t: (x - t).abs(), r(4, 5), r(4, 5))
    e("loss_SmoothL1", lambda x, t: torch.where((x - t).abs() < 1, 0.5 * (x - t) ** 2, (x - t).abs() - 0.5), r(4, 5), r(4, 5))
    e("loss_BCE", lambda x, t: -(t * torch.log(x) + (1 - t) * torch.log(1 - x)), torch.rand(4, 5) * 0.9 + 0.05, torch.rand(4, 5))
    # a loss against a constant target: its values broadcast over the features only
    t = torch.rand(5)
    e("loss_MSE_const_target", lambda x: (x - t) ** 2, r(4, 5))
    e("loss_PoissonNLL_const_target", lambda x: torch.exp(x) - t * x, r(4, 5))


def operator(out_dir):
    """The graphs of pytorch-operator, with its shapes (fixed batch)."""
    e = lambda name, f, *a, **kw: export(out_dir, "operator_" + name, Fn(f), list(a), **kw)
    s = dict(dynamic=False)
    e("add_broadcast", lambda x, y: x + y, r(2, 3), r(3), **s)
    e("add_size1_broadcast", lambda x, y: x + y, r(2, 3), r(2, 1), **s)
    e("add_size1_right_broadcast", lambda x, y: x + y, r(2, 3), r(3), **s)
    e("add_size1_singleton_broadcast", lambda x, y: x + y, r(2, 3), r(1, 3), **s)
    e("addconstant", lambda x: x + 1, r(2, 3))
    e("addmm", lambda m1, m2, v: torch.addmm(torch.addmm(v, m1, m2), m1, m2), r(2, 3), r(3, 4), r(4), **s)
    e("basic", lambda x, y: -torch.sigmoid(torch.tanh(x * (x + y))), r(1), r(1), **s)
    e("chunk", lambda x: torch.cat(x.chunk(2), 0), r(3), **s)
    e("clip", lambda x: x.clamp(-0.5, 0.5), r(3, 4))
    e("concat2", lambda x, y: torch.cat((x, y), 1), r(2, 3), r(2, 3))
    e("conv", nn.Conv2d(6, 5, 3, bias=False), r(2, 6, 5, 4))
    e("convtranspose", nn.ConvTranspose2d(3, 3, 3, stride=3, bias=False, padding=1, output_padding=2), r(2, 3, 4, 5))
    e("exp", lambda x: x.exp(), r(3, 4))
    e("flatten", lambda x: torch.flatten(x, 1), r(1, 2, 3, 4))
    e("index", lambda x: x[0], r(1, 1), **s)
    e("max", lambda x, y: torch.max(x, y), r(3, 4), r(3, 4))
    e("maxpool", nn.MaxPool1d(3, stride=2), r(2, 4, 11))
    e("min", lambda x, y: torch.min(x, y), r(3, 4), r(3, 4))
    e("mm", lambda m1, m2: torch.mm(m1, m2), r(2, 3), r(3, 4), **s)
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    e("non_float_params", lambda x: x.add(w).mul(w), r(2, 2), **s)
    e("pad", lambda x: F.pad(x, (2, 3, 0, 1), mode="reflect"), r(1, 1, 2, 4))
    e("params", lambda x: -torch.sigmoid(torch.tanh(x * (x + w))), r(2, 2), **s)
    e("permute2", lambda x: x.permute(0, 1, 4, 2, 5, 3), r(1, 1, 1, 1, 1, 1))
    e("pow", lambda x, y: x.pow(y), torch.rand(1, 2, 3, 4) + 0.1, r(1, 2, 3, 4))
    e("reduced_mean", lambda x: torch.mean(x, 2), r(1, 2, 3, 4))
    e("reduced_mean_keepdim", lambda x: torch.mean(x, 2, keepdim=True), r(1, 2, 3, 4))
    e("reduced_sum", lambda x: torch.sum(x, 2), r(1, 2, 3, 4))
    e("reduced_sum_keepdim", lambda x: torch.sum(x, 2, keepdim=True), r(1, 2, 3, 4))
    e("repeat", lambda x: x.repeat(1, 2, 3, 4), r(1, 2, 3, 4))
    e("repeat_dim_overflow", lambda x: x.repeat(1, 2, 3, 4), r(1, 2), **s)
    e("selu", lambda x: F.selu(x), r(1, 2, 3, 4))
    e("sqrt", lambda x: x.sqrt(), torch.rand(3, 4))
    e("symbolic_override", nn.InstanceNorm2d(10, affine=True), r(2, 10, 8, 8))
    e("symbolic_override_nested", lambda x, y, z: -(-(x + y + z)), r(1), r(1), r(1), **s)
    e("view", lambda x: x.view(1, 1), r(1), **s)


def extra(out_dir):
    """Cases added later (last, so that the others keep their random values)."""
    e = lambda name, m, *a, **kw: export(out_dir, name, m, list(a), **kw)
    e("ConvTranspose1d", nn.ConvTranspose1d(3, 4, 4, stride=3, padding=1, output_padding=2, dilation=2), r(2, 3, 6))


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else OUT
    os.makedirs(out_dir, exist_ok=True)
    converted(out_dir)
    losses(out_dir)
    operator(out_dir)
    extra(out_dir)


if __name__ == "__main__":
    main()
