#!/usr/bin/env python3
"""Writes the benchmark's models and inputs into a cache folder (never
committed): torchvision VGG16, ResNet50 (opset 13) and ViT-B/16 (opset 14)
with random weights exported to ONNX (dynamic batch), one batch of input as .npy, and a folder of
JPEG images in 5 classes for featurize. Files already present are kept.

Usage: /usr/bin/python3 bench/models.py CACHE_DIR [--images N]
"""
import os
import sys

import numpy as np
import torch
import torchvision

BATCH = 8


def export(name, build, cache, opset=13):
    path = os.path.join(cache, name + ".onnx")
    if os.path.exists(path):
        return
    torch.manual_seed(0)
    model = build(weights=None).eval()
    x = torch.randn(BATCH, 3, 224, 224)
    tmp = path + ".tmp"
    torch.onnx.export(model, (x,), tmp, input_names=["image"], output_names=["logits"],
                      opset_version=opset, dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}},
                      do_constant_folding=True)
    os.replace(tmp, path)
    print("wrote", path, os.path.getsize(path), "bytes", file=sys.stderr)


def images(cache, n):
    from PIL import Image
    root = os.path.join(cache, "images-%d" % n)
    if os.path.exists(os.path.join(root, "done")):
        return
    rng = np.random.default_rng(0)
    for i in range(n):
        cls = os.path.join(root, "class%d" % (i % 5))
        os.makedirs(cls, exist_ok=True)
        # smooth random pictures (noise JPEG-compresses unlike photos), photo-like size
        small = rng.integers(0, 256, size=(12, 16, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((500, 375), Image.BICUBIC)
        img.save(os.path.join(cls, "img%05d.jpg" % i), quality=90)
    open(os.path.join(root, "done"), "w").close()


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = 64
    if "--images" in sys.argv:
        n = int(sys.argv[sys.argv.index("--images") + 1])
    cache = args[0]
    os.makedirs(cache, exist_ok=True)
    export("vgg16", torchvision.models.vgg16, cache)
    export("resnet50", torchvision.models.resnet50, cache)
    export("vit_b_16", torchvision.models.vit_b_16, cache, opset=14)
    x = os.path.join(cache, "input-b%d.npy" % BATCH)
    if not os.path.exists(x):
        np.save(x, np.random.default_rng(1).standard_normal((BATCH, 3, 224, 224), dtype=np.float32))
    images(cache, n)


if __name__ == "__main__":
    main()
