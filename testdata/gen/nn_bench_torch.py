#!/usr/bin/env python3
"""Times the shapes of nn/bench_test.go (BenchmarkConv2DStep,
BenchmarkDenseStep) on PyTorch CPU with 2 threads: forward + backward with
parameter and input gradients, float32. Prints ms per step."""
import time

import torch

torch.set_num_threads(2)
torch.manual_seed(0)


def bench(name, layer, x, reps=30):
    x = x.requires_grad_(True)
    seed = torch.full_like(layer(x), 1e-3)
    for _ in range(3):
        layer.zero_grad()
        layer(x).backward(seed)
    t = time.perf_counter()
    for _ in range(reps):
        layer.zero_grad()
        x.grad = None
        layer(x).backward(seed)
    ms = (time.perf_counter() - t) / reps * 1e3
    print(f"{name}: {ms:.3f} ms/step (torch {torch.__version__}, 2 threads)")


bench("Conv2DStep", torch.nn.Conv2d(16, 32, 3, padding=1), torch.rand(32, 16, 32, 32))
bench("DenseStep", torch.nn.Linear(512, 512), torch.rand(128, 512), reps=200)
