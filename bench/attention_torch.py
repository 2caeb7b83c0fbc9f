#!/usr/bin/env python3
"""Times one forward + backward of torch.nn.MultiheadAttention (batch 8, 64
steps, width 256, 8 heads, batch_first), the shape of the Go benchmark
BenchmarkAttentionStep (nn/attention_bench_test.go), with 2 threads.
Prints ms per step (median of 5 rounds).

Usage: /usr/bin/python3 bench/attention_torch.py
"""
import time

import torch

torch.set_num_threads(2)
torch.manual_seed(0)
m = torch.nn.MultiheadAttention(256, 8, batch_first=True)
x = torch.randn(8, 64, 256, requires_grad=True)
dy = torch.full((8, 64, 256), 1e-3)


def step():
    y, _ = m(x, x, x, need_weights=False)
    y.backward(dy)


for _ in range(3):
    step()
rounds = []
for _ in range(5):
    t = time.perf_counter()
    for _ in range(10):
        step()
    rounds.append((time.perf_counter() - t) / 10 * 1000)
rounds.sort()
print("torch MultiheadAttention forward+backward: %.2f ms/step" % rounds[2])
