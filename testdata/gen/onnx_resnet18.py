#!/usr/bin/env python3
"""Export torchvision's ResNet18 (random weights, 45 MB: too big to commit)
with PyTorch's outputs, in the format of testdata/onnx/*.json.

Usage: python3 testdata/gen/onnx_resnet18.py OUTDIR
Writes OUTDIR/resnet18.onnx and OUTDIR/resnet18.json (opset 13, dynamic
batch, input "image" [2,3,64,64], output "logits" [2,1000]; BatchNorm
layers get non-trivial statistics). The Go tests call it into a temp dir.
"""

import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_fixtures import export  # noqa: E402  (same JSON format and BatchNorm statistics)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: onnx_resnet18.py OUTDIR")
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None)
    x = torch.randn(2, 3, 64, 64)
    export("resnet18", model, [x], ["image"], ["logits"], 13, out_dir)


if __name__ == "__main__":
    main()
