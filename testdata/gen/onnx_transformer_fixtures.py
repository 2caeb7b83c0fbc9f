#!/usr/bin/env python3
"""Write transformer import fixtures in testdata/onnx/ (PyTorch 1.13
exporter), in the format of onnx_fixtures.py (NAME.onnx + NAME.json):

  vit_tiny_op13/14   torchvision VisionTransformer (patch conv, class token,
                     position embedding, 2 encoder blocks, head)
  bert_tiny_op13/14  token embedding + learned positions, a 2-layer
                     torch.nn.TransformerEncoder (batch_first), CLS head
  bert_masked_op13/14  the same with a padding mask computed inside the
                     model (src_key_padding_mask = ids == 0), run on ids
                     with padding

Every parameter is random (torchvision starts the head at zero).
Usage (repository root): /usr/bin/python3 testdata/gen/onnx_transformer_fixtures.py [OUTDIR]
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_fixtures import OUT, export  # noqa: E402


def randomize(model, scale=0.3):
    torch.manual_seed(11)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * scale)
        for name, p in model.named_parameters():
            if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name.endswith("norm1.weight") or \
                    name.endswith("norm2.weight") or name.endswith("ln.weight"):
                p.add_(1.0)
    return model


def vit():
    from torchvision.models.vision_transformer import VisionTransformer
    return randomize(VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2,
                                       hidden_dim=16, mlp_dim=32, num_classes=5))


class Bert(nn.Module):
    def __init__(self, vocab=50, steps=7, dim=16, heads=4, classes=3):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.zeros(1, steps, dim))
        layer = nn.TransformerEncoderLayer(dim, heads, 32, dropout=0.0, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(dim, classes)

    def forward(self, ids):
        x = self.tok(ids) + self.pos
        x = self.enc(x)
        return self.head(x[:, 0])


class BertMasked(Bert):
    def forward(self, ids):
        x = self.tok(ids) + self.pos
        x = self.enc(x, src_key_padding_mask=ids == 0)
        return self.head(x[:, 0])


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else OUT
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(5)
    x = torch.randn(2, 3, 32, 32)
    ids = torch.randint(0, 50, (3, 7))
    # token 0 is padding: rows with 0, 2 and 4 padded steps (CLS never is)
    padded = torch.randint(1, 50, (3, 7))
    padded[1, 5:] = 0
    padded[2, 3:] = 0
    for opset in (13, 14):
        export(f"vit_tiny_op{opset}", vit(), [x], ["image"], ["logits"], opset, out_dir)
        export(f"bert_tiny_op{opset}", randomize(Bert()), [ids], ["ids"], ["logits"], opset, out_dir)
        export(f"bert_masked_op{opset}", randomize(BertMasked()), [padded], ["ids"], ["logits"], opset, out_dir)


if __name__ == "__main__":
    main()
