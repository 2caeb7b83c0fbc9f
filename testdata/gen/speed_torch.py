#!/usr/bin/env python3
"""PyTorch CPU timings (2 threads, float32) for the shapes of
nn/speed_bench_test.go; keep the two in step. Prints one JSON object
{name: ms_per_iter} (median of 5 rounds), names as the Go benchmarks.

With --export DIR it also writes DIR/<name>.onnx for the inference models
and the square matmuls, for testdata/gen/speed_ort.js."""
import argparse
import json
import os
import statistics
import time

import torch
from torch import nn

torch.set_num_threads(2)
torch.manual_seed(0)
BATCH = 32

GEMMS = [  # name, transA, transB, m, n, k (as BenchmarkSgemm)
    ("256", False, False, 256, 256, 256),
    ("512", False, False, 512, 512, 512),
    ("1024", False, False, 1024, 1024, 1024),
    ("cnn_conv1_fwd", False, False, 32, 1024, 27),
    ("cnn_conv2_fwd", False, False, 64, 256, 288),
    ("res_conv_fwd", False, False, 64, 784, 576),
    ("res_conv_dW_NT", False, True, 64, 576, 784),
]


def cnn():
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 8 * 8, 128), nn.ReLU(), nn.Linear(128, 10))


class ResBlock(nn.Module):
    def __init__(self, c=64):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.c2, self.b2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        y = torch.relu(self.b1(self.c1(x)))
        return torch.relu(self.b2(self.c2(y)) + x)


class MobileBlock(nn.Module):
    def __init__(self, c=32, e=192):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c, e, 1, bias=False), nn.BatchNorm2d(e), nn.ReLU6(),
            nn.Conv2d(e, e, 3, padding=1, groups=e, bias=False), nn.BatchNorm2d(e), nn.ReLU6(),
            nn.Conv2d(e, c, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        return self.body(x) + x


class MatMul(nn.Module):
    def forward(self, a, b):
        return a @ b


def timeit(f, min_time=0.3):
    f()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min_time / 3 or n < 2:
        f()
        n += 1
    per = (time.perf_counter() - t0) / n
    reps = max(2, int(min_time / per))
    rounds = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(reps):
            f()
        rounds.append((time.perf_counter() - t) / reps * 1e3)
    return statistics.median(rounds)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--export", help="directory for the ONNX models")
    args = ap.parse_args()
    res = {}
    onnx_models = {}
    for name, ta, tb, m, n, k in GEMMS:
        a = torch.rand(k, m).t() if ta else torch.rand(m, k)
        b = torch.rand(n, k).t() if tb else torch.rand(k, n)
        c = torch.empty(m, n)
        res["Sgemm/" + name] = timeit(lambda: torch.mm(a, b, out=c))
        if not ta and not tb and m == n == k:
            onnx_models["Sgemm/" + name] = (MatMul(), (a.contiguous(), b.contiguous()))

    x = torch.rand(BATCH, 3, 32, 32) * 2 - 1
    net = cnn().eval()
    head = nn.Sequential(net, nn.Softmax(dim=-1)).eval()
    with torch.no_grad():
        res["SpeedCNNInfer"] = timeit(lambda: head(x))
    onnx_models["SpeedCNNInfer"] = (head, (x,))

    train = cnn().train()
    opt = torch.optim.SGD(train.parameters(), lr=0.01)
    y = torch.arange(BATCH) % 10
    lossf = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        lossf(train(x), y).backward()
        opt.step()
    res["SpeedCNNTrain"] = timeit(step)

    for name, mod, shape in [("SpeedResBlockInfer", ResBlock(), (BATCH, 64, 28, 28)),
                             ("SpeedMobileBlockInfer", MobileBlock(), (BATCH, 32, 28, 28))]:
        mod.eval()
        xi = torch.rand(*shape) * 2 - 1
        with torch.no_grad():
            res[name] = timeit(lambda: mod(xi))
        onnx_models[name] = (mod, (xi,))

    lstm = nn.LSTM(64, 128, batch_first=True)
    xs = (torch.rand(BATCH, 50, 64) * 2 - 1).requires_grad_(True)
    seed = torch.full((BATCH, 50, 128), 1e-3)

    def lstm_step():
        lstm.zero_grad(set_to_none=True)
        xs.grad = None
        lstm(xs)[0].backward(seed)
    res["SpeedLSTMStep"] = timeit(lstm_step)

    if args.export:
        os.makedirs(args.export, exist_ok=True)
        for name, (mod, inputs) in onnx_models.items():
            path = os.path.join(args.export, name.replace("/", "_") + ".onnx")
            torch.onnx.export(mod, inputs, path, opset_version=13,
                              input_names=[f"in{i}" for i in range(len(inputs))])
            res.setdefault("_onnx", {})[name] = path
    res["_version"] = f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    print(json.dumps(res))


if __name__ == "__main__":
    main()
