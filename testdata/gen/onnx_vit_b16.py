#!/usr/bin/env python3
"""Export torchvision's vit_b_16 (random weights, ~346 MB; the head, which
torchvision starts at zero, drawn too) to ONNX for the transformer import
test; the file is far too big to commit.

Usage: python3 testdata/gen/onnx_vit_b16.py OUT.onnx [--batch N] [--opset K]
Writes OUT.onnx (dynamic batch, input "image" [N,3,224,224], output
"logits" [N,1000]) and OUT.json with one input batch and PyTorch's outputs,
in the format of testdata/onnx/*.json.
"""

import json
import os
import sys

import numpy as np
import torch
import torchvision


def tolist(a):
    return [float(v) for v in np.asarray(a, dtype=np.float64).ravel()]


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        sys.exit("usage: onnx_vit_b16.py OUT.onnx [--batch N] [--opset K]")
    out = args[0]
    batch, opset = 1, 14
    if "--batch" in sys.argv:
        batch = int(sys.argv[sys.argv.index("--batch") + 1])
    if "--opset" in sys.argv:
        opset = int(sys.argv[sys.argv.index("--opset") + 1])
    torch.manual_seed(0)
    model = torchvision.models.vit_b_16(weights=None).eval()
    with torch.no_grad():
        model.heads.head.weight.normal_(0, 0.02)
        model.heads.head.bias.uniform_(-0.1, 0.1)
    x = torch.randn(batch, 3, 224, 224)
    with torch.no_grad():
        y = model(x)
    torch.onnx.export(model, (x,), out, input_names=["image"], output_names=["logits"],
                      opset_version=opset, dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}},
                      do_constant_folding=True)
    doc = {"opset": opset, "atol": 1e-4,
           "inputs": [{"name": "image", "shape": list(x.shape), "data": tolist(x.numpy())}],
           "outputs": [{"name": "logits", "shape": list(y.shape), "data": tolist(y.numpy())}]}
    with open(os.path.splitext(out)[0] + ".json", "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    print(out, os.path.getsize(out), "bytes")


if __name__ == "__main__":
    main()
