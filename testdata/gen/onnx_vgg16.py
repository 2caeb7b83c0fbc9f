#!/usr/bin/env python3
"""Export torchvision's VGG16 (random weights, ~553 MB) to ONNX for the
import memory/time measurement; the file is far too big to commit.

Usage: python3 testdata/gen/onnx_vgg16.py OUT.onnx [--batch N]
Writes OUT.onnx (opset 13, dynamic batch, input "image" [N,3,224,224],
output "logits" [N,1000]) and OUT.json with one input batch and PyTorch's
outputs for it, in the format of testdata/onnx/*.json.
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
        sys.exit("usage: onnx_vgg16.py OUT.onnx [--batch N]")
    out = args[0]
    batch = 1
    if "--batch" in sys.argv:
        batch = int(sys.argv[sys.argv.index("--batch") + 1])
    torch.manual_seed(0)
    model = torchvision.models.vgg16(weights=None).eval()
    x = torch.randn(batch, 3, 224, 224)
    with torch.no_grad():
        y = model(x)
    torch.onnx.export(model, (x,), out, input_names=["image"], output_names=["logits"],
                      opset_version=13, dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}},
                      do_constant_folding=True)
    doc = {"opset": 13, "atol": 1e-4,
           "inputs": [{"name": "image", "shape": list(x.shape), "data": tolist(x.numpy())}],
           "outputs": [{"name": "logits", "shape": list(y.shape), "data": tolist(y.numpy())}]}
    with open(os.path.splitext(out)[0] + ".json", "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    print(out, os.path.getsize(out), "bytes")


if __name__ == "__main__":
    main()
