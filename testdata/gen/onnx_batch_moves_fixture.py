#!/usr/bin/env python3
"""Write testdata/onnx/batch_moves_op13.onnx (+ .json, the format of
onnx_fixtures.py): a PyTorch 1.13 export whose graph moves, contracts,
slices and gathers the batch axis, so that it only imports through the
general tensor ops. Input x is [N, 4] (N symbolic), y is a fixed [4, 3]
matrix input (no batch). Outputs:

  gram    x.transpose(0, 1) @ x          [4, 4]   the batch contracted
  mm      torch.mm(x, y)                  [N, 3]   a product of two inputs
  proj    x @ gram                        [N, 4]   every row depends on the batch
  head    x[:2]                           [2, 4]   a slice of the batch axis
  last    x[-1]                           [4]      a gather on the batch axis
  ends    torch.cat([x[:1], x[-1:]])      [2, 4]   a concat of batch slices
  rep     x.unsqueeze(0).repeat(2, 1, 1)  [2, N, 4] the batch on axis 1
  pairs   x.reshape(-1, 2)                [2N, 2]  the batch merged
  flat    x.flatten()                     [4N]     merged by Flatten (Reshape)
  first2, rest3  x.split([2, 3])          [2, 4], [3, 4]  Split of the batch axis

Usage (repository root): /usr/bin/python3 testdata/gen/onnx_batch_moves_fixture.py [OUTDIR]
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_fixtures import OUT, write_json  # noqa: E402

OUTPUTS = ["gram", "mm", "proj", "head", "last", "ends", "rep", "pairs", "flat", "first2", "rest3"]


class BatchMoves(torch.nn.Module):
    def forward(self, x, y):
        gram = x.transpose(0, 1) @ x
        return (gram, torch.mm(x, y), x @ gram, x[:2], x[-1], torch.cat([x[:1], x[-1:]]),
                x.unsqueeze(0).repeat(2, 1, 1), x.reshape(-1, 2), x.flatten()) + x.split([2, 3])


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else OUT
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(3)
    x, y = torch.randn(5, 4), torch.randn(4, 3)
    model = BatchMoves().eval()
    with torch.no_grad():
        ys = model(x, y)
    path = os.path.join(out_dir, "batch_moves_op13.onnx")
    torch.onnx.export(model, (x, y), path, input_names=["x", "y"], output_names=OUTPUTS, opset_version=13,
                      dynamic_axes={"x": {0: "N"}}, do_constant_folding=True)
    write_json("batch_moves_op13", [("x", x.numpy()), ("y", y.numpy())],
               [(n, t.numpy()) for n, t in zip(OUTPUTS, ys)], 13, out_dir)


if __name__ == "__main__":
    main()
